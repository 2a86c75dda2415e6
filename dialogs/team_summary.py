"""A team at a glance for coordinators: who joined, who is reachable, how the weeks went.

Counts of people are shown as they are; anything computed from answers (an average coping
score) is shown only when at least five people answered, so a small group cannot be used to
single someone out.
"""

from __future__ import annotations

import io
from collections import Counter
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from dialogs.delivery.kinds import Kind
from dialogs.occasion import CHECKIN, Occasion
from dialogs.screen import Screen, escape
from locales.i18n import Tr
from storage.models import (
    COURSE_MODULES,
    Answer,
    Attendance,
    Membership,
    MembershipStatus,
    ModuleProgress,
    Municipality,
    OutboxMessage,
    OutboxStatus,
    Person,
    QuestionnaireResponse,
    Role,
    Team,
    WebinarSession,
)

MIN_RESPONDENTS = 5


@dataclass(frozen=True)
class WeekStats:
    module_no: int
    prepared: int
    checkins_sent: int
    checkins_done: int
    attended: int
    coping_answers: int
    coping_mean: float | None  # None when fewer than MIN_RESPONDENTS answered


@dataclass(frozen=True)
class TeamSummary:
    team_id: int
    team_name: str
    municipality_name: str
    joined: int
    active: int
    unreachable: int
    left: int
    weeks: tuple[WeekStats, ...]


def guarded_mean(values: list[float]) -> float | None:
    """The mean, or None for fewer than five answers."""
    if len(values) < MIN_RESPONDENTS:
        return None
    return sum(values) / len(values)


async def team_summary(session: AsyncSession, team_id: int) -> TeamSummary:
    team = await session.get(Team, team_id)
    assert team is not None
    municipality = await session.get(Municipality, team.municipality_id)
    assert municipality is not None
    members = (await session.execute(
        select(Membership.id, Membership.status, Person.unreachable_at)
        .join(Person, Person.id == Membership.person_id)
        .where(Membership.team_id == team_id, Membership.role == Role.PARTICIPANT)
    )).all()
    member_ids = [m.id for m in members]
    active = [m for m in members if m.status == MembershipStatus.ACTIVE]
    prepared = Counter(await session.scalars(
        select(ModuleProgress.module_no).where(
            ModuleProgress.membership_id.in_(member_ids), ModuleProgress.done_at.is_not(None)
        )
    ))
    done = Counter(
        occasion for occasion in await session.scalars(
            select(QuestionnaireResponse.occasion).where(
                QuestionnaireResponse.membership_id.in_(member_ids),
                QuestionnaireResponse.questionnaire_key == CHECKIN,
                QuestionnaireResponse.completed_at.is_not(None),
            )
        )
    )
    sent = Counter(
        str((payload or {}).get("occasion"))
        for payload in await session.scalars(
            select(OutboxMessage.payload).where(
                OutboxMessage.kind == Kind.CHECKIN,
                OutboxMessage.status == OutboxStatus.SENT,
                OutboxMessage.person_id.in_(
                    select(Membership.person_id).where(Membership.id.in_(member_ids))
                ),
            )
        )
    )
    coping: dict[str, list[float]] = {}
    for occasion, value in (await session.execute(
        select(QuestionnaireResponse.occasion, Answer.value_number)
        .join(Answer, Answer.response_id == QuestionnaireResponse.id)
        .where(
            QuestionnaireResponse.membership_id.in_(member_ids),
            QuestionnaireResponse.questionnaire_key == CHECKIN,
            Answer.item_key == "coping",
            Answer.value_number.is_not(None),
        )
    )).all():
        coping.setdefault(occasion, []).append(float(value))
    attended = dict((await session.execute(
        select(WebinarSession.module_no, func.count(Attendance.id))
        .join(Attendance, Attendance.session_id == WebinarSession.id)
        .where(WebinarSession.team_id == team_id, Attendance.attended.is_(True))
        .group_by(WebinarSession.module_no)
    )).all())

    def week(n: int) -> WeekStats:
        occasion = str(Occasion.checkin(n))
        answers = coping.get(occasion, [])
        return WeekStats(
            module_no=n, prepared=prepared.get(n, 0), checkins_sent=sent.get(occasion, 0),
            checkins_done=done.get(occasion, 0), attended=int(attended.get(n, 0)),
            coping_answers=len(answers), coping_mean=guarded_mean(answers),
        )

    weeks = tuple(week(n) for n in range(1, COURSE_MODULES + 1))
    return TeamSummary(
        team_id=team.id,
        team_name=team.name,
        municipality_name=municipality.name,
        joined=len(members),
        active=sum(1 for m in active if m.unreachable_at is None),
        unreachable=sum(1 for m in active if m.unreachable_at is not None),
        left=len(members) - len(active),
        weeks=weeks,
    )


def summary_screen(tr: Tr, summary: TeamSummary) -> Screen:
    lines = [
        tr._("<b>{team}, {municipality}</b>", team=escape(summary.team_name),
             municipality=escape(summary.municipality_name)),
        tr._("Joined: {joined} · active: {active} · unreachable: {unreachable} · left: {left}",
             joined=summary.joined, active=summary.active, unreachable=summary.unreachable,
             left=summary.left),
        "",
    ]
    for week in summary.weeks:
        rate = (
            tr._("{done} of {sent}", done=week.checkins_done, sent=week.checkins_sent)
            if week.checkins_sent else "–"
        )
        coping = (
            tr.number(round(week.coping_mean, 1)) if week.coping_mean is not None
            else tr._("fewer than 5 answers") if week.coping_answers else "–"
        )
        lines.append(tr._(
            "Module {n}: prepared {prepared} · check-in {rate} · attended {attended} · "
            "coping {coping}",
            n=week.module_no, prepared=week.prepared, rate=rate, attended=week.attended,
            coping=coping,
        ))
    return Screen.of("\n".join(lines))


@dataclass(frozen=True)
class SummaryChartWords:
    title: str
    module: str
    prepared: str
    checkins: str
    attended: str


def summary_chart_words(tr: Tr, summary: TeamSummary) -> SummaryChartWords:
    return SummaryChartWords(
        title=f"{summary.team_name}, {summary.municipality_name}",
        module=tr._("Module"),
        prepared=tr._("Prepared"),
        checkins=tr._("Check-ins answered"),
        attended=tr._("Attended"),
    )


def render_summary_png(summary: TeamSummary, words: SummaryChartWords) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    figure = Figure(figsize=(6.4, 4.6), dpi=170)
    axes = figure.subplots()
    modules = [w.module_no for w in summary.weeks]
    width = 0.27
    series = (
        (words.prepared, [w.prepared for w in summary.weeks], "#3b7d8c", -width),
        (words.checkins, [w.checkins_done for w in summary.weeks], "#e0a458", 0.0),
        (words.attended, [w.attended for w in summary.weeks], "#7a9e7e", width),
    )
    for label, values, colour, offset in series:
        axes.bar([m + offset for m in modules], values, width=width, color=colour, label=label)
    axes.set_xticks(modules, [str(m) for m in modules], fontsize=13)
    axes.set_xlabel(words.module, fontsize=12)
    axes.set_ylim(0, max(summary.joined, 1) + 1)
    axes.legend(fontsize=11, frameon=False, loc="upper right")
    axes.set_title(words.title, fontsize=14)
    for side in ("top", "right"):
        axes.spines[side].set_visible(False)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()
