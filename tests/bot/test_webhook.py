"""``mestring run --webhook`` as a real process: only Telegram, which knows the secret, gets in.

Anyone who can reach the webhook URL could otherwise post updates in another person's name
(their numeric ID is enough) and read that person's data in the replies.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import sqlite3
import sys
from pathlib import Path
from typing import Any

import aiohttp

from bot.local_api import LocalBotApi
from bot.webhook import HEALTH_PATH, SECRET_HEADER

MESTRING = shutil.which("mestring", path=str(Path(sys.executable).parent)) or "mestring"
SECRET = "w" * 20 + "-SECRET_" + "x" * 12
KEY = "k" * 40
ANNA = 5550101


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MESTRING_")}
    return {**clean, "MESTRING_DATA_DIR": str(tmp_path / "data"), **extra}


def _update_from(api: LocalBotApi, user_id: int, text: str) -> dict[str, Any]:
    """What Telegram would post for this person's message (the simulation makes it)."""
    update_id = api.send_text(user_id, text)
    (update,) = [u for u in api.state.updates if u.update_id == update_id]
    api.state.updates.remove(update)
    return update.to_telegram()


async def _until_healthy(http: aiohttp.ClientSession, port: int,
                         process: asyncio.subprocess.Process) -> None:
    async with asyncio.timeout(60):
        while True:
            if process.returncode is not None:
                raise AssertionError(f"mestring run exited with {process.returncode}")
            try:
                async with http.get(f"http://127.0.0.1:{port}{HEALTH_PATH}") as response:
                    if response.status == 200:
                        assert await response.text() == ""  # says nothing about the bot
                        return
            except aiohttp.ClientConnectionError:
                pass
            await asyncio.sleep(0.1)  # polling a starting process, not waiting for time to pass


async def test_webhook_mode_refuses_to_start_without_its_secret(tmp_path: Path) -> None:
    process = await asyncio.create_subprocess_exec(
        MESTRING, "run", "--webhook", "--webhook-url", "https://bot.example.org/telegram",
        env=_env(tmp_path, MESTRING_TELEGRAM_TOKEN="123:abc", MESTRING_SECRET_KEY=KEY),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    _, stderr = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 2
    lines = stderr.decode().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("mestring: MESTRING_WEBHOOK_SECRET is not set")


async def test_a_short_webhook_secret_is_refused_by_name(tmp_path: Path) -> None:
    process = await asyncio.create_subprocess_exec(
        MESTRING, "run", "--webhook", "--webhook-url", "https://bot.example.org/telegram",
        env=_env(tmp_path, MESTRING_TELEGRAM_TOKEN="123:abc", MESTRING_SECRET_KEY=KEY,
                 MESTRING_WEBHOOK_SECRET="short"),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    _, stderr = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 2
    assert stderr.decode().startswith("mestring: MESTRING_WEBHOOK_SECRET must be 32 to 256")
    assert "short" not in stderr.decode()


async def test_forged_updates_get_403_and_change_nothing_telegrams_get_200(
    tmp_path: Path,
) -> None:
    port = _free_port()
    async with LocalBotApi() as api:
        api.add_user(ANNA, "Anna", language_code="da")
        process = await asyncio.create_subprocess_exec(
            MESTRING, "run", "--webhook", "--webhook-url", "https://bot.example.org/telegram",
            "--port", str(port),
            env=_env(tmp_path, MESTRING_TELEGRAM_TOKEN=api.token,
                     MESTRING_TELEGRAM_API_URL=api.base_url, MESTRING_SECRET_KEY=KEY,
                     MESTRING_WEBHOOK_SECRET=SECRET),
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
        )
        try:
            async with aiohttp.ClientSession() as http:
                await _until_healthy(http, port, process)
                registered = [c for c in api.calls if c.method == "setWebhook"]
                assert registered[-1].params["secret_token"] == SECRET
                assert registered[-1].params["url"] == "https://bot.example.org/telegram"

                url = f"http://127.0.0.1:{port}/telegram"
                for headers in ({}, {SECRET_HEADER: "not-the-secret"},
                                {SECRET_HEADER: SECRET[:-1]}):
                    forged = _update_from(api, ANNA, "/mydata")
                    async with http.post(url, json=forged, headers=headers) as response:
                        assert response.status == 403

                genuine = _update_from(api, ANNA, "/help")
                async with http.post(url, json=genuine, headers={SECRET_HEADER: SECRET}) as r:
                    assert r.status == 200
                reply = await api.wait_for_message(ANNA, timeout=30)
        finally:
            process.send_signal(signal.SIGTERM)
            _, stderr = await asyncio.wait_for(process.communicate(), 60)
    # Anna's chat is handled in order: had a forged /mydata got in, its answer came first.
    assert [m.message_id for m in api.messages_to(ANNA)] == [reply.message_id]
    assert "112" in (reply.text or "")
    assert process.returncode == 0, stderr.decode()[-2000:]
    database = sqlite3.connect(tmp_path / "data" / "mestring.sqlite3")
    try:
        assert database.execute("select count(*) from persons").fetchone() == (0,)
    finally:
        database.close()
    assert SECRET not in stderr.decode()
