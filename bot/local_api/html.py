"""Telegram-HTML parsing: the subset of HTML Telegram accepts, turned into text + entities.

The scanner follows tdlib's ``parse_html`` closely (same tag set, same attribute grammar, same
error texts and *byte* offsets) so a message the local server accepts is one Telegram accepts,
and a rejected one fails with the description Telegram would give.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.local_api.errors import ApiError, bad_request

SUPPORTED_TAGS = frozenset(
    {
        "a", "b", "strong", "i", "em", "s", "strike", "del", "u", "ins",
        "tg-spoiler", "tg-emoji", "span", "pre", "code", "blockquote",
    }
)

_SIMPLE_TYPES = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
}

_NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
# tdlib's is_space: note NUL counts, which is how "end of input" stops every scanning loop.
_SPACES = frozenset(" \t\r\n\0\v")


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units: the unit of Telegram's offsets and length limits."""
    return len(text.encode("utf-16-le")) // 2


def parse_error(reason: str) -> ApiError:
    return bad_request(f"can't parse entities: {reason}")


@dataclass
class _OpenTag:
    name: str
    argument: str
    utf16_offset: int
    text_pos: int  # index into the produced plain text, for <a> without href


@dataclass
class _Scanner:
    source: str
    pos: int = 0
    out: list[str] = field(default_factory=list)
    utf16: int = 0

    def at(self, i: int) -> str:
        return self.source[i] if i < len(self.source) else "\0"

    def byte_offset(self, i: int) -> int:
        return len(self.source[:i].encode("utf-8"))

    def emit(self, ch: str) -> None:
        self.out.append(ch)
        self.utf16 += 2 if ord(ch) > 0xFFFF else 1


def decode_entity(text: str, i: int) -> tuple[str, int] | None:
    """Decode ``&name;`` / ``&#N;`` / ``&#xH;`` at ``text[i]``; None leaves the '&' literal."""
    end = text.find(";", i + 1, i + 12)
    if end == -1:
        return None
    body = text[i + 1 : end]
    if body in _NAMED_ENTITIES:
        return _NAMED_ENTITIES[body], end + 1
    if body.startswith("#") and len(body) > 1:
        try:
            code = int(body[2:], 16) if body[1] in "xX" else int(body[1:], 10)
        except ValueError:
            return None
        if 0 < code <= 0x10FFFF and not 0xD800 <= code <= 0xDFFF:
            return chr(code), end + 1
    return None


def parse_html(source: str) -> tuple[str, list[dict[str, object]]]:
    """Return (plain text, entities) for Telegram-HTML ``source`` or raise Telegram's error."""
    sc = _Scanner(source)
    stack: list[_OpenTag] = []
    entities: list[dict[str, object]] = []
    n = len(source)
    i = 0
    while i < n:
        c = source[i]
        if c == "&":
            decoded = decode_entity(source, i)
            if decoded is not None:
                sc.emit(decoded[0])
                i = decoded[1]
                continue
        if c != "<":
            sc.emit(c)
            i += 1
            continue
        begin = i
        i += 1
        if sc.at(i) != "/":
            i = _start_tag(sc, stack, begin, i)
        else:
            i = _end_tag(sc, stack, entities, begin, i)
    if stack:
        raise parse_error(f'Can\'t find end tag corresponding to start tag "{stack[-1].name}"')
    for entity in entities:
        if entity["type"] == "code":
            entity.pop("language", None)  # a language only survives inside <pre>
    entities.sort(key=lambda e: (e["offset"], -int(e["length"])))  # type: ignore[arg-type]
    return "".join(sc.out), entities


def _start_tag(sc: _Scanner, stack: list[_OpenTag], begin: int, i: int) -> int:
    while sc.at(i) not in _SPACES and sc.at(i) != ">":
        i += 1
    if i >= len(sc.source):
        raise parse_error(f"Unclosed start tag at byte offset {sc.byte_offset(begin)}")
    tag = sc.source[begin + 1 : i].lower()
    if tag not in SUPPORTED_TAGS:
        raise parse_error(f'Unsupported start tag "{tag}" at byte offset {sc.byte_offset(begin)}')
    argument = ""
    while sc.at(i) != ">":
        while i < len(sc.source) and sc.at(i) in _SPACES:
            i += 1
        if sc.at(i) == ">":
            break
        attr_begin = i
        while sc.at(i) not in _SPACES and sc.at(i) not in "=>":
            i += 1
        attr_name = sc.source[attr_begin:i]
        if not attr_name:
            raise parse_error(
                f'Empty attribute name in the tag "{tag}" at byte offset {sc.byte_offset(begin)}'
            )
        while i < len(sc.source) and sc.at(i) in _SPACES:
            i += 1
        if sc.at(i) != "=":
            if tag == "blockquote" and attr_name == "expandable":
                # Telegram accepts the bare boolean attribute <blockquote expandable>.
                argument = "expandable"
                continue
            raise parse_error(
                "Expected equal sign in declaration of an attribute of the tag "
                f'"{tag}" at byte offset {sc.byte_offset(begin)}'
            )
        i += 1
        while i < len(sc.source) and sc.at(i) in _SPACES:
            i += 1
        if i >= len(sc.source):
            raise parse_error(f'Unclosed start tag "{tag}" at byte offset {sc.byte_offset(begin)}')
        value, i = _attribute_value(sc, i)
        if tag == "a" and attr_name == "href":
            argument = value
        elif tag == "code" and attr_name == "class" and value.startswith("language-"):
            argument = value[len("language-") :]
        elif tag == "span" and attr_name == "class" and value.startswith("tg-"):
            argument = value[len("tg-") :]
        elif tag == "tg-emoji" and attr_name == "emoji-id":
            argument = value
        elif tag == "blockquote" and attr_name == "expandable":
            argument = "expandable"
    if tag == "span" and argument != "spoiler":
        raise parse_error(
            f'Tag "span" must have class "tg-spoiler" at byte offset {sc.byte_offset(begin)}'
        )
    stack.append(_OpenTag(tag, argument, sc.utf16, len(sc.out)))
    return i + 1


