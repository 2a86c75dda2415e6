"""Pseudonymised research exports: check-ins, evaluations, scores, plans, attendance, progress
and prompt paradata, as CSV (long and wide), one XLSX workbook and a codebook, zipped in parts.

No Telegram here: the command line (`bot/cli/export.py`) and the coordinator's chat handler
call `run_export` / `export_for_chat` with a scope from `resolve_scope` / `coordinator_scope`.
See docs/exports.md.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dialogs.exports.archive import TELEGRAM_DOCUMENT_LIMIT
    from dialogs.exports.run import (
        ExportResult,
        Progress,
        ProgressCallback,
        export_for_chat,
        run_export,
    )
    from dialogs.exports.scope import ExportError, ExportScope, coordinator_scope, resolve_scope

# Where each name lives. They are imported on first use (PEP 562), not with the package: the
# bot and every command line import this package for its scope and errors, and only an export
# needs the writers, the codebook and the dataset queries behind ``run``.
_HOMES = {
    "TELEGRAM_DOCUMENT_LIMIT": "archive",
    "ExportResult": "run",
    "Progress": "run",
    "ProgressCallback": "run",
    "export_for_chat": "run",
    "run_export": "run",
    "ExportError": "scope",
    "ExportScope": "scope",
    "coordinator_scope": "scope",
    "resolve_scope": "scope",
}

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


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{home}"), name)
