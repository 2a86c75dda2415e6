"""A participant's own progress: modules prepared and how they coped, week by week.

The picture is drawn with matplotlib for a phone screen: one calm chart, big type, few words.
Drawing takes a fraction of a second of CPU, so callers run :func:`render_png` in a thread.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from dialogs.occasion import CHECKIN, EVALUATIONS, Occasion, checkin_week
from dialogs.questionnaires import Questionnaire, Words, engine
from dialogs.screen import Screen, escape
from locales.i18n import Tr
from storage.models import COURSE_MODULES, Answer, Membership, ModuleProgress, QuestionnaireResponse

COPING_ITEM = "coping"


@dataclass(frozen=True)
class ScoreOverTime:
    """One of the person's own evaluation scores: before, after and months after the course."""

    label: Words
    values: dict[str, float]  # occasion -> score


@dataclass(frozen=True)
class Progress:
    prepared: frozenset[int]  # module numbers
    coping: dict[int, float]  # week -> 0..10 answer
    scores: tuple[ScoreOverTime, ...] = ()

    @property
    def is_empty(self) -> bool:
        return not self.prepared and not self.coping and not self.scores


async def own_scores(
    session: AsyncSession, membership: Membership, questionnaires: Mapping[str, Questionnaire]
) -> tuple[ScoreOverTime, ...]:
    """Scores with a participant-facing label, from the person's finished evaluations."""
    responses = await session.scalars(
        select(QuestionnaireResponse)
        .where(
            QuestionnaireResponse.membership_id == membership.id,
            QuestionnaireResponse.questionnaire_key.in_(EVALUATIONS),
            QuestionnaireResponse.completed_at.is_not(None),
        )
        .options(selectinload(QuestionnaireResponse.answers))
    )
    found: dict[str, ScoreOverTime] = {}
    for response in responses:
        q = questionnaires.get(response.questionnaire_key)
        if q is None:
            continue
        values = {a.item_key: a.value_number for a in response.answers if not a.skipped}
        scored = engine.score(q, values)
        for rule in q.scores:
            value = scored.get(rule.key)
            if rule.label is None or value is None:
                continue
            row = found.setdefault(rule.key, ScoreOverTime(rule.label, {}))
            row.values[response.occasion] = value
    return tuple(found.values())


async def load_progress(
    session: AsyncSession,
    membership: Membership,
    questionnaires: Mapping[str, Questionnaire] | None = None,
) -> Progress:
    prepared = frozenset(await session.scalars(
        select(ModuleProgress.module_no).where(
            ModuleProgress.membership_id == membership.id, ModuleProgress.done_at.is_not(None)
        )
    ))
    rows = await session.execute(
        select(QuestionnaireResponse.occasion, Answer.value_number)
        .join(Answer, Answer.response_id == QuestionnaireResponse.id)
        .where(
            QuestionnaireResponse.membership_id == membership.id,
            QuestionnaireResponse.questionnaire_key == CHECKIN,
            Answer.item_key == COPING_ITEM,
            Answer.value_number.is_not(None),
        )
    )
    coping: dict[int, float] = {}
    for occasion, value in rows:
        week = checkin_week(occasion)
        if week is not None and value is not None:
            coping[week] = float(value)
    scores = await own_scores(session, membership, questionnaires) if questionnaires else ()
    return Progress(prepared, coping, scores)


@dataclass(frozen=True)
class ChartWords:
    """Translated words for the picture (matplotlib runs in a thread, away from the catalogs)."""

    title: str
    week: str
    coping: str
    prepared: str
    scale_low: str
    scale_high: str


def chart_words(tr: Tr) -> ChartWords:
    return ChartWords(
        title=tr._("Your weeks"),
        week=tr._("Week"),
        coping=tr._("How well I coped (0–10)"),
        prepared=tr._("✓ = module prepared"),
        scale_low=tr._("not well"),
        scale_high=tr._("very well"),
    )


def render_png(progress: Progress, words: ChartWords) -> bytes:
    import matplotlib

    matplotlib.use("Agg")  # no screen on a server
    from matplotlib.figure import Figure

    # Built on a Figure, not pyplot: pyplot keeps global state that threads would share.
    figure = Figure(figsize=(6, 4.8), dpi=180)
    axes = figure.subplots()
    weeks = list(range(1, COURSE_MODULES + 1))
    values = [progress.coping.get(week, 0.0) for week in weeks]
    colours = ["#3b7d8c" if week in progress.coping else "#ffffff" for week in weeks]
    axes.bar(weeks, values, color=colours, edgecolor="#3b7d8c", linewidth=1.5, width=0.65)
    for week in weeks:
        if week in progress.coping:
            axes.text(week, values[week - 1] + 0.25, f"{progress.coping[week]:g}",
                      ha="center", va="bottom", fontsize=14)
    axes.set_xticks(weeks, [
        f"{week}\n✓" if week in progress.prepared else f"{week}\n " for week in weeks
    ], fontsize=14)
    axes.set_ylim(0, 11)
    axes.set_yticks([0, 5, 10], [f"0\n{words.scale_low}", "5", f"10\n{words.scale_high}"],
                    fontsize=11)
    axes.set_xlabel(f"{words.week}   ({words.prepared})", fontsize=12)
    axes.set_title(f"{words.title}\n{words.coping}", fontsize=15)
    for side in ("top", "right"):
        axes.spines[side].set_visible(False)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def progress_caption(tr: Tr, progress: Progress) -> Screen:
    prepared = len(progress.prepared)
    lines = [tr.n_("You have prepared {n} of 6 modules.", "You have prepared {n} of 6 modules.",
                   prepared)]
    if progress.coping:
        latest_week = max(progress.coping)
        lines.append(tr._(
            "In week {week} you rated your coping {value} out of 10.",
            week=latest_week, value=tr.number(progress.coping[latest_week]),
        ))
    else:
        lines.append(tr._("Your answers to the weekly check-in will show here."))
    if progress.scores:
        when = {str(Occasion.BASELINE): tr._("before"), str(Occasion.POST): tr._("after"),
                str(Occasion.FOLLOWUP): tr._("3 months later")}
        lines.append("")
        lines.append(tr._("<b>Your questionnaires</b>"))
        for score in progress.scores:
            shown = " · ".join(
                f"{when[occasion]} {tr.number(round(score.values[occasion], 1))}"
                for occasion in EVALUATIONS if occasion in score.values
            )
            lines.append(f"{escape(score.label.render(tr))}: {shown}")
    return Screen.of("\n".join(lines))


def no_progress_yet_screen(tr: Tr) -> Screen:
    return Screen.of(tr._(
        "There is nothing to show yet. Mark a module as prepared, or answer a check-in."
    ))
