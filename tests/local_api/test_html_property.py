"""Property: random text in random allowed tags parses back to the plain text and entities."""

from __future__ import annotations

import html
from dataclasses import dataclass, field

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.local_api.html import parse_html, utf16_len

TAGS = {
    "b": "bold", "strong": "bold", "i": "italic", "em": "italic", "u": "underline",
    "ins": "underline", "s": "strikethrough", "strike": "strikethrough",
    "del": "strikethrough", "tg-spoiler": "spoiler", "code": "code",
}

TEXT = st.lists(
    st.sampled_from([*"abc æøå<>&\"'\n", "😀", "👩\u200d👩\u200d👧", "\u200b", "&amp;"]),
    max_size=8,
).map("".join)


@dataclass
class Node:
    tag: str | None  # None: plain text leaf
    text: str = ""
    children: list[Node] = field(default_factory=list)


def nodes() -> st.SearchStrategy[Node]:
    leaf = TEXT.map(lambda t: Node(None, t))
    return st.recursive(
        leaf,
        lambda inner: st.builds(
            lambda tag, kids: Node(tag, children=kids),
            st.sampled_from([*TAGS, "a", "span"]),
            st.lists(inner, max_size=3),
        ),
        max_leaves=12,
    )


def render(node: Node) -> str:
    if node.tag is None:
        return html.escape(node.text, quote=False)
    inner = "".join(render(c) for c in node.children)
    if node.tag == "a":
        return f'<a href="https://example.dk/?q=1&amp;r=2">{inner}</a>'
    if node.tag == "span":
        return f'<span class="tg-spoiler">{inner}</span>'
    return f"<{node.tag}>{inner}</{node.tag}>"


def expected(node: Node, offset: int, out: list[tuple[str, int, int]]) -> str:
    if node.tag is None:
        return node.text
    text = ""
    for child in node.children:
        text += expected(child, offset + utf16_len(text), out)
    if text:
        kind = {"a": "text_link", "span": "spoiler"}.get(node.tag) or TAGS[node.tag]
        out.append((kind, offset, utf16_len(text)))
    return text


@settings(max_examples=300, deadline=None)
@given(st.lists(nodes(), max_size=4))
def test_round_trip(tree: list[Node]) -> None:
    source = "".join(render(n) for n in tree)
    want: list[tuple[str, int, int]] = []
    plain = ""
    for node in tree:
        plain += expected(node, utf16_len(plain), want)
    text, entities = parse_html(source)
    assert text == plain
    got = sorted((str(e["type"]), int(e["offset"]), int(e["length"])) for e in entities)  # type: ignore[call-overload]
    assert got == sorted(want)
    total = utf16_len(text)
    units = text.encode("utf-16-le")
    for entity in entities:
        offset, length = int(entity["offset"]), int(entity["length"])  # type: ignore[call-overload]
        assert offset >= 0
        assert length > 0
        assert offset + length <= total
        # Offsets never split a surrogate pair.
        chunk = units[2 * offset : 2 * (offset + length)]
        assert chunk.decode("utf-16-le")  # raises on a split pair
        if entity["type"] == "text_link":
            assert entity["url"] == "https://example.dk/?q=1&r=2"


def test_pre_with_language_and_blockquote() -> None:
    text, entities = parse_html(
        '<pre><code class="language-python">x = 1</code></pre>'
        "<blockquote expandable>citat</blockquote><tg-emoji emoji-id=\"5368324170671202286\">👍"
        "</tg-emoji>"
    )
    assert text == "x = 1citat👍"
    assert entities == [
        {"type": "pre", "offset": 0, "length": 5, "language": "python"},
        {"type": "expandable_blockquote", "offset": 5, "length": 5},
        {"type": "custom_emoji", "offset": 10, "length": 2,
         "custom_emoji_id": "5368324170671202286"},
    ]


def test_numeric_entities_and_lenient_ampersand() -> None:
    assert parse_html("&#230;&#x1F600; &nope; a&b")[0] == "æ😀 &nope; a&b"
