"""Use-cases for answering a questionnaire, on an AsyncSession the caller owns.

Nothing here commits or knows Telegram: a handler opens the transaction, calls one of these
with plain values and renders the returned :class:`Outcome`. Where a person is lives in
``QuestionnaireResponse.current_item`` and every answer is its own row at once, so someone who
stops halfway carries on at the next item on any worker, also after a restart.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload
from sqlalchemy.sql import Select

from dialogs.delivery.kinds import QUESTIONNAIRE_PROMPT_KINDS
from dialogs.occasion import Occasion
from dialogs.questionnaires import engine
from dialogs.questionnaires.engine import AnswerValue, InvalidAnswer
from dialogs.questionnaires.model import Item, Questionnaire, TextItem
from storage.models import (
    Answer,
    Language,
    Membership,
    OutboxMessage,
    OutboxStatus,
    QuestionnaireResponse,
)

# The outbox rows that open a questionnaire for a person: its prompts.


class Skipped(enum.Enum):
    """The answer "skip" (a single value, so `value is SKIPPED` reads plainly)."""

    SKIPPED = "skipped"


SKIPPED = Skipped.SKIPPED


class Status(enum.StrEnum):
    NEXT = "next"  # show `item`
    FINISHED = "finished"  # this answer completed the questionnaire
    ALREADY_FINISHED = "already_finished"  # the response was complete before: nothing changed
    STALE = "stale"  # no such response for this questionnaire/person, or no such item


@dataclass(frozen=True)
class Outcome:
    status: Status
    response_id: int | None
    item: Item | None = None
    position: int = 0  # 1-based position of `item`
    total: int = 0
    can_go_back: bool = False
    # The stored answer of `item`, if any (after going back): the screen marks it.
    current: AnswerValue | None = None
    scores: Mapping[str, float | None] = field(default_factory=dict)
    # Show the safety message now (at most once per response).
    show_safety: bool = False
    # A double tap or a tap on an older message: the person already sees the right item,
    # so the handler only acknowledges the tap instead of sending the item again.
    repeated: bool = False


def step(
    q: Questionnaire,
    response: QuestionnaireResponse,
    *,
    show_safety: bool = False,
    repeated: bool = False,
) -> Outcome:
    """Where a loaded response stands (its `answers` must be loaded)."""
    answers = {a.item_key: a for a in response.answers}
    if response.completed_at is not None:
        return Outcome(
            Status.ALREADY_FINISHED,
            response.id,
            total=len(q.items),
            scores=engine.score(q, _values(answers)),
            repeated=repeated,
        )
    item = (q.item(response.current_item) if response.current_item else None) or (
        engine.next_item(q, answers)
    )
    if item is None:
        # Every item answered yet not completed: only after the file changed; finish it on
        # the next write (see start_or_resume), but show nothing to answer.
        return Outcome(Status.ALREADY_FINISHED, response.id, total=len(q.items))
    index = q.index(item.key)
    return Outcome(
        Status.NEXT,
        response.id,
        item=item,
        position=index + 1,
        total=len(q.items),
        can_go_back=index > 0,
        current=_value(answers.get(item.key)),
        show_safety=show_safety,
        repeated=repeated,
    )


def _value(answer: Answer | None) -> AnswerValue | None:
    if answer is None or answer.skipped:
        return None
    return answer.value_text if answer.value_number is None else answer.value_number


def _values(answers: Mapping[str, Answer]) -> dict[str, float | None]:
    return {key: (None if a.skipped else a.value_number) for key, a in answers.items()}


def _response_query(*, lock: bool) -> Select[tuple[QuestionnaireResponse]]:
    stmt = select(QuestionnaireResponse).options(selectinload(QuestionnaireResponse.answers))
    if lock:
        # PostgreSQL: a double tap handled by two workers queues here instead of racing.
        # (SQLite ignores it; it has one writer anyway.)
        stmt = stmt.with_for_update(of=QuestionnaireResponse)
    # Reload even when the session already holds the row: another worker may have moved on.
    return stmt.execution_options(populate_existing=True)


async def load_response(
    session: AsyncSession, response_id: int, *, person_id: int | None = None, lock: bool = False
) -> QuestionnaireResponse | None:
    """A response with its answers; None if it does not exist or is not `person_id`'s."""
    stmt = _response_query(lock=lock).where(QuestionnaireResponse.id == response_id)
    if person_id is not None:
        stmt = stmt.join(Membership, Membership.id == QuestionnaireResponse.membership_id).where(
            Membership.person_id == person_id
        )
    return await session.scalar(stmt)


