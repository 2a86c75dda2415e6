"""The summary PDF keeps its one-page promise with the most a person can write."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from pypdf import PdfReader

from dialogs.action_plan import MAX_TEXT
from dialogs.gp_summary import PlanLine, SummaryData, render_pdf, summary_page
from dialogs.progress import Progress
from locales.i18n import Catalogs

LONGEST = ("Blåbærgrød og øllebrød " * 20)[:MAX_TEXT]


@pytest.mark.parametrize("language", ["da", "nb", "en"])
def test_the_fullest_summary_still_fits_on_one_page(language: str) -> None:
    tr = Catalogs.load().tr(language)
    data = SummaryData(
        name="Åse Ærbødig-Øster", timezone=ZoneInfo("Europe/Oslo"),
        helpful=frozenset(range(1, 7)),
        plans=tuple(PlanLine(week, LONGEST, LONGEST, LONGEST, 7, "done") for week in range(1, 7)),
        progress=Progress(frozenset(range(1, 7)), {week: 10.0 for week in range(1, 7)}),
    )
    page = summary_page(tr, data, datetime(2027, 3, 1, 9, 0, tzinfo=UTC), scores=True)
    reader = PdfReader(io.BytesIO(render_pdf(page)))
    assert len(reader.pages) == 1
    heights: list[tuple[str, float]] = []  # each piece of text with its height on the page
    text = reader.pages[0].extract_text(
        visitor_text=lambda piece, _cm, tm, _font, _size: heights.append((piece, tm[5])))
    flat = " ".join(text.split())
    assert "Åse Ærbødig-Øster" in flat
    # The last score line is there and sits above the footer: nothing was cut or overlaps.
    lead, value = page.sections[-1].items[-1]
    assert f"{lead} {value}" in flat
    assert page.footer in flat
    last_score = min(y for piece, y in heights if value in piece)
    footer = max(y for piece, y in heights if page.footer[:25] in piece)
    assert last_score > footer + 10  # PDF heights grow upwards; 10 points is a text line
