"""A worker's Telegram clients share one TLS context: loading the CA bundle costs about a
tenth of a second of every start, once instead of once per client, and not at all for a Bot
API served on plain HTTP."""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

import pytest

from bot.sandbox import open_sandbox
from bot.settings import Settings
from bot.telegram_http import REPLY_CONNECTIONS, UPDATE_CONNECTIONS, TelegramHttp
from storage.clock import FrozenClock

STRANGER = 4242


@pytest.fixture
def bundle_loads(monkeypatch: pytest.MonkeyPatch) -> list[ssl.SSLContext]:
    """Every TLS context made with the CA bundle loaded into it."""
    made: list[ssl.SSLContext] = []
    real = ssl.create_default_context

    def counted(*args: Any, **kwargs: Any) -> ssl.SSLContext:
        made.append(real(*args, **kwargs))
        return made[-1]

    monkeypatch.setattr(ssl, "create_default_context", counted)
    return made


def test_telegrams_https_api_gets_the_ca_bundle_once_for_every_client(
    bundle_loads: list[ssl.SSLContext],
) -> None:
    http = TelegramHttp.for_api("https://api.telegram.org")
    for connections in (REPLY_CONNECTIONS, UPDATE_CONNECTIONS, 8):  # replies, updates, outbox
        http.request(connections)
    assert len(bundle_loads) == 1
    assert http.tls.verify_mode == ssl.CERT_REQUIRED
    assert http.tls.check_hostname
    assert http.tls.cert_store_stats()["x509_ca"] > 0


def test_a_plain_http_api_loads_no_bundle_and_its_context_trusts_nobody(
    bundle_loads: list[ssl.SSLContext],
) -> None:
    http = TelegramHttp.for_api("http://127.0.0.1:8081")
    assert bundle_loads == []
    # Should anything go to an HTTPS address with it, verification fails: never unverified.
    assert http.tls.verify_mode == ssl.CERT_REQUIRED
    assert http.tls.check_hostname
    assert http.tls.cert_store_stats()["x509_ca"] == 0


async def test_a_worker_on_a_plain_http_api_loads_no_bundle_and_answers(
    settings: Settings, clock: FrozenClock, tmp_path: Path, bundle_loads: list[ssl.SSLContext],
) -> None:
    async with open_sandbox(settings=settings, clock=clock,
                            database_url=f"sqlite:///{tmp_path / 'http.sqlite3'}") as sandbox:
        # Updates, replies and the outbox: three clients, no bundle (the local API is HTTP).
        sandbox.api.add_user(STRANGER, "Kim", language_code="en")
        await sandbox.send_text(STRANGER, "/help")
        answer = sandbox.api.last_message_to(STRANGER)
        assert answer is not None
        assert (answer.text or "").startswith("Help")
    assert bundle_loads == []
