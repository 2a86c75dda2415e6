"""Request parameter decoding by each method's declared parameter types.

PTB sends form fields whose values are strings, with non-string values JSON-encoded. Guessing
("does it look like JSON?") would turn a text such as ``[1, 2]`` or ``"42"`` into something
else, so every parameter is decoded by the type the Bot API declares for it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

from bot.local_api.errors import bad_request

ParamType = Literal["str", "int", "float", "bool", "json", "chat_id", "file"]


@dataclass(frozen=True)
class Upload:
    """A file part of a multipart request."""

    field_name: str
    filename: str | None
    content_type: str | None
    data: bytes


_SEND_COMMON: dict[str, ParamType] = {
    "chat_id": "chat_id",
    "message_thread_id": "int",
    "business_connection_id": "str",
    "parse_mode": "str",
    "reply_markup": "json",
    "disable_notification": "bool",
    "protect_content": "bool",
    "reply_parameters": "json",
    "reply_to_message_id": "int",
    "allow_sending_without_reply": "bool",
    "message_effect_id": "str",
    "allow_paid_broadcast": "bool",
}

_EDIT_TARGET: dict[str, ParamType] = {
    "chat_id": "chat_id",
    "message_id": "int",
    "inline_message_id": "str",
    "business_connection_id": "str",
    "reply_markup": "json",
}

_SCOPE: dict[str, ParamType] = {"scope": "json", "language_code": "str"}

SCHEMAS: dict[str, dict[str, ParamType]] = {
    "getMe": {},
    "logOut": {},
    "close": {},
    "getUpdates": {"offset": "int", "limit": "int", "timeout": "float",
                   "allowed_updates": "json"},
    "setWebhook": {"url": "str", "certificate": "file", "ip_address": "str",
                   "max_connections": "int", "allowed_updates": "json",
                   "drop_pending_updates": "bool", "secret_token": "str"},
    "deleteWebhook": {"drop_pending_updates": "bool"},
    "getWebhookInfo": {},
    "setMyCommands": {"commands": "json", **_SCOPE},
    "getMyCommands": dict(_SCOPE),
    "deleteMyCommands": dict(_SCOPE),
    "sendMessage": {**_SEND_COMMON, "text": "str", "entities": "json",
                    "link_preview_options": "json",
                    "disable_web_page_preview": "bool"},
    "sendPhoto": {**_SEND_COMMON, "photo": "file", "caption": "str",
                  "caption_entities": "json", "has_spoiler": "bool",
                  "show_caption_above_media": "bool"},
    "sendDocument": {**_SEND_COMMON, "document": "file", "thumbnail": "file", "caption": "str",
                     "caption_entities": "json",
                     "disable_content_type_detection": "bool"},
    "editMessageText": {**_EDIT_TARGET, "text": "str", "parse_mode": "str", "entities": "json",
                        "link_preview_options": "json",
                        "disable_web_page_preview": "bool"},
    "editMessageCaption": {**_EDIT_TARGET, "caption": "str", "parse_mode": "str",
                           "caption_entities": "json",
                           "show_caption_above_media": "bool"},
    "editMessageReplyMarkup": dict(_EDIT_TARGET),
    "deleteMessage": {"chat_id": "chat_id", "message_id": "int"},
    "answerCallbackQuery": {"callback_query_id": "str", "text": "str", "show_alert": "bool",
                            "url": "str", "cache_time": "int"},
    "answerInlineQuery": {"inline_query_id": "str", "results": "json", "cache_time": "int",
                          "is_personal": "bool", "next_offset": "str",
                          "button": "json"},
    "sendChatAction": {"chat_id": "chat_id", "action": "str", "message_thread_id": "int",
                       "business_connection_id": "str"},
    "leaveChat": {"chat_id": "chat_id"},
    "getChat": {"chat_id": "chat_id"},
    "getFile": {"file_id": "str"},
}

# Telegram matches method names case-insensitively.
CANONICAL = {name.lower(): name for name in SCHEMAS}


def decode_params(
    method: str, raw: dict[str, Any], uploads: dict[str, Upload]
) -> dict[str, Any]:
    """Decode ``raw`` (strings from a form/query, or typed values from JSON) for ``method``.

    Unknown parameters are ignored, as Telegram ignores them. File parameters become either a
    string (file_id / URL / ``attach://name``) or an ``Upload``.
    """
    schema = SCHEMAS[method]
    params: dict[str, Any] = {}
    for name, kind in schema.items():
        if kind == "file" and name in uploads:
            params[name] = uploads[name]
            continue
        if name not in raw:
            continue
        value = raw[name]
        if kind == "file" and isinstance(value, str) and value.startswith("attach://"):
            attached = uploads.get(value[len("attach://") :])
            if attached is None:
                raise bad_request(f"can't find attached file \"{value[len('attach://'):]}\"")
            params[name] = attached
            continue
        params[name] = _decode(name, kind, value)
    return params


def _decode(name: str, kind: ParamType, value: Any) -> Any:
    if kind in ("str", "file"):
        if isinstance(value, str):
            return value
        if isinstance(value, bool):
            return "true" if value else "false"
        return json.dumps(value) if isinstance(value, dict | list) else str(value)
    if kind == "int":
        return _int(name, value)
    if kind == "float":
        try:
            return float(value)
        except (TypeError, ValueError):
            raise bad_request(f"invalid {name} specified") from None
    if kind == "bool":
        if isinstance(value, bool):
            return value
        return str(value).strip().lower() in ("true", "1")
    if kind == "chat_id":
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        text = str(value).strip()
        if text.startswith("@"):
            return text
        try:
            return int(text)
        except ValueError:
            raise bad_request("chat not found") from None
    # json: form values arrive JSON-encoded; JSON bodies may carry the object itself
    if isinstance(value, str):
        if not value.strip():
            return None
        try:
            return json.loads(value)
        except ValueError:
            raise bad_request(f"can't parse {name} JSON object") from None
    return value


def _int(name: str, value: Any) -> int:
    if isinstance(value, bool):
        raise bad_request(f"invalid {name} specified")
    if isinstance(value, int):
        return value
    try:
        return int(str(value).strip())
    except ValueError:
        raise bad_request(f"invalid {name} specified") from None
