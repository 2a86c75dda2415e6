"""/summary: a one-page PDF a participant may choose to show their GP, caseworker or family.

It holds only their own things: the course and its six topics, the tools they marked as
helping them (dialogs/helpful_tools.py), their weekly plans and how they went, and — only if
they tick it — their own scores over time. Nothing about the team or other participants.

Words are translated on the event loop (:func:`summary_page`); drawing the PDF is CPU work, so
callers run :func:`render_pdf` in a thread, as /progress does with its picture. The font is the
DejaVu Sans that matplotlib ships: a Unicode TTF, so æ ø å and any name come out right, which
the PDF core fonts (Latin-1 only) do not promise.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from dialogs.callbacks import INT, Action, callback
from dialogs.course import course_view, default_course, participant_membership
from dialogs.helpful_tools import helpful_modules
from dialogs.occasion import EVALUATIONS, Occasion
from dialogs.progress import Progress, load_progress
from dialogs.questionnaires import Questionnaire
from dialogs.screen import Button, Screen, Upload
from locales.i18n import N_, Tr
from storage.models import ActionPlan, Person

# gs:tick:<0|1> flips "include my scores"; gs:make:<0|1> makes the PDF with or without them.
ACTION = Action("gs", forms={"tick": (INT,), "make": (INT,)})
FILENAME = "summary.pdf"

OUTCOMES = {
    "done": N_("I did all of it"),
    "partly": N_("I did some of it"),
    "not": N_("Not this time"),
}


@dataclass(frozen=True)
class PlanLine:
    week: int
    what: str
    how_much: str | None
    when: str | None
    days: int | None
    outcome: str | None


@dataclass(frozen=True)
class SummaryData:
    name: str | None
    timezone: ZoneInfo
    helpful: frozenset[int]
    plans: tuple[PlanLine, ...]
    progress: Progress


@dataclass(frozen=True)
class Section:
    heading: str
    items: tuple[tuple[str, str], ...]  # (lead in bold, the rest)
    note: str | None = None  # a plain line under the heading (or instead of items)


@dataclass(frozen=True)
class SummaryPage:
    """Everything the PDF says, already in the reader's language."""

    language: str
    title: str
    byline: str
    sections: tuple[Section, ...]
    footer: str
    made_at: datetime


async def load_summary(
    session: AsyncSession, person_id: int, now: datetime,
    questionnaires: Mapping[str, Questionnaire],
) -> SummaryData | None:
    """The person's own course, or None when they are not in a team."""
    membership = await participant_membership(session, person_id)
    if membership is None:
        return None
    person = await session.get(Person, person_id)
    view = await course_view(session, membership, now)
    # The newest plan of each week: one who planned a week again meant the second plan.
    plans = {
        plan.week: plan
        for plan in await session.scalars(
            select(ActionPlan).where(ActionPlan.membership_id == membership.id)
            .order_by(ActionPlan.week, ActionPlan.created_at)
        )
    }
    return SummaryData(
        name=person.display_name if person is not None else None,
        timezone=view.timezone,
        helpful=await helpful_modules(session, membership.id),
        plans=tuple(
            PlanLine(p.week, p.what, p.how_much, p.when, p.days_per_week, p.outcome)
            for p in plans.values()
        ),
        progress=await load_progress(session, membership, questionnaires),
    )


def summary_page(tr: Tr, data: SummaryData, now: datetime, *, scores: bool) -> SummaryPage:
    course = default_course()
    made = tr.day(now, data.timezone)
    sections = [
        Section(
            tr._("The course"),
            tuple((f"{m.number}.", tr._(m.title)) for m in course.modules),
            tr._("Six weeks with e-learning and a live webinar each week, in a small team. "
                 "One topic a week:"),
        ),
        Section(
            tr._("Tools that help me"),
            tuple((tr._(course.module(n).tool.name), tr._(course.module(n).tool.summary))
                  for n in sorted(data.helpful)),
            None if data.helpful else tr._("I have not marked any tools yet."),
        ),
        Section(
            tr._("My plans for the week"),
            tuple(_plan_item(tr, plan) for plan in data.plans),
            None if data.plans else tr._("I have not made any plans yet."),
        ),
    ]
    if scores:
        sections.append(_scores_section(tr, data.progress))
    return SummaryPage(
        language=tr.locale,
        title=tr._("My coping course – a summary"),
        byline=(tr._("{name} · made on {date}", name=data.name, date=made) if data.name
                else tr._("Made on {date}", date=made)),
        sections=tuple(sections),
        footer=tr._("I chose to share this page. It is only about me, not about others "
                    "on the course."),
        made_at=now,
    )


def _plan_item(tr: Tr, plan: PlanLine) -> tuple[str, str]:
    parts = [plan.what, *(p for p in (plan.how_much, plan.when) if p)]
    text = ", ".join(parts)
    if plan.days:
        text = tr.n_("{plan}, on {n} day", "{plan}, on {n} days", plan.days, plan=text)
    outcome = OUTCOMES.get(plan.outcome or "")
    how = tr._(outcome) if outcome else tr._("not answered yet")
    return (tr._("Week {week}", week=plan.week),
            tr._("{plan}. How it went: {outcome}", plan=text, outcome=how))


