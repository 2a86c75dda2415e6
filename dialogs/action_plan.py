"""The weekly action plan, in the self-management tradition.

What will I do, how much, when, on how many days — then "how sure are you that you will do
all of it?" (0–10). Below 7 the bot suggests making the plan smaller or easier, because a plan
a person is confident about is the one that gets done. The next check-in asks how it went.

While the plan is being written, the draft lives in the person's dialog state (database), so
any worker can take the next answer; the plan row is written once it is complete.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from dialogs import state
from dialogs.callbacks import INT, Action, callback
from dialogs.screen import Button, Screen, escape
from locales.i18n import Tr
from storage.models import ActionPlan
from storage.models.base import COURSE_MODULES

# ap:new:<week> · ap:d:<days> · ap:c:<confidence> · ap:s:<plan id> (smaller) · ap:k:<plan id>
ACTION = Action("ap", forms={form: (INT,) for form in ("new", "d", "c", "s", "k")})
CONFIDENT_ENOUGH = 7
MAX_TEXT = 200
STATE = "action_plan"
TEXT_STEPS = ("what", "how_much", "when")


@dataclass(frozen=True)
class Draft:
    week: int
    step: str
    fields: dict[str, Any]


def course_week(webinars_held: int) -> int:
    """The course week a plan belongs to: a plan made before the first webinar is for the
    first week, one made after the last for the last."""
    return min(max(webinars_held, 1), COURSE_MODULES)


async def start(session: AsyncSession, person_id: int, week: int, now: datetime) -> None:
    await state.wait_for(session, person_id, STATE, now, week=course_week(week), step="what")


async def draft(session: AsyncSession, person_id: int) -> Draft | None:
    waiting = await state.waiting_for(session, person_id)
    if waiting is None or waiting.state != STATE:
        return None
    data = dict(waiting.data)
    return Draft(int(data.pop("week")), str(data.pop("step")), data)


def clean_text(raw: str) -> str | None:
    kept = "".join(ch for ch in unicodedata.normalize("NFC", raw)
                   if unicodedata.category(ch)[0] != "C")
    text = " ".join(kept.split())
    return text if 0 < len(text) <= MAX_TEXT else None


async def answer_text(
    session: AsyncSession, person_id: int, text: str, now: datetime
) -> Draft | None:
    """Store the typed answer of the current text step and move on; None if not waiting."""
    current = await draft(session, person_id)
    if current is None or current.step not in TEXT_STEPS:
        return None
    fields = {**current.fields, current.step: text}
    following = TEXT_STEPS.index(current.step) + 1
    step = TEXT_STEPS[following] if following < len(TEXT_STEPS) else "days"
    await state.wait_for(session, person_id, STATE, now, week=current.week, step=step, **fields)
    return Draft(current.week, step, fields)


async def answer_days(
    session: AsyncSession, person_id: int, days: int, now: datetime
) -> Draft | None:
    current = await draft(session, person_id)
    if current is None or current.step != "days" or not 1 <= days <= 7:
        return None
    fields = {**current.fields, "days": days}
    await state.wait_for(session, person_id, STATE, now, week=current.week, step="confidence",
                         **fields)
    return Draft(current.week, "confidence", fields)


async def answer_confidence(
    session: AsyncSession, person_id: int, membership_id: int, confidence: int, now: datetime
) -> ActionPlan | None:
    """Write (or rewrite, after making it smaller) the plan with the person's confidence."""
    current = await draft(session, person_id)
    if current is None or current.step != "confidence" or not 0 <= confidence <= 10:
        return None
    fields = current.fields
    plan = None
    if "plan_id" in fields:
        plan = await session.get(ActionPlan, int(fields["plan_id"]))
        if plan is not None and plan.membership_id != membership_id:
            plan = None
    if plan is None:
        plan = ActionPlan(membership_id=membership_id, week=current.week, created_at=now,
                          what="", confidence=0)
        session.add(plan)
    plan.what, plan.how_much, plan.when = fields["what"], fields["how_much"], fields["when"]
    plan.days_per_week, plan.confidence = int(fields["days"]), confidence
    await session.flush()
    await state.stop_waiting(session, person_id)
    return plan


