"""Formatted text rules: parse_mode / explicit entities → (text, entities), plus length limits."""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.local_api.errors import bad_request
from bot.local_api.html import parse_error, parse_html, utf16_len
from bot.local_api.markdown import parse_markdown_legacy, parse_markdown_v2

MAX_TEXT_LENGTH = 4096
MAX_CAPTION_LENGTH = 1024

ENTITY_TYPES = frozenset(
    {
        "mention", "hashtag", "cashtag", "bot_command", "url", "email", "phone_number",
        "bold", "italic", "underline", "strikethrough", "spoiler", "blockquote",
        "expandable_blockquote", "code", "pre", "text_link", "text_mention", "custom_emoji",
    }
)


@dataclass
class FormattedText:
    """Text as Telegram stores it: plain text plus entities with UTF-16 offsets."""

    text: str
    entities: list[dict[str, object]] = field(default_factory=list)
    parse_mode: str | None = None

    @property
    def utf16_length(self) -> int:
        return utf16_len(self.text)


def format_text(
    raw: str | None,
    parse_mode: str | None,
    entities: object,
    *,
    caption: bool = False,
) -> FormattedText:
    """Apply Telegram's parsing and length rules to a message text or caption.

    Raises ApiError with Telegram's description. For captions an empty result is allowed.
    """
    raw = raw or ""
    mode = (parse_mode or "").strip()
    if entities not in (None, "", []):
        text, parsed = raw, validate_entities(raw, entities)
        mode = ""
    elif mode:
        key = mode.lower()
        if key == "html":
            text, parsed = parse_html(raw)
        elif key == "markdownv2":
            text, parsed = parse_markdown_v2(raw)
        elif key == "markdown":
            text, parsed = parse_markdown_legacy(raw)
        else:
            raise bad_request(f"unsupported parse_mode {mode}")
    else:
        text, parsed = raw, []
    if caption:
        if utf16_len(text) > MAX_CAPTION_LENGTH:
            raise bad_request("message caption is too long")
    else:
        # Telegram trims surrounding whitespace before deciding a text is empty.
        if not text.strip():
            raise bad_request("message text is empty")
        if utf16_len(text) > MAX_TEXT_LENGTH:
            raise bad_request("message is too long")
    return FormattedText(text, parsed, mode or None)


def validate_entities(text: str, entities: object) -> list[dict[str, object]]:
    """Check explicit ``entities``: known types, offsets/lengths inside the text (UTF-16)."""
    if not isinstance(entities, list):
        raise bad_request("can't parse entities JSON object")
    total = utf16_len(text)
    result: list[dict[str, object]] = []
    for entity in entities:
        if not isinstance(entity, dict):
            raise bad_request("can't parse MessageEntity: MessageEntity must be an Object")
        kind, offset, length = entity.get("type"), entity.get("offset"), entity.get("length")
        if kind not in ENTITY_TYPES:
            raise bad_request(f"can't parse MessageEntity: Unsupported type specified: {kind}")
        if not isinstance(offset, int) or not isinstance(length, int) or isinstance(
            offset, bool
        ):
            raise bad_request("can't parse MessageEntity: Field \"offset\" must be of type Number")
        if offset < 0 or length <= 0 or offset + length > total:
            raise parse_error(
                f"entity {kind} at offset {offset} with length {length} is out of the text "
                f"bounds (text length {total})"
            )
        if kind == "text_link" and not entity.get("url"):
            raise bad_request("can't parse MessageEntity: Field \"url\" must be of type String")
        if kind == "custom_emoji" and not str(entity.get("custom_emoji_id", "")).isdigit():
            raise parse_error("Invalid custom emoji identifier specified")
        result.append(dict(entity))
    result.sort(key=lambda e: (e["offset"], -int(e["length"])))  # type: ignore[arg-type]
    return result