def _scores_section(tr: Tr, progress: Progress) -> Section:
    items = [
        (tr._("Week {week}", week=week),
         tr._("{value} of 10", value=tr.number(progress.coping[week])))
        for week in sorted(progress.coping)
    ]
    when = {str(Occasion.BASELINE): tr._("before"), str(Occasion.POST): tr._("after"),
            str(Occasion.FOLLOWUP): tr._("3 months later")}
    for score in progress.scores:
        shown = " · ".join(
            f"{when[occasion]} {tr.number(round(score.values[occasion], 1))}"
            for occasion in EVALUATIONS if occasion in score.values
        )
        items.append((score.label.render(tr), shown))
    return Section(
        tr._("My own answers"),
        tuple(items),
        tr._("How well I coped each week, from 0 to 10.") if items
        else tr._("I have not answered any questions yet."),
    )


# -- the PDF ---------------------------------------------------------------------------------


def _font_files() -> tuple[Path, Path]:
    import matplotlib

    fonts = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
    return fonts / "DejaVuSans.ttf", fonts / "DejaVuSans-Bold.ttf"


# Body sizes tried in turn until everything fits on the one page (long plans take room).
_BODY_SIZES = (10.5, 9.5, 8.5, 7.5, 6.5)
_FOOTER_ROOM = 26  # mm kept free at the bottom for the footer line


def render_pdf(page: SummaryPage) -> bytes:
    for size in _BODY_SIZES:
        pdf, fits = _layout(page, size)
        if fits:
            break
    # One page is the promise: at the smallest size, what would run over is cut off.
    return bytes(pdf.output())


def _layout(page: SummaryPage, size: float) -> tuple[Any, bool]:
    from fpdf import FPDF

    regular, bold = _font_files()
    pdf = FPDF(format="A4")
    pdf.set_margins(20, 18, 20)
    pdf.set_auto_page_break(False)
    pdf.add_font("DejaVu", "", str(regular))
    pdf.add_font("DejaVu", "B", str(bold))
    pdf.set_lang(page.language)
    pdf.set_title(page.title)
    pdf.set_creation_date(page.made_at)  # the injected clock, not the machine's
    pdf.set_creator("mestring")
    pdf.add_page()
    width, line = pdf.epw, size * 0.53
    pdf.set_font("DejaVu", "B", 18)
    pdf.multi_cell(width, 9, page.title, align="L", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("DejaVu", "", 10)
    pdf.set_text_color(90, 90, 90)
    pdf.multi_cell(width, 6, page.byline, align="L", new_x="LMARGIN", new_y="NEXT")
    pdf.set_text_color(0, 0, 0)
    for section in page.sections:
        pdf.ln(size * 0.4)
        pdf.set_font("DejaVu", "B", size + 2.5)
        pdf.set_text_color(59, 125, 140)
        pdf.multi_cell(width, line + 1.5, section.heading, align="L",
                       new_x="LMARGIN", new_y="NEXT")
        pdf.set_text_color(0, 0, 0)
        pdf.set_font("DejaVu", "", size)
        if section.note:
            pdf.multi_cell(width, line, section.note, align="L", new_x="LMARGIN", new_y="NEXT")
        for lead, rest in section.items:
            pdf.multi_cell(width, line, f"**{_plain(lead)}** {_plain(rest)}", markdown=True,
                           align="L", new_x="LMARGIN", new_y="NEXT")
    fits = pdf.get_y() <= pdf.h - _FOOTER_ROOM and pdf.page_no() == 1
    pdf.set_y(-22)
    pdf.set_font("DejaVu", "", 9)
    pdf.set_text_color(90, 90, 90)
    pdf.multi_cell(width, 5, page.footer, align="L", new_x="LMARGIN", new_y="NEXT")
    return pdf, fits


def _plain(text: str) -> str:
    """The participant's own words, kept from being read as markdown markers."""
    return text.replace("**", "*\u200b*").replace("__", "_\u200b_").replace("--", "-\u200b-")


# -- screens ---------------------------------------------------------------------------------


def offer_screen(tr: Tr, *, scores: bool) -> Screen:
    tick = "☑" if scores else "☐"
    return Screen.of(
        "\n\n".join((
            tr._("<b>A summary to show others</b>"),
            tr._("I make a one-page PDF about your course. You can show it to your doctor, "
                 "your caseworker or your family. It is only about you."),
            tr._("Your own scores are only in it if you tick them."),
        )),
        [Button(f"{tick} " + tr._("Add my scores"), callback(ACTION, "tick", int(not scores)))],
        [Button(tr._("Make the PDF"), callback(ACTION, "make", int(scores)))],
    )


def summary_screen(tr: Tr, pdf: bytes) -> Screen:
    return Screen(
        tr._("Here is your summary. It is yours to share, or not."),
        media=Upload(FILENAME, pdf),
    )