async def occasion_is_open(
    session: AsyncSession, membership: Membership, occasion: Occasion, now: datetime
) -> bool:
    """Whether this person may start the questionnaire of ``occasion`` (``checkin-3``,
    ``post`` …) now: its prompt was sent to them, or the schedule opens it now (a prompt due
    and not expired, waiting only for quiet hours or a pause), or they began it already.

    The occasion in a "Start" button is only a request: without this, a forged button could
    make a response for any occasion, and it would reach the research exports."""
    stored = str(occasion)
    begun = await session.scalar(select(QuestionnaireResponse.id).where(
        QuestionnaireResponse.membership_id == membership.id,
        QuestionnaireResponse.occasion == stored))
    if begun is not None:
        return True
    prompts = await session.execute(
        select(OutboxMessage.status, OutboxMessage.due_at, OutboxMessage.expires_at,
               OutboxMessage.payload)
        .where(OutboxMessage.person_id == membership.person_id,
               OutboxMessage.kind.in_(QUESTIONNAIRE_PROMPT_KINDS))
    )
    for status, due_at, expires_at, payload in prompts:
        payload = payload or {}
        if payload.get("occasion") != stored \
                or payload.get("membership_id") not in (None, membership.id):
            continue
        if status == OutboxStatus.SENT:
            return True
        opened = due_at <= now and (expires_at is None or now < expires_at)
        if status in (OutboxStatus.PENDING, OutboxStatus.CLAIMED) and opened:
            return True
    return False


async def start_or_resume(
    session: AsyncSession,
    membership_id: int,
    questionnaire: Questionnaire,
    occasion: str,
    language: Language | str,
    now: datetime,
) -> QuestionnaireResponse:
    """The response for this membership, questionnaire and occasion, begun if new.

    A completed response comes back as it is (the caller shows "already answered"). A row
    planned ahead by the scheduler (not started yet) is started now, on the current version
    of the questionnaire and in the person's language.
    """
    q = questionnaire
    stmt = _response_query(lock=True).where(
        QuestionnaireResponse.membership_id == membership_id,
        QuestionnaireResponse.questionnaire_key == q.key,
        QuestionnaireResponse.occasion == occasion,
    )
    response = await session.scalar(stmt)
    if response is None:
        response = QuestionnaireResponse(
            membership_id=membership_id,
            questionnaire_key=q.key,
            questionnaire_version=q.version,
            occasion=occasion,
            language=Language(language),
            started_at=now,
            current_item=q.items[0].key,
            answers=[],
        )
        try:
            # A savepoint: if a second worker created it a moment ago, use theirs.
            async with session.begin_nested():
                session.add(response)
        except IntegrityError:
            response = await session.scalar(stmt)
            assert response is not None
        else:
            return response
    if response.completed_at is not None:
        return response
    if response.started_at is None:
        response.started_at = now
        response.questionnaire_version = q.version
        response.language = Language(language)
    answered = {a.item_key for a in response.answers}
    if response.current_item is None or q.item(response.current_item) is None:
        # Not begun yet, or the item was removed in a newer version of the file.
        nxt = engine.next_item(q, answered)
        if nxt is None:
            response.completed_at = now
            response.current_item = None
        else:
            response.current_item = nxt.key
    await session.flush()
    return response


async def resume(
    session: AsyncSession,
    response_id: int,
    now: datetime,
    *,
    questionnaire: Questionnaire,
    person_id: int | None = None,
) -> Outcome:
    """Where a response stands, starting it if it was only planned (the "open" button)."""
    response = await load_response(session, response_id, person_id=person_id, lock=True)
    if response is None or response.questionnaire_key != questionnaire.key:
        return Outcome(Status.STALE, response_id)
    response = await start_or_resume(
        session, response.membership_id, questionnaire, response.occasion, response.language, now
    )
    return step(questionnaire, response)