def _attribute_value(sc: _Scanner, i: int) -> tuple[str, int]:
    quote = sc.at(i)
    if quote not in "'\"":
        # A name token: letters, digits, periods, hyphens; case-insensitive.
        token_begin = i
        while sc.at(i).isalnum() or sc.at(i) in ".-":
            i += 1
        if sc.at(i) not in _SPACES and sc.at(i) != ">":
            raise parse_error(
                f"Unexpected end of name token at byte offset {sc.byte_offset(token_begin)}"
            )
        return sc.source[token_begin:i].lower(), i
    i += 1
    value_begin = i
    chars: list[str] = []
    while i < len(sc.source) and sc.at(i) != quote:
        if sc.at(i) == "&":
            decoded = decode_entity(sc.source, i)
            if decoded is not None:
                chars.append(decoded[0])
                i = decoded[1]
                continue
        chars.append(sc.at(i))
        i += 1
    if sc.at(i) == quote:
        i += 1
    if i >= len(sc.source):
        raise parse_error(f"Unclosed start tag at byte offset {sc.byte_offset(value_begin)}")
    return "".join(chars), i


def _end_tag(
    sc: _Scanner,
    stack: list[_OpenTag],
    entities: list[dict[str, object]],
    begin: int,
    i: int,
) -> int:
    if not stack:
        raise parse_error(f"Unexpected end tag at byte offset {sc.byte_offset(begin)}")
    while sc.at(i) not in _SPACES and sc.at(i) != ">":
        i += 1
    end_name = sc.source[begin + 2 : i]
    while i < len(sc.source) and sc.at(i) in _SPACES:
        i += 1
    if sc.at(i) != ">":
        raise parse_error(f"Unclosed end tag at byte offset {sc.byte_offset(begin)}")
    top = stack.pop()
    if end_name and end_name.lower() != top.name:
        raise parse_error(
            f"Unmatched end tag at byte offset {sc.byte_offset(begin)}, "
            f'expected "</{top.name}>", found "</{end_name}>"'
        )
    length = sc.utf16 - top.utf16_offset
    if length > 0:  # empty entities are dropped, as Telegram does
        entity = _entity_for(top, length, "".join(sc.out[top.text_pos :]), entities)
        if entity is not None:
            entities.append(entity)
    return i + 1


def _entity_for(
    tag: _OpenTag, length: int, inner_text: str, entities: list[dict[str, object]]
) -> dict[str, object] | None:
    offset = tag.utf16_offset
    if tag.name in _SIMPLE_TYPES:
        return {"type": _SIMPLE_TYPES[tag.name], "offset": offset, "length": length}
    if tag.name == "a":
        url = (tag.argument or inner_text).strip()
        if not url:
            return None
        return {"type": "text_link", "offset": offset, "length": length, "url": url}
    if tag.name == "tg-emoji":
        if not tag.argument.isdigit():
            raise parse_error("Invalid custom emoji identifier specified")
        return {"type": "custom_emoji", "offset": offset, "length": length,
                "custom_emoji_id": tag.argument}
    if tag.name == "blockquote":
        kind = "expandable_blockquote" if tag.argument else "blockquote"
        return {"type": kind, "offset": offset, "length": length}
    last = entities[-1] if entities else None
    same_span = last is not None and last["offset"] == offset and last["length"] == length
    if tag.name == "pre":
        # <pre><code class="language-x">…</code></pre> is one pre entity with a language.
        if same_span and last is not None and last["type"] == "code" and "language" in last:
            last["type"] = "pre"
            return None
        return {"type": "pre", "offset": offset, "length": length}
    # code
    if same_span and last is not None and last["type"] == "pre":
        if tag.argument:
            last["language"] = tag.argument
        return None
    entity: dict[str, object] = {"type": "code", "offset": offset, "length": length}
    if tag.argument:
        entity["language"] = tag.argument
    return entity
