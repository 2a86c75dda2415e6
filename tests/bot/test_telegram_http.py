"""A worker's Telegram clients share one TLS context: loading the CA bundle costs about a
tenth of a second of every start, once instead of once per client."""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

import pytest

from bot.sandbox import open_sandbox
from bot.settings import Settings
from storage.clock import FrozenClock

STRANGER = 4242


async def test_a_worker_loads_the_ca_bundle_once_and_still_answers(
    settings: Settings, clock: FrozenClock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    made: list[ssl.SSLContext] = []
    real = ssl.create_default_context

    def counted(*args: Any, **kwargs: Any) -> ssl.SSLContext:
        made.append(real(*args, **kwargs))
        return made[-1]

    monkeypatch.setattr(ssl, "create_default_context", counted)
    async with open_sandbox(settings=settings, clock=clock,
                            database_url=f"sqlite:///{tmp_path / 'http.sqlite3'}") as sandbox:
        # Updates, replies and the outbox: three clients, one context.
        assert len(made) == 1
        sandbox.api.add_user(STRANGER, "Kim", language_code="en")
        await sandbox.send_text(STRANGER, "/help")
        answer = sandbox.api.last_message_to(STRANGER)
        assert answer is not None
        assert (answer.text or "").startswith("Help")
    assert len(made) == 1
