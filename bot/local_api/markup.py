"""reply_markup validation: inline keyboards, reply keyboards, remove / force reply."""

from __future__ import annotations

from urllib.parse import urlsplit

from bot.local_api.errors import bad_request

MAX_CALLBACK_DATA_BYTES = 64
MAX_INLINE_BUTTONS = 100

# An inline button must carry exactly one action; Telegram's server silently takes the first
# one it finds, the local server is stricter so the bot's code states its intent.
INLINE_ACTIONS = (
    "url",
    "callback_data",
    "web_app",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "callback_game",
    "pay",
)


def validate_reply_markup(markup: object) -> dict[str, object] | None:
    """Return the normalised markup or raise Telegram's 400."""
    if markup in (None, "", {}):
        return None
    if not isinstance(markup, dict):
        raise bad_request("can't parse reply keyboard markup JSON object")
    if "inline_keyboard" in markup:
        return {"inline_keyboard": _inline_keyboard(markup["inline_keyboard"])}
    if "keyboard" in markup:
        return _reply_keyboard(markup)
    if markup.get("remove_keyboard") is True:
        return dict(markup)
    if markup.get("force_reply") is True:
        return dict(markup)
    raise bad_request("can't find field \"inline_keyboard\"")


def _inline_keyboard(rows: object) -> list[list[dict[str, object]]]:
    if not isinstance(rows, list):
        raise bad_request('field "inline_keyboard" of the InlineKeyboardMarkup must be an Array')
    result: list[list[dict[str, object]]] = []
    count = 0
    for row in rows:
        if not isinstance(row, list):
            raise bad_request("can't parse inline keyboard button: row must be an Array")
        result.append([_inline_button(button) for button in row])
        count += len(row)
    if count > MAX_INLINE_BUTTONS:
        raise bad_request("reply markup is too long")
    return result


def _inline_button(button: object) -> dict[str, object]:
    if not isinstance(button, dict):
        raise bad_request("can't parse inline keyboard button: InlineKeyboardButton must be an "
                          "Object")
    text = button.get("text")
    if not isinstance(text, str):
        raise bad_request('can\'t parse inline keyboard button: Field "text" must be of type '
                          "String")
    actions = [key for key in INLINE_ACTIONS if key in button]
    if not actions:
        raise bad_request("can't parse inline keyboard button: Text buttons are unallowed in the "
                          "inline keyboard")
    if len(actions) > 1:
        raise bad_request(
            "can't parse inline keyboard button: exactly one of the optional fields must be "
            f"used, got {', '.join(actions)}"
        )
    if "callback_data" in button:
        data = button["callback_data"]
        if not isinstance(data, str) or not 1 <= len(data.encode("utf-8")) <= (
            MAX_CALLBACK_DATA_BYTES
        ):
            raise bad_request("BUTTON_DATA_INVALID")
    if "url" in button:
        url = button["url"]
        if not isinstance(url, str) or not is_valid_button_url(url):
            raise bad_request(f"inline keyboard button URL '{url}' is invalid")
    if not text.strip():
        raise bad_request("can't parse inline keyboard button: Text must be non-empty")
    return dict(button)


def is_valid_button_url(url: str) -> bool:
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    if parts.scheme.lower() in ("http", "https"):
        return bool(parts.hostname) and " " not in url
    return parts.scheme.lower() == "tg" and bool(parts.netloc or parts.path)


def _reply_keyboard(markup: dict[str, object]) -> dict[str, object]:
    rows = markup["keyboard"]
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise bad_request('field "keyboard" of the ReplyKeyboardMarkup must be an Array')
    normalised: list[list[dict[str, object]]] = []
    for row in rows:
        out_row: list[dict[str, object]] = []
        for button in row:
            if isinstance(button, str):
                button = {"text": button}
            if not isinstance(button, dict) or not isinstance(button.get("text"), str):
                raise bad_request('can\'t parse keyboard button: Field "text" must be of type '
                                  "String")
            out_row.append(dict(button))
        normalised.append(out_row)
    result = dict(markup)
    result["keyboard"] = normalised
    return result


def inline_buttons(markup: dict[str, object] | None) -> list[dict[str, object]]:
    """All inline buttons of a markup, row by row (empty for other markups)."""
    if not markup or "inline_keyboard" not in markup:
        return []
    rows = markup["inline_keyboard"]
    assert isinstance(rows, list)
    return [button for row in rows for button in row]
