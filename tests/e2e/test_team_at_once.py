"""A whole team at once: simulated people acting in the same instant, on SQLite and PostgreSQL,
through the real Application and the local Bot API.

Every step is taken by everyone together (``asyncio.gather``), so the bot sees the updates
interleaved as a team in a webinar produces them. Each test counts that every action succeeded
exactly once and that nobody got an apology; the counts are printed in the test summary.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from bot.sandbox import Sandbox, open_sandbox
from bot.settings import Settings
from dialogs.coordinator import coordinator_invites
from dialogs.delivery.kinds import InstructorKind, Kind
from dialogs.invites import create_invite
from storage.clock import FrozenClock
from storage.models import (
    Answer,
    Broadcast,
    BroadcastStatus,
    CoordinatorGrant,
    InviteRole,
    Membership,
    ModuleProgress,
    OutboxMessage,
    OutboxStatus,
    QuestionnaireResponse,
    Role,
    Team,
)
from tests.figures import record_figure

from .helpers import LANGUAGE_BUTTON, WORDS, make_team, texts

LANGUAGES = ("da", "nb", "en")
# Hold 3's first webinar is Thursday 7 January 2027, 19:00 in Copenhagen.
AFTER_WEBINAR_1 = datetime(2027, 1, 8, 10, 0, tzinfo=UTC)
APOLOGIES = ("Sorry, something went wrong", "Undskyld, der gik noget galt",
             "Beklager, noe gikk galt")


@pytest.fixture
async def crowd(settings: Settings, clock: FrozenClock, db_url: str) -> AsyncIterator[Sandbox]:
    """The real bot on a fresh database of either backend."""
    async with open_sandbox(settings=settings, database_url=db_url, clock=clock) as sandbox:
        yield sandbox


def backend(db_url: str) -> str:
    return "postgresql" if db_url.startswith("postgresql") else "sqlite"


async def together(actions: Iterable[Awaitable[None]]) -> None:
    """Everyone at once; the first failure is raised after all have finished."""
    results = await asyncio.gather(*actions, return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            raise result


def apologies(sandbox: Sandbox, chats: Iterable[int]) -> int:
    return sum(1 for chat in chats for text in texts(sandbox, chat)
               if any(words in text for words in APOLOGIES))


class _Errors(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record.getMessage())


@contextmanager
def logged_errors() -> Iterator[list[str]]:
    handler = _Errors()
    logging.getLogger().addHandler(handler)
    try:
        yield handler.records
    finally:
        logging.getLogger().removeHandler(handler)


def language(user_id: int) -> str:
    return LANGUAGES[user_id % len(LANGUAGES)]


Label = Callable[[str], str]
ONBOARDING: tuple[Label, ...] = (
    lambda lang: LANGUAGE_BUTTON[lang],
    lambda lang: WORDS[lang].next,
    lambda lang: WORDS[lang].agree,
    lambda lang: WORDS[lang].adult,
    lambda lang: WORDS[lang].use_name.format(name="Kim"),
)


async def onboard_together(sandbox: Sandbox, people: Iterable[int], code: str) -> None:
    """Everyone opens the link, then takes each onboarding step in the same instant."""
    people = list(people)
    for person in people:
        sandbox.api.add_user(person, "Kim", language_code=language(person))
    await together(sandbox.send_text(person, f"/start {code}") for person in people)
    for label in ONBOARDING:
        await together(sandbox.press(person, label(language(person))) for person in people)


async def participants_in(sandbox: Sandbox, team_id: int) -> int:
    async with sandbox.services.sessions() as session:
        return await session.scalar(select(func.count()).select_from(Membership).where(
            Membership.team_id == team_id, Membership.role == Role.PARTICIPANT)) or 0


async def time_passes(sandbox: Sandbox, clock: FrozenClock, until: datetime) -> None:
    clock.set(until)
    assert sandbox.pace is not None
    assert sandbox.delivery is not None
    sandbox.pace.pause(300)
    await sandbox.delivery.run_once()


# -- 30 people onboarding together -------------------------------------------------------------


async def test_thirty_people_tapping_through_onboarding_together_all_join(
    crowd: Sandbox, db_url: str
) -> None:
    created = await make_team(crowd)
    people = range(60_001, 60_031)
    with logged_errors() as errors:
        await onboard_together(crowd, people, created.participant_invite.code)
    joined = await participants_in(crowd, created.team.id)
    sorry = apologies(crowd, people)
    record_figure(f"team at once [{backend(db_url)}]: 30 onboarding together -> "
                  f"{joined} joined, {sorry} apologies")
    assert (joined, sorry, errors) == (30, 0, [])
    # Each of them got to the end: welcomed in their own language, module 1 open.
    for person in people:
        assert any("Hold 3" in text and "Kim" in text for text in texts(crowd, person))


# -- 15 answering the same check-in item together ----------------------------------------------


async def test_fifteen_answering_the_same_check_in_item_together_are_all_stored(
    crowd: Sandbox, clock: FrozenClock, db_url: str
) -> None:
    created = await make_team(crowd)
    people = list(range(61_001, 61_016))
    await onboard_together(crowd, people, created.participant_invite.code)
    await time_passes(crowd, clock, AFTER_WEBINAR_1)
    async with crowd.services.sessions() as session:
        prompts = dict((await session.execute(
            select(OutboxMessage.chat_id, OutboxMessage.telegram_message_id).where(
                OutboxMessage.kind == Kind.CHECKIN, OutboxMessage.status == OutboxStatus.SENT))
        ).all())
    assert sorted(prompts) == people
    start = {"da": "Start", "nb": "Start", "en": "Start"}
    with logged_errors() as errors:
        await together(crowd.press(person, start[language(person)],
                                   message_id=prompts[person]) for person in people)
        # The first question is on screen for all: everyone taps "7" in the same instant.
        await together(crowd.press(person, "7") for person in people)
    async with crowd.services.sessions() as session:
        stored = await session.scalar(
            select(func.count()).select_from(Answer)
            .join(QuestionnaireResponse, QuestionnaireResponse.id == Answer.response_id)
            .where(QuestionnaireResponse.occasion == "checkin-1", Answer.item_key == "coping",
                   Answer.value_number == 7))
    sorry = apologies(crowd, people)
    record_figure(f"team at once [{backend(db_url)}]: 15 answering one check-in item together "
                  f"-> {stored} stored, {sorry} apologies")
    assert (stored, sorry, errors) == (15, 0, [])


# -- two instructors broadcasting at once ------------------------------------------------------


async def become_instructor(sandbox: Sandbox, user_id: int, code: str, name: str) -> None:
    sandbox.api.add_user(user_id, name, language_code="en")
    await sandbox.send_text(user_id, f"/start {code}")
    await sandbox.press(user_id, "I agree")
    await sandbox.press(user_id, f"Use “{name}”")


async def test_two_instructors_confirming_broadcasts_at_once_both_go_out(
    crowd: Sandbox, clock: FrozenClock, db_url: str
) -> None:
    created = await make_team(crowd)
    async with crowd.services.sessions.begin() as session:
        team = await session.get(Team, created.team.id)
        assert team is not None
        second = await create_invite(session, team=team, role=InviteRole.INSTRUCTOR,
                                     now=clock.now(), created_by="test")
    ida, ole = 62_001, 62_002
    await together((become_instructor(crowd, ida, created.instructor_invite.code, "Ida"),
                    become_instructor(crowd, ole, second.code, "Ole")))
    people = list(range(62_101, 62_104))
    await onboard_together(crowd, people, created.participant_invite.code)
    await time_passes(crowd, clock, clock.now() + timedelta(minutes=5))

    instructors = (ida, ole)
    await together(crowd.send_text(person, "/broadcast") for person in instructors)
    await together(crowd.send_text(person, f"Hello from {person}") for person in instructors)
    with logged_errors() as errors:
        await together(crowd.press(person, "Send") for person in instructors)
    await time_passes(crowd, clock, clock.now() + timedelta(minutes=5))

    async with crowd.services.sessions() as session:
        confirmed = await session.scalar(select(func.count()).select_from(Broadcast).where(
            Broadcast.status == BroadcastStatus.CONFIRMED))
        sent = await session.scalar(select(func.count()).select_from(OutboxMessage).where(
            OutboxMessage.kind == InstructorKind.BROADCAST,
            OutboxMessage.status == OutboxStatus.SENT))
    sorry = apologies(crowd, (*instructors, *people))
    record_figure(f"team at once [{backend(db_url)}]: 2 instructors confirming at once -> "
                  f"{confirmed} broadcasts sent to {sent} of 6 copies, {sorry} apologies")
    assert (confirmed, sent, sorry, errors) == (2, 6, 0, [])
    for person in people:
        got = texts(crowd, person)
        assert any(f"Hello from {ida}" in text for text in got)
        assert any(f"Hello from {ole}" in text for text in got)


# -- one single-use link opened by five at once ------------------------------------------------


@pytest.mark.parametrize("role", ["instructor", "coordinator"])
async def test_a_single_use_link_opened_by_five_at_once_makes_exactly_one(
    crowd: Sandbox, clock: FrozenClock, db_url: str, role: str
) -> None:
    created = await make_team(crowd)
    if role == "instructor":
        code, accept = created.instructor_invite.code, "I agree"
    else:
        async with crowd.services.sessions.begin() as session:
            ((_, new),) = await coordinator_invites(session, ["Køge"], now=clock.now(),
                                                    actor="test")
        code, accept = new.code, "Accept"
    people = list(range(63_001, 63_006))
    for person in people:
        crowd.api.add_user(person, "Sam", language_code="en")
    await together(crowd.send_text(person, f"/start {code}") for person in people)
    with logged_errors() as errors:
        await together(crowd.press(person, accept) for person in people)

    async with crowd.services.sessions() as session:
        if role == "instructor":
            made = await session.scalar(select(func.count()).select_from(Membership).where(
                Membership.role == Role.INSTRUCTOR))
        else:
            made = await session.scalar(select(func.count()).select_from(CoordinatorGrant))
    refusals = sum(1 for person in people
                   if any("no longer valid" in t or "already been used" in t
                          for t in texts(crowd, person)))
    sorry = apologies(crowd, people)
    record_figure(f"team at once [{backend(db_url)}]: one single-use {role} link opened by 5 "
                  f"at once -> {made} {role}, {refusals} kind refusals, {sorry} apologies")
    assert (made, refusals, sorry, errors) == (1, 4, 0, [])


# -- the outbox sending while people press buttons ---------------------------------------------


async def test_a_dispatcher_batch_and_fifteen_presses_overlapping_leave_nothing_claimed(
    crowd: Sandbox, clock: FrozenClock, db_url: str
) -> None:
    created = await make_team(crowd)
    people = list(range(64_001, 64_016))
    await onboard_together(crowd, people, created.participant_invite.code)
    # Time passes without sending: the joiners' baseline and module rows wait in the outbox.
    clock.advance(timedelta(minutes=5))
    assert crowd.pace is not None
    assert crowd.delivery is not None
    crowd.pace.pause(300)
    with logged_errors() as errors:
        await together((
            crowd.delivery.run_once(),
            *(crowd.press(person, WORDS[language(person)].prepared) for person in people),
        ))
        await crowd.delivery.run_once()
    async with crowd.services.sessions() as session:
        claimed = await session.scalar(select(func.count()).select_from(OutboxMessage).where(
            OutboxMessage.status == OutboxStatus.CLAIMED))
        sent = await session.scalar(select(func.count()).select_from(OutboxMessage).where(
            OutboxMessage.status == OutboxStatus.SENT))
        prepared = await session.scalar(select(func.count()).select_from(ModuleProgress).where(
            ModuleProgress.done_at.is_not(None)))
    sorry = apologies(crowd, people)
    record_figure(f"team at once [{backend(db_url)}]: a dispatcher batch overlapping 15 presses "
                  f"-> {prepared} prepared, {sent} sent, {claimed} left claimed, "
                  f"{len(errors)} errors, {sorry} apologies")
    assert (prepared, claimed, sorry, errors) == (15, 0, 0, [])
    assert (sent or 0) >= 15
