"""Pseudonymised research exports: check-ins, evaluations, scores, plans, attendance, progress
and prompt paradata, as CSV (long and wide), one XLSX workbook and a codebook, zipped in parts.

No Telegram here: the command line (`bot/cli/export.py`) and the coordinator's chat handler
call `run_export` / `export_for_chat` with a scope from `resolve_scope` / `coordinator_scope`.
See docs/exports.md.
"""

from __future__ import annotations

from dialogs.exports.archive import TELEGRAM_DOCUMENT_LIMIT
from dialogs.exports.run import (
    ExportResult,
    Progress,
    ProgressCallback,
    export_for_chat,
    run_export,
)
from dialogs.exports.scope import ExportError, ExportScope, coordinator_scope, resolve_scope

__all__ = [
    "TELEGRAM_DOCUMENT_LIMIT",
    "ExportError",
    "ExportResult",
    "ExportScope",
    "Progress",
    "ProgressCallback",
    "coordinator_scope",
    "export_for_chat",
    "resolve_scope",
    "run_export",
]
