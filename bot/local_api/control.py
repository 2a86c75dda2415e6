"""HTTP control API under ``/_sim/``: the simulation, driven from another process.

JSON in, JSON out. Errors come back as ``{"ok": false, "error": "..."}`` with status 400 (bad
input / impossible action) or 408 (a wait timed out).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

from bot.local_api.errors import SimulationError
from bot.local_api.limits import Limits

if TYPE_CHECKING:
    from bot.local_api.app import LocalBotApi

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _ok(result: Any) -> web.Response:
    return web.Response(text=json.dumps({"ok": True, "result": result}, ensure_ascii=False),
                        content_type="application/json")


def _fail(message: str, status: int = 400) -> web.Response:
    return web.Response(text=json.dumps({"ok": False, "error": message}, ensure_ascii=False),
                        status=status, content_type="application/json")


async def _body(request: web.Request) -> dict[str, Any]:
    if not request.can_read_body:
        return {}
    body = await request.json()
    if not isinstance(body, dict):
        raise SimulationError("the request body must be a JSON object")
    return body


def add_control_routes(app: web.Application, api: LocalBotApi) -> None:
    def route(handler: Callable[[web.Request, dict[str, Any]], Awaitable[Any]]) -> Handler:
        async def wrapped(request: web.Request) -> web.StreamResponse:
            try:
                return _ok(await handler(request, await _body(request)))
            except TimeoutError as exc:
                return _fail(str(exc), 408)
            except (SimulationError, KeyError, TypeError, ValueError) as exc:
                return _fail(f"{type(exc).__name__}: {exc}")

        return wrapped

    def uid(request: web.Request) -> int:
        return int(request.match_info["user_id"])

    async def info(_: web.Request, __: dict[str, Any]) -> Any:
        return {"token": api.token, "base_url": api.base_url, "bot": api.state.bot.to_telegram()}

    async def add_user(_: web.Request, b: dict[str, Any]) -> Any:
        user = api.add_user(int(b["user_id"]), str(b["first_name"]),
                            last_name=b.get("last_name"), username=b.get("username"),
                            language_code=b.get("language_code"))
        return user.to_telegram()

    async def add_group(_: web.Request, b: dict[str, Any]) -> Any:
        return api.add_group(int(b["chat_id"]), str(b["title"])).to_telegram()

    async def user_state(request: web.Request, _: dict[str, Any]) -> Any:
        action = request.match_info["action"]
        if action not in ("block", "unblock", "deactivate"):
            raise SimulationError(f"unknown user state action {action!r}")
        update_id = getattr(api, action)(uid(request))
        return {"update_id": update_id}  # the my_chat_member update, if Telegram sends one

    async def add_bot(request: web.Request, b: dict[str, Any]) -> Any:
        member, message = api.add_bot_to_group(uid(request), int(b["chat_id"]))
        return {"update_ids": [member, message]}

    async def text(request: web.Request, b: dict[str, Any]) -> Any:
        return {"update_id": api.send_text(uid(request), str(b["text"]),
                                           chat_id=b.get("chat_id"))}

    async def press(request: web.Request, b: dict[str, Any]) -> Any:
        if "callback_data" in b:
            update_id = api.press_button(uid(request), int(b["message_id"]),
                                         str(b["callback_data"]))
        else:
            update_id = api.press_button_by_text(uid(request), str(b["text"]),
                                                 message_id=b.get("message_id"),
                                                 chat_id=b.get("chat_id"))
        return {"update_id": update_id}

    async def edit(request: web.Request, b: dict[str, Any]) -> Any:
        return {"update_id": api.edit_text(uid(request), int(b["message_id"]), str(b["text"]))}

    async def media(request: web.Request, b: dict[str, Any]) -> Any:
        kind = request.match_info["kind"]
        if kind == "sticker":
            return {"update_id": api.send_sticker(uid(request), chat_id=b.get("chat_id"))}
        if kind == "photo":
            return {"update_id": api.send_photo(uid(request), caption=b.get("caption"),
                                                chat_id=b.get("chat_id"))}
        if kind == "voice":
            return {"update_id": api.send_voice(uid(request), chat_id=b.get("chat_id"))}
        raise SimulationError(f"unknown media kind {kind!r}")

    async def messages(request: web.Request, _: dict[str, Any]) -> Any:
        chat_id = int(request.match_info["chat_id"])
        deleted = request.query.get("include_deleted") == "1"
        return [m.summary() for m in api.messages_to(chat_id, include_deleted=deleted)]

    async def wait(request: web.Request, b: dict[str, Any]) -> Any:
        chat_id = int(request.match_info["chat_id"])
        contains = b.get("contains")
        message = await api.wait_for_message(
            chat_id,
            (lambda m: contains in (m.text or m.caption or "")) if contains else None,
            timeout=float(b.get("timeout", 5.0)),
            since=b.get("since"),
            include_edits=bool(b.get("include_edits", False)),
        )
        return message.summary()

    async def calls(_: web.Request, __: dict[str, Any]) -> Any:
        return [dataclasses.asdict(c) for c in api.calls]

    async def pending(_: web.Request, __: dict[str, Any]) -> Any:
        return {"pending_updates": api.pending_updates(), "mark": api.mark()}

    async def answers(_: web.Request, __: dict[str, Any]) -> Any:
        return [dataclasses.asdict(q) for q in api.callback_answers]

    async def commands(_: web.Request, __: dict[str, Any]) -> Any:
        return [{"scope": key, "language_code": lang, "commands": cmds}
                for (key, lang), cmds in api.state.commands.items()]

    async def add_fault(_: web.Request, b: dict[str, Any]) -> Any:
        kind = b.get("kind")
        methods = b.get("methods")
        count = b.get("count")
        if kind == "429":
            fault = api.faults.storm_429(
                count, duration=b.get("duration"), retry_after=int(b.get("retry_after", 5)),
                **({"methods": methods} if methods is not None else {}),
            )
        elif kind == "5xx":
            fault = api.faults.server_errors(int(count or 1), status=int(b.get("status", 500)),
                                             methods=methods)
        elif kind == "slow":
            fault = api.faults.slow(int(count or 1), delay=float(b["delay"]), methods=methods)
        elif kind == "drop":
            fault = api.faults.drop(int(count or 1), methods=methods)
        else:
            raise SimulationError("kind must be one of 429, 5xx, slow, drop")
        shown = dataclasses.asdict(fault)
        shown["methods"] = sorted(fault.methods) if fault.methods is not None else None
        return shown

    async def clear_faults(_: web.Request, __: dict[str, Any]) -> Any:
        api.faults.clear()
        return True

    async def set_limits(_: web.Request, b: dict[str, Any]) -> Any:
        api.set_limits(Limits(**b))
        return dataclasses.asdict(api.limits)

    r = app.router
    r.add_get("/_sim", route(info))
    r.add_post("/_sim/users", route(add_user))
    r.add_post("/_sim/groups", route(add_group))
    r.add_post("/_sim/users/{user_id}/{action:block|unblock|deactivate}", route(user_state))
    r.add_post("/_sim/users/{user_id}/add_bot", route(add_bot))
    r.add_post("/_sim/users/{user_id}/text", route(text))
    r.add_post("/_sim/users/{user_id}/press", route(press))
    r.add_post("/_sim/users/{user_id}/edit", route(edit))
    r.add_post("/_sim/users/{user_id}/media/{kind}", route(media))
    r.add_get("/_sim/chats/{chat_id}/messages", route(messages))
    r.add_post("/_sim/chats/{chat_id}/wait", route(wait))
    r.add_get("/_sim/calls", route(calls))
    r.add_get("/_sim/updates", route(pending))
    r.add_get("/_sim/callback_answers", route(answers))
    r.add_get("/_sim/commands", route(commands))
    r.add_post("/_sim/faults", route(add_fault))
    r.add_delete("/_sim/faults", route(clear_faults))
    r.add_put("/_sim/limits", route(set_limits))
