"""The HTTP clients a worker talks to Telegram with, all on one TLS context.

PTB builds an httpx client per request slot (updates, replies) and the outbox has its own; each
client would load the CA bundle into a TLS context of its own, about a tenth of a second of
start-up apiece. A TLS context is meant to be shared by many connections, so the worker makes
one and hands it to every client. A Bot API served on plain HTTP (a self-hosted server on the
worker's host, the demo, the tests) needs none: nothing is loaded for it.
"""

from __future__ import annotations

import ssl
from urllib.parse import urlsplit

import httpx
from telegram.request import HTTPXRequest

# PTB's own defaults for an Application's two request slots (ApplicationBuilder).
REPLY_CONNECTIONS = 256
UPDATE_CONNECTIONS = 1


class TelegramHttp:
    """Makes PTB request objects that share this worker's one TLS context."""

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        # httpx.create_ssl_context honours SSL_CERT_FILE / SSL_CERT_DIR as each client would.
        self.tls = tls if tls is not None else httpx.create_ssl_context()

    @classmethod
    def for_api(cls, root_url: str) -> TelegramHttp:
        """For the Bot API at ``root_url``: over HTTPS (Telegram's own) the CA bundle, once;
        over plain HTTP no TLS is ever opened, so no bundle is loaded (0.05–0.1 s of each
        start). That context trusts no certificate at all: a request that somehow went to an
        HTTPS address would fail, never go unverified."""
        if urlsplit(root_url).scheme == "http":
            return cls(ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT))
        return cls()

    def request(self, connections: int, *, timeout: float | None = None) -> HTTPXRequest:
        """A request object with ``connections`` pooled connections; ``timeout`` (seconds)
        for connect, read, write and pool alike, or PTB's defaults when None."""
        timeouts = {} if timeout is None else {
            "connect_timeout": timeout, "read_timeout": timeout, "write_timeout": timeout,
            "pool_timeout": timeout}
        return HTTPXRequest(connection_pool_size=connections,
                            httpx_kwargs={"verify": self.tls}, **timeouts)