async def make_smaller(
    session: AsyncSession, person_id: int, membership_id: int, plan_id: int, now: datetime
) -> ActionPlan | None:
    """Go back to "how much", keeping what the person wants to do."""
    plan = await session.get(ActionPlan, plan_id)
    if plan is None or plan.membership_id != membership_id:
        return None
    await state.wait_for(session, person_id, STATE, now, week=plan.week, step="how_much",
                         what=plan.what, plan_id=plan.id)
    return plan


async def own_plan(session: AsyncSession, membership_id: int, plan_id: int) -> ActionPlan | None:
    plan = await session.get(ActionPlan, plan_id)
    return plan if plan is not None and plan.membership_id == membership_id else None


async def record_outcome(
    session: AsyncSession, membership_id: int, week: int, outcome: str, now: datetime
) -> bool:
    """The check-in of week ``week + 1`` says how the plan of ``week`` went."""
    plan = await session.scalar(
        select(ActionPlan)
        .where(ActionPlan.membership_id == membership_id, ActionPlan.week == week)
        .order_by(ActionPlan.created_at.desc())
        .limit(1)
    )
    if plan is None:
        return False
    plan.outcome, plan.outcome_at = outcome, now
    return True


# -- screens ---------------------------------------------------------------------------------


def offer_screen(tr: Tr, week: int) -> Screen:
    return Screen.of(
        tr._("Would you like to make a small plan for the coming week?"),
        [Button(tr._("Make a plan"), callback(ACTION, "new", week))],
    )


def step_screen(tr: Tr, step: str) -> Screen:
    match step:
        case "what":
            return Screen.of("\n\n".join((
                tr._("<b>Your plan for the week</b>"),
                tr._("What would you like to do? Choose something small that you want to do. "
                     "Write a few words, for example “go for a walk”."),
            )))
        case "how_much":
            return Screen.of(tr._("How much? For example “10 minutes” or “one page”."))
        case "when":
            return Screen.of(tr._("When in the day? For example “after lunch”."))
        case "days":
            days = [Button(str(n), callback(ACTION, "d", n)) for n in range(1, 8)]
            return Screen.of(tr._("On how many days this week?"), days[:4], days[4:])
        case _:
            scale = [Button(str(n), callback(ACTION, "c", n)) for n in range(11)]
            return Screen.of(
                tr._("How sure are you that you will do all of it? "
                     "0 is not sure at all, 10 is completely sure."),
                scale[:6], scale[6:],
            )


def too_long_screen(tr: Tr) -> Screen:
    return Screen.of(tr._("Please keep it short, at most {max} characters.", max=MAX_TEXT))


def summary(tr: Tr, plan: ActionPlan) -> str:
    return tr.n_(
        "{what}, {how_much}, {when}, on {n} day this week.",
        "{what}, {how_much}, {when}, on {n} days this week.",
        plan.days_per_week or 0,
        what=escape(plan.what), how_much=escape(plan.how_much or ""),
        when=escape(plan.when or ""),
    )


def low_confidence_screen(tr: Tr, plan: ActionPlan) -> Screen:
    return Screen.of(
        "\n\n".join((
            tr._("Your plan: {plan}", plan=summary(tr, plan)),
            tr._("Plans that feel a bit easier often work better. "
                 "Would you like to make it smaller or easier?"),
        )),
        [Button(tr._("Make it smaller"), callback(ACTION, "s", plan.id))],
        [Button(tr._("Keep my plan"), callback(ACTION, "k", plan.id))],
    )


def plan_done_screen(tr: Tr, plan: ActionPlan) -> Screen:
    return Screen.of("\n\n".join((
        tr._("<b>Your plan</b>"),
        summary(tr, plan),
        tr._("You are {confidence} out of 10 sure. Good luck! "
             "At the next check-in I will ask how it went.", confidence=plan.confidence),
    )))


def not_planning_screen(tr: Tr) -> Screen:
    return Screen.of(tr._("That plan is finished. Type /plan to make a new one."))