async def record_answer(
    session: AsyncSession,
    response_id: int,
    item_key: str,
    value: AnswerValue | Skipped,
    now: datetime,
    *,
    questionnaire: Questionnaire,
    person_id: int | None = None,
) -> Outcome:
    """Save one answer (or a skip) at once and say what comes next.

    The same item answered again updates its one row (a double tap, or a changed mind after
    going back). A completed response refuses every answer. Raises InvalidAnswer for a skip
    of a required item or a value the item cannot hold (use engine.parse_answer first).
    """
    q = questionnaire
    response = await load_response(session, response_id, person_id=person_id, lock=True)
    item = q.item(item_key)
    if response is None or response.questionnaire_key != q.key or item is None:
        return Outcome(Status.STALE, response_id)
    answers = {a.item_key: a for a in response.answers}
    if isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if response.completed_at is not None:
        same = item_key in answers and _same(answers[item_key], value)
        return step(q, response, repeated=same)
    if value is not SKIPPED:
        _check_value(item, value)
    elif item.required:
        raise InvalidAnswer(engine.REASON_REQUIRED)

    current_key = response.current_item
    if current_key is None or q.item(current_key) is None:
        nxt = engine.next_item(q, answers)
        current_key = nxt.key if nxt else item_key
    answer = answers.get(item_key)
    if answer is None:
        answer = Answer(item_key=item_key)
        response.answers.append(answer)
        answers[item_key] = answer
    answer.skipped = value is SKIPPED
    answer.value_number = value if isinstance(value, float) else None
    answer.value_text = value if isinstance(value, str) else None
    answer.answered_at = now
    if response.started_at is None:
        response.started_at = now

    show_safety = False
    if value is not SKIPPED and engine.needs_safety_message(q, item, value):
        show_safety = response.safety_shown_at is None
        if show_safety:
            response.safety_shown_at = now

    if item_key != current_key:
        # An answer on an older message (or a double tap): saved, but the person stays at
        # the item they are on.
        response.current_item = current_key
        await session.flush()
        return step(q, response, show_safety=show_safety, repeated=True)

    nxt = engine.next_item(q, answers, after=item_key)
    if nxt is None:
        response.completed_at = now
        response.current_item = None
        await session.flush()
        return Outcome(
            Status.FINISHED,
            response.id,
            total=len(q.items),
            scores=engine.score(q, _values(answers)),
            show_safety=show_safety,
        )
    response.current_item = nxt.key
    await session.flush()
    return step(q, response, show_safety=show_safety)


async def go_back(
    session: AsyncSession,
    response_id: int,
    from_item_key: str,
    *,
    questionnaire: Questionnaire,
    person_id: int | None = None,
) -> Outcome:
    """Show the item before `from_item_key` again (its earlier answer marked)."""
    q = questionnaire
    response = await load_response(session, response_id, person_id=person_id, lock=True)
    if response is None or response.questionnaire_key != q.key or q.item(from_item_key) is None:
        return Outcome(Status.STALE, response_id)
    if response.completed_at is not None:
        return step(q, response)
    if response.current_item != from_item_key:
        # "Back" on an older message: stay where the person is.
        return step(q, response, repeated=True)
    previous = engine.previous_item(q, from_item_key)
    if previous is None:
        return step(q, response, repeated=True)
    response.current_item = previous.key
    await session.flush()
    return step(q, response)


def _check_value(item: Item, value: AnswerValue) -> None:
    # parse_answer already did this for input from a person; this guards other callers.
    if isinstance(item, TextItem):
        if not isinstance(value, str) or not value.strip():
            raise InvalidAnswer(engine.REASON_EMPTY)
        if len(value) > item.max_length:
            raise InvalidAnswer(engine.REASON_TOO_LONG)
    elif not isinstance(value, float) or value not in item.values:
        raise InvalidAnswer(engine.REASON_OUT_OF_RANGE)


def _same(answer: Answer, value: AnswerValue | Skipped) -> bool:
    if value is SKIPPED:
        return answer.skipped
    return not answer.skipped and _value(answer) == value
