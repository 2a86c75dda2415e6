"""The /_sim control API drives the simulation from another process."""

from __future__ import annotations

import asyncio
import sys

import aiohttp
from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.local_api import LocalBotApi


async def test_drive_a_user_and_list_messages(bot, api: LocalBotApi) -> None:
    async with aiohttp.ClientSession(base_url=api.base_url) as http:
        async def call(verb: str, path: str, body: dict | None = None) -> dict:
            async with http.request(verb, path, json=body) as response:
                return await response.json()

        info = await call("GET", "/_sim")
        assert info["result"]["token"] == api.token
        await call("POST", "/_sim/users", {"user_id": 77, "first_name": "Eva"})
        sent = await call("POST", "/_sim/users/77/text", {"text": "/start team_1"})
        assert sent["ok"]
        assert sent["result"]["update_id"] == 1
        assert (await call("GET", "/_sim/updates"))["result"]["pending_updates"] == 1

        (update,) = await bot.get_updates()
        assert update.message is not None
        assert update.message.text == "/start team_1"
        keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Godt", callback_data="mood:3")]])
        await bot.send_message(77, "Hvordan går det?", reply_markup=keyboard)

        listed = await call("GET", "/_sim/chats/77/messages")
        assert [m["text"] for m in listed["result"]] == ["Hvordan går det?"]
        pressed = await call("POST", "/_sim/users/77/press", {"text": "Godt"})
        assert pressed["ok"]
        missing = await call("POST", "/_sim/users/77/press", {"text": "Dårligt"})
        assert not missing["ok"]
        assert "Godt" in missing["error"]

        waiter = asyncio.create_task(call("POST", "/_sim/chats/77/wait",
                                          {"contains": "Tak", "timeout": 5}))
        await bot.send_message(77, "Tak!")
        assert (await waiter)["result"]["text"] == "Tak!"

        await call("POST", "/_sim/users/77/block")
        calls = (await call("GET", "/_sim/calls"))["result"]
        assert [c["method"] for c in calls][-2:] == ["sendMessage", "sendMessage"]

        fault = await call("POST", "/_sim/faults", {"kind": "5xx", "count": 2, "status": 502})
        assert fault["result"]["remaining"] == 2
        assert (await call("DELETE", "/_sim/faults"))["ok"]
        limits = await call("PUT", "/_sim/limits", {"enabled": False})
        assert limits["result"]["enabled"] is False


async def test_run_as_a_separate_process() -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.local_api", "--port", "0",
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        url_line = await asyncio.wait_for(process.stdout.readline(), 20)
        token_line = await asyncio.wait_for(process.stdout.readline(), 5)
        root = url_line.decode().strip().split("=", 1)[1]
        token = token_line.decode().strip().split("=", 1)[1]
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{root}/bot{token}/getMe") as response:
                body = await response.json()
            assert body["ok"]
            assert body["result"]["is_bot"]
            async with http.post(f"{root}/botWRONG/getMe") as response:
                assert response.status == 401
                assert await response.json() == {
                    "ok": False, "error_code": 401, "description": "Unauthorized",
                }
    finally:
        process.terminate()
        await process.wait()


async def test_json_and_query_string_bodies(api: LocalBotApi, anna: int) -> None:
    base = f"{api.base_url}/bot{api.token}"
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{base}/sendMessage", json={
            "chat_id": anna, "text": "[1]", "reply_markup": {"inline_keyboard": [[
                {"text": "a", "callback_data": "b"}]]}}) as response:
            body = await response.json()
        assert body["result"]["text"] == "[1]"
        assert body["result"]["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "b"
        async with http.get(f"{base}/sendmessage", params={"chat_id": str(anna),
                                                           "text": "42"}) as response:
            body = await response.json()
        assert body["result"]["text"] == "42"
