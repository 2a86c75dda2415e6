"""Minimal MarkdownV2 and legacy Markdown parsing, with tdlib's error texts.

Covers what a bot normally uses: bold, italic, underline, strikethrough, spoiler, inline code,
pre blocks (with language), inline links and backslash escapes. Not covered: blockquotes ('>'
must be escaped, as it must be outside a blockquote anyway) and custom emoji.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.local_api.html import parse_error, utf16_len

RESERVED_V2 = frozenset("_*[]()~`>#+-=|{}.!")

_V2_MARKERS = (
    ("||", "spoiler", "Spoiler"),
    ("__", "underline", "Underline"),
    ("*", "bold", "Bold"),
    ("_", "italic", "Italic"),
    ("~", "strikethrough", "Strikethrough"),
)


@dataclass
class _Open:
    marker: str
    kind: str
    label: str
    utf16_offset: int
    byte_offset: int


def _byte_offset(text: str, i: int) -> int:
    return len(text[:i].encode("utf-8"))


def parse_markdown_v2(source: str) -> tuple[str, list[dict[str, object]]]:
    out: list[str] = []
    utf16 = 0
    entities: list[dict[str, object]] = []
    stack: list[_Open] = []
    link_start: list[tuple[int, int]] = []  # (utf16 offset, byte offset) of open '['
    i, n = 0, len(source)

    def emit(chunk: str) -> None:
        nonlocal utf16
        out.append(chunk)
        utf16 += utf16_len(chunk)

    while i < n:
        c = source[i]
        if c == "\\" and i + 1 < n and ord(source[i + 1]) <= 126:
            emit(source[i + 1])
            i += 2
            continue
        if source.startswith("```", i):
            end = source.find("```", i + 3)
            if end == -1:
                raise parse_error(
                    f"Can't find end of Pre entity at byte offset {_byte_offset(source, i)}"
                )
            body = source[i + 3 : end]
            language = ""
            if "\n" in body:
                first, rest = body.split("\n", 1)
                if first and " " not in first:
                    language, body = first, rest
            body = _unescape_code(body)
            entity: dict[str, object] = {"type": "pre", "offset": utf16,
                                         "length": utf16_len(body)}
            if language:
                entity["language"] = language
            if body:
                entities.append(entity)
            emit(body)
            i = end + 3
            continue
        if c == "`":
            end = _find_unescaped(source, "`", i + 1)
            if end == -1:
                raise parse_error(
                    f"Can't find end of Code entity at byte offset {_byte_offset(source, i)}"
                )
            body = _unescape_code(source[i + 1 : end])
            if body:
                entities.append({"type": "code", "offset": utf16, "length": utf16_len(body)})
            emit(body)
            i = end + 1
            continue
        if c == "[":
            link_start.append((utf16, _byte_offset(source, i)))
            i += 1
            continue
        if c == "]" and link_start:
            offset, _ = link_start.pop()
            if not source.startswith("(", i + 1):
                raise parse_error("Character ']' is reserved and must be escaped with the "
                                  "preceding '\\'")
            end = _find_unescaped(source, ")", i + 2)
            if end == -1:
                raise parse_error(
                    f"Can't find end of a URL at byte offset {_byte_offset(source, i + 1)}"
                )
            url = source[i + 2 : end].replace("\\)", ")").replace("\\\\", "\\")
            if utf16 > offset and url:
                entities.append({"type": "text_link", "offset": offset,
                                 "length": utf16 - offset, "url": url})
            i = end + 1
            continue
        marker = next((m for m in _V2_MARKERS if source.startswith(m[0], i)), None)
        if marker is not None:
            token, kind, label = marker
            if stack and stack[-1].marker == token:
                top = stack.pop()
                if utf16 > top.utf16_offset:
                    entities.append({"type": kind, "offset": top.utf16_offset,
                                     "length": utf16 - top.utf16_offset})
            else:
                stack.append(_Open(token, kind, label, utf16, _byte_offset(source, i)))
            i += len(token)
            continue
        if c in RESERVED_V2:
            raise parse_error(
                f"Character '{c}' is reserved and must be escaped with the preceding '\\'"
            )
        emit(c)
        i += 1
    if stack:
        top = stack[-1]
        raise parse_error(f"Can't find end of {top.label} entity at byte offset {top.byte_offset}")
    if link_start:
        raise parse_error(
            f"Can't find end of TextUrl entity at byte offset {link_start[-1][1]}"
        )
    entities.sort(key=lambda e: (e["offset"], -int(e["length"])))  # type: ignore[arg-type]
    return "".join(out), entities


def parse_markdown_legacy(source: str) -> tuple[str, list[dict[str, object]]]:
    """Legacy ``Markdown``: *bold*, _italic_, `code`, ```pre```, [text](url); no nesting."""
    out: list[str] = []
    utf16 = 0
    entities: list[dict[str, object]] = []
    i, n = 0, len(source)
    simple = {"*": "bold", "_": "italic", "`": "code"}
    while i < n:
        c = source[i]
        if c == "\\" and i + 1 < n and source[i + 1] in "_*`[":
            out.append(source[i + 1])
            utf16 += 1
            i += 2
            continue
        if c not in "*_`[":
            out.append(c)
            utf16 += utf16_len(c)
            i += 1
            continue
        start_byte = _byte_offset(source, i)
        if source.startswith("```", i):
            end = source.find("```", i + 3)
            token_len, kind = 3, "pre"
        elif c == "[":
            end = source.find("]", i + 1)
            token_len, kind = 1, "text_link"
        else:
            end = source.find(c, i + 1)
            token_len, kind = 1, simple[c]
        if end == -1:
            raise parse_error(
                f"Can't find end of the entity starting at byte offset {start_byte}"
            )
        body = source[i + token_len : end]
        entity: dict[str, object] = {"type": kind, "offset": utf16, "length": utf16_len(body)}
        i = end + token_len
        if kind == "text_link":
            if not source.startswith("(", i):
                raise parse_error(
                    f"Can't find end of the entity starting at byte offset {start_byte}"
                )
            url_end = source.find(")", i + 1)
            if url_end == -1:
                raise parse_error(
                    f"Can't find end of the entity starting at byte offset {start_byte}"
                )
            entity["url"] = source[i + 1 : url_end]
            i = url_end + 1
        if body:
            entities.append(entity)
        out.append(body)
        utf16 += utf16_len(body)
    return "".join(out), entities


def _find_unescaped(text: str, ch: str, start: int) -> int:
    i = start
    while i < len(text):
        if text[i] == "\\":
            i += 2
            continue
        if text[i] == ch:
            return i
        i += 1
    return -1


def _unescape_code(body: str) -> str:
    return body.replace("\\`", "`").replace("\\\\", "\\")
