"""Who can be reached, from Telegram's own word: blocking and unblocking the bot, groups the
bot is added to, and a double tap that edits a message into the state it is already in."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select

from bot.sandbox import Sandbox, open_sandbox
from bot.settings import Settings
from dialogs.coordinator import coordinator_invites
from storage.clock import FrozenClock
from storage.models import ModuleProgress, OutboxMessage, OutboxStatus, Person

from .helpers import WORDS, join, make_team, texts

IDA = 9401  # instructor
METTE = 9402  # coordinator
PEOPLE = (9501, 9502, 9503, 9504, 9505)
LEA = PEOPLE[-1]
GROUP = -100_999


async def team_of_five(sandbox: Sandbox) -> None:
    created = await make_team(sandbox)
    sandbox.api.add_user(IDA, "Ida", language_code="en")
    await sandbox.send_text(IDA, f"/start {created.instructor_invite.code}")
    await sandbox.press(IDA, "I agree")
    async with sandbox.services.sessions.begin() as session:
        ((_, new),) = await coordinator_invites(session, ["Køge"],
                                                now=sandbox.services.clock.now(), actor="test")
    sandbox.api.add_user(METTE, "Mette", language_code="en")
    await sandbox.send_text(METTE, f"/start {new.code}")
    await sandbox.press(METTE, "Accept")
    for person in PEOPLE:
        await join(sandbox, person, created.participant_invite.code, language="en")


async def waiting_for(sandbox: Sandbox, user_id: int) -> int:
    async with sandbox.services.sessions() as session:
        return await session.scalar(
            select(func.count()).select_from(OutboxMessage).join(Person)
            .where(Person.telegram_user_id == user_id,
                   OutboxMessage.status == OutboxStatus.PENDING)) or 0


async def broadcast_question(sandbox: Sandbox) -> str:
    await sandbox.send_text(IDA, "/broadcast")
    await sandbox.send_text(IDA, "See you on Thursday")
    question = sandbox.api.last_message_to(IDA).text or ""
    await sandbox.press(IDA, "Cancel")
    return question


async def test_blocking_makes_a_person_unreachable_at_once_and_unblocking_brings_them_back(
    sandbox: Sandbox,
) -> None:
    await team_of_five(sandbox)
    assert await waiting_for(sandbox, LEA) > 0  # her baseline, modules, reminders are planned

    blocked = sandbox.api.block(LEA)
    assert blocked is not None
    await sandbox.handled(blocked)  # Telegram's my_chat_member: no send had to fail first
    assert await waiting_for(sandbox, LEA) == 0
    question = await broadcast_question(sandbox)
    assert "Send it to 4 participants in Hold 3?" in question
    assert "1 participant cannot get messages from me right now." in question
    await sandbox.send_text(IDA, "/team")
    roster = sandbox.api.last_message_to(IDA).text or ""
    assert "⚠️ 1 person cannot get messages" in roster
    assert sum(line.endswith("⚠️") for line in roster.splitlines()) == 1
    await sandbox.send_text(METTE, "/failures")
    failures = sandbox.api.last_message_to(METTE).text or ""
    assert "Blocked the bot or left Telegram" in failures
    assert "Hold 3: 1" in failures

    # She unblocks and writes again: reachable, and what is still timely waits for her again.
    await sandbox.send_text(LEA, "/course")
    assert await waiting_for(sandbox, LEA) > 0
    async with sandbox.services.sessions() as session:
        person = await session.scalar(select(Person).where(Person.telegram_user_id == LEA))
    assert person is not None
    assert person.unreachable_at is None
    assert "Send it to 5 participants in Hold 3?" in await broadcast_question(sandbox)


async def test_unblocking_alone_makes_a_person_reachable(sandbox: Sandbox) -> None:
    await team_of_five(sandbox)
    await sandbox.handled(sandbox.api.block(LEA))  # type: ignore[arg-type]
    await sandbox.handled(sandbox.api.unblock(LEA))  # type: ignore[arg-type]
    assert await waiting_for(sandbox, LEA) > 0
    assert "Send it to 5 participants" in await broadcast_question(sandbox)


async def test_a_stranger_blocking_the_bot_stores_nothing(sandbox: Sandbox) -> None:
    sandbox.api.add_user(9600, "Sam", language_code="da")
    await sandbox.send_text(9600, "/help")
    await sandbox.handled(sandbox.api.block(9600))  # type: ignore[arg-type]
    async with sandbox.services.sessions() as session:
        assert await session.scalar(
            select(Person.id).where(Person.telegram_user_id == 9600)) is None


async def test_added_to_a_group_it_says_so_once_and_leaves_once(sandbox: Sandbox) -> None:
    sandbox.api.add_user(PEOPLE[0], "Kim", language_code="da")
    sandbox.api.add_group(GROUP, "Kaffeklubben")
    member, message = sandbox.api.add_bot_to_group(PEOPLE[0], GROUP)
    await sandbox.handled(member)
    await sandbox.handled(message)
    leaves = sandbox.api.calls_to("leaveChat")
    assert len(leaves) == 1
    assert all(c.ok for c in leaves)
    assert len(sandbox.api.messages_to(GROUP)) == 1  # the kind note, once
    assert "privat chat" in (sandbox.api.messages_to(GROUP)[0].text or "")


async def test_a_double_tap_on_done_handled_by_two_workers_at_once_is_harmless(
    settings: Settings, clock: FrozenClock, db_url: str
) -> None:
    async with open_sandbox(settings=settings, database_url=db_url, clock=clock) as sandbox:
        created = await make_team(sandbox)
        kim = PEOPLE[0]
        await join(sandbox, kim, created.participant_invite.code, language="en")
        module = sandbox.api.last_message_to(kim)
        assert module is not None
        done = next(b["callback_data"] for b in module.buttons()
                    if b["text"] == WORDS["en"].prepared)
        # Two workers: each takes one of the two taps and handles it at the same moment
        # (no shared per-chat order, as with several webhook workers).
        application = sandbox.application
        assert application.updater is not None
        await application.updater.stop()
        assert sandbox.pace is not None
        sandbox.pace.pause(10)  # she reads the module first
        mark = len(sandbox.api.calls)
        sandbox.api.press_button(kim, module.message_id, done)
        sandbox.api.press_button(kim, module.message_id, done)
        taps = await application.bot.get_updates()
        assert len(taps) == 2
        await asyncio.gather(*(application.process_update(tap) for tap in taps))

        calls = [c for c in sandbox.api.calls[mark:] if c.method != "getUpdates"]
        assert [(c.method, c.description) for c in calls if not c.ok] == []
        assert not [t for t in texts(sandbox, kim) if "went wrong" in t]
        assert sandbox.api.last_message_to(kim).button_texts()[-1] == "✓ Prepared"
        async with sandbox.services.sessions() as session:
            assert await session.scalar(select(func.count()).select_from(ModuleProgress).where(
                ModuleProgress.done_at.is_not(None))) == 1
