"""HTTP layer: Telegram's URL scheme, request decoding, the response envelope and faults."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from aiohttp import web

from bot.local_api.errors import ApiError, too_many_requests
from bot.local_api.faults import FaultPlan
from bot.local_api.methods import BotApiMethods
from bot.local_api.params import CANONICAL, Upload, decode_params
from bot.local_api.state import ApiCall, State

log = logging.getLogger(__name__)

MAX_REQUEST_BYTES = 60 * 1024 * 1024  # above Telegram's 50 MB upload limit


def json_response(body: dict[str, Any], status: int = 200) -> web.Response:
    return web.Response(
        text=json.dumps(body, ensure_ascii=False),
        status=status,
        content_type="application/json",
    )


def error_response(error: ApiError) -> web.Response:
    return json_response(error.envelope(), status=error.error_code)


class DroppedConnection(Exception):
    """Raised after the transport was closed on purpose: nothing must be written."""


class BotApiHttp:
    """``/bot<token>/<method>`` and ``/file/bot<token>/<path>`` for one bot token."""

    def __init__(self, token: str, state: State, methods: BotApiMethods, faults: FaultPlan):
        self.token = token
        self.state = state
        self.methods = methods
        self.faults = faults

    def add_routes(self, app: web.Application) -> None:
        app.router.add_route("*", r"/bot{token:[^/]*}/{method:[^/]+}", self.handle_method)
        app.router.add_get(r"/file/bot{token:[^/]*}/{path:.+}", self.handle_file)

    async def handle_method(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["token"] != self.token:
            return error_response(ApiError(401, "Unauthorized"))
        name = request.match_info["method"]
        method = CANONICAL.get(name.lower())
        if method is None:
            self.state.record(ApiCall(name, {}, False, 404, "Not Found", self.state.clock()))
            return error_response(ApiError(404, "Not Found"))
        params: dict[str, Any] = {}
        try:
            try:
                raw, uploads = await read_request(request)
            except ConnectionResetError:
                # The client hung up before its request was whole (a bot that stops while
                # its getUpdates is on the way): nobody to answer, and no fault of the server.
                self._record(method, params, ApiError(0, "connection lost by the client"))
                return web.Response(status=204)
            params = decode_params(method, raw, uploads)
            await self._apply_faults(request, method)
            result = await self.methods.handlers[method](params)
        except DroppedConnection:
            self._record(method, params, ApiError(0, "connection dropped (fault)"))
            # The transport is already closed; aiohttp writes nothing to a closed transport.
            return web.Response(status=204)
        except ApiError as error:
            self._record(method, params, error)
            return error_response(error)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a bug in the simulator must still answer like a server
            log.exception("local Bot API failed on %s", method)
            error = ApiError(500, f"Internal Server Error: {exc!r}")
            self._record(method, params, error)
            return error_response(error)
        self._record(method, params, None)
        return json_response({"ok": True, "result": result})

    async def _apply_faults(self, request: web.Request, method: str) -> None:
        for fault in self.faults.take(method.lower()):
            if fault.kind == "slow":
                await asyncio.sleep(fault.delay)
            elif fault.kind == "drop":
                if request.transport is not None:
                    request.transport.abort()
                raise DroppedConnection
            elif fault.kind == "5xx":
                raise ApiError(fault.status, fault.description)
            else:
                raise too_many_requests(fault.retry_after)

    def _record(self, method: str, params: dict[str, Any], error: ApiError | None) -> None:
        shown = {k: _describe(v) for k, v in params.items()}
        if error is None:
            call = ApiCall(method, shown, True, at=self.state.clock())
        else:
            call = ApiCall(method, shown, False, error.error_code, error.description,
                           self.state.clock())
        self.state.record(call)

    async def handle_file(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["token"] != self.token:
            return error_response(ApiError(401, "Unauthorized"))
        stored = self.state.files.by_path(request.match_info["path"])
        if stored is None:
            return error_response(ApiError(404, "Not Found"))
        return web.Response(body=stored.data,
                            content_type=stored.mime_type or "application/octet-stream")


async def read_request(request: web.Request) -> tuple[dict[str, Any], dict[str, Upload]]:
    """Query string, then form / multipart / JSON body (body wins), plus uploaded files."""
    raw: dict[str, Any] = dict(request.query)
    uploads: dict[str, Upload] = {}
    if not request.can_read_body:
        return raw, uploads
    ctype = request.content_type
    if ctype == "application/json":
        try:
            body = await request.json()
        except ValueError:
            raise ApiError(400, "Bad Request: can't parse JSON object") from None
        if not isinstance(body, dict):
            raise ApiError(400, "Bad Request: can't parse JSON object")
        raw.update(body)
    elif ctype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        form = await request.post()
        for key, value in form.items():
            if isinstance(value, web.FileField):
                uploads[key] = Upload(key, value.filename, value.content_type, value.file.read())
            else:
                raw[key] = value
    return raw, uploads


def _describe(value: Any) -> Any:
    if isinstance(value, Upload):
        return {"upload": value.filename, "size": len(value.data)}
    return value
