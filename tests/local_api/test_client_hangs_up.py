"""A client that hangs up half-way through its request (a bot stopping while its getUpdates is
on the way) is recorded as a lost call, not reported as a failure of the server."""

from __future__ import annotations

import asyncio
import logging
from urllib.parse import urlsplit

import pytest

from bot.local_api import LocalBotApi


async def test_a_request_cut_off_by_the_client_is_no_server_error(
    api: LocalBotApi, caplog: pytest.LogCaptureFixture
) -> None:
    address = urlsplit(api.base_url)
    assert address.hostname is not None
    assert address.port is not None
    reader, writer = await asyncio.open_connection(address.hostname, address.port)
    writer.write((f"POST /bot{api.token}/getUpdates HTTP/1.1\r\nHost: x\r\n"
                  "Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"timeo")
                 .encode())
    await writer.drain()
    with caplog.at_level(logging.ERROR):
        writer.close()  # 7 of the 100 bytes sent
        await writer.wait_closed()
        async with asyncio.timeout(5):
            while not api.calls:
                await api.state.changed_event().wait()
    assert [(c.method, c.ok, c.description) for c in api.calls] == [
        ("getUpdates", False, "connection lost by the client")]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    del reader
