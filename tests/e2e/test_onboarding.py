"""Joining a team from a deep link, as a participant on Telegram sees it."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, inspect, select

from bot.demo import seed_demo
from bot.sandbox import Sandbox, open_sandbox
from bot.settings import Settings
from storage.clock import FrozenClock
from storage.models import Base, Consent, Membership, ModuleProgress, Person

from .helpers import LANGUAGE_BUTTON, WORDS, join, make_team, participant_code, texts

ANNA = 7001

PLAN_FIRST_LINE = {
    "da": "1. torsdag den 7. januar 2027 kl. 19.00",
    "nb": "1. torsdag 7. januar 2027 kl. 19:00",
    "en": "1. Thursday, 7 January 2027 at 19:00",
}


@pytest.mark.parametrize("language", ["da", "nb", "en"])
async def test_a_participant_joins_sees_the_plan_and_prepares_module_1(
    sandbox: Sandbox, language: str
) -> None:
    created = await make_team(sandbox)
    await join(sandbox, ANNA, created.participant_invite.code, language=language)

    shown = texts(sandbox, ANNA)
    plan = next(t for t in shown if PLAN_FIRST_LINE[language] in t)
    assert "6. " in plan
    module_1 = sandbox.api.last_message_to(ANNA)
    assert module_1.text.startswith({"da": "Modul 1", "nb": "Modul 1", "en": "Module 1"}[language])
    assert any(b.get("url") for b in module_1.buttons())  # the e-learning link

    await sandbox.press(ANNA, WORDS[language].prepared)
    assert sandbox.api.last_message_to(ANNA).button_texts()[-1].startswith("✓ ")
    await sandbox.send_text(ANNA, "/course")
    overview = sandbox.api.last_message_to(ANNA).text
    assert "✅ 1." in overview
    assert "🔒 2." in overview

    async with sandbox.services.sessions() as session:
        person = await session.scalar(select(Person).where(Person.telegram_user_id == ANNA))
        assert person is not None
        assert (person.display_name, person.locale) == ("Kim", language)
        consent = await session.scalar(select(Consent).where(Consent.person_id == person.id))
        assert consent is not None
        assert consent.given
        assert consent.version
        membership = await session.scalar(
            select(Membership).where(Membership.person_id == person.id)
        )
        assert membership is not None
        assert membership.study_id.startswith("P-")


async def test_the_plan_keeps_19_local_across_daylight_saving(sandbox: Sandbox) -> None:
    # Six Thursdays from 11 March 2027: summer time starts on 28 March.
    created = await make_team(sandbox, first_session=datetime(2027, 3, 11, 19, 0))
    await join(sandbox, ANNA, created.participant_invite.code, language="da")
    plan = next(t for t in texts(sandbox, ANNA) if t.startswith("Din kursusplan"))
    for day in ("11. marts", "18. marts", "25. marts", "1. april", "8. april", "15. april"):
        assert f"{day} 2027 kl. 19.00" in plan
    utc_hours = {start.hour for start in created.session_starts}
    assert utc_hours == {18, 17}  # the UTC time moves; the local time does not


@pytest.fixture
async def on_either_database(
    settings: Settings, clock: FrozenClock, db_url: str
) -> AsyncIterator[Sandbox]:
    """The seeded sandbox on SQLite and on PostgreSQL."""
    async with open_sandbox(settings=settings, database_url=db_url, clock=clock) as running:
        await seed_demo(running.services.sessions, clock)
        yield running


async def test_refusing_consent_stores_nothing(on_either_database: Sandbox) -> None:
    sandbox = on_either_database
    created = await make_team(sandbox)
    sandbox.api.add_user(ANNA, "Anna", language_code="da")
    await sandbox.send_text(ANNA, f"/start {created.participant_invite.code}")
    await sandbox.press(ANNA, LANGUAGE_BUTTON["da"])
    await sandbox.press(ANNA, WORDS["da"].next)
    await sandbox.press(ANNA, WORDS["da"].refuse)
    assert "ikke gemt noget om dig" in sandbox.api.last_message_to(ANNA).text

    # Look in every table for any trace of this person: a column holding the Telegram ID, or
    # text (names, payloads, audit details) naming it as a number of its own. Moments are
    # read as datetimes, so their digits (microseconds ending in …7001) cannot pass for it.
    mention = re.compile(rf"(?<![0-9]){ANNA}(?![0-9])")
    async with sandbox.engine.connect() as connection:
        tables = await connection.run_sync(lambda c: set(inspect(c).get_table_names()))
        assert tables >= set(Base.metadata.tables)  # every table of the schema is searched
        for table in Base.metadata.sorted_tables:
            for row in (await connection.execute(select(table))).all():
                for column, value in zip(table.columns, row, strict=True):
                    if isinstance(value, datetime):
                        continue
                    assert not mention.search(str(value)), (
                        f"{table.name}.{column.name} mentions the person")
    async with sandbox.services.sessions() as session:
        assert await session.scalar(select(Person).where(Person.telegram_user_id == ANNA)) is None


async def test_an_under_age_person_is_told_kindly_and_nothing_is_stored(sandbox: Sandbox) -> None:
    created = await make_team(sandbox)
    sandbox.api.add_user(ANNA, "Anna", language_code="nb")
    await sandbox.send_text(ANNA, f"/start {created.participant_invite.code}")
    for label in (LANGUAGE_BUTTON["nb"], WORDS["nb"].next, WORDS["nb"].agree, WORDS["nb"].minor):
        await sandbox.press(ANNA, label)
    assert "voksne" in sandbox.api.last_message_to(ANNA).text
    async with sandbox.services.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Person)) == 1  # demo only


@pytest.mark.parametrize(
    ("payload", "words"),
    [
        ("NotARealCode_123456789", "kunne ikke finde"),
        ("../../etc/passwd", "kunne ikke finde"),
        ("x" * 200, "kunne ikke finde"),
    ],
)
async def test_a_wrong_code_says_how_to_get_a_new_link(
    sandbox: Sandbox, payload: str, words: str
) -> None:
    sandbox.api.add_user(ANNA, "Anna", language_code="da")
    await sandbox.send_text(ANNA, f"/start {payload}")
    reply = sandbox.api.last_message_to(ANNA).text
    assert words in reply
    assert "nyt link" in reply


async def test_an_expired_and_a_revoked_code(sandbox: Sandbox) -> None:
    from dialogs.coordinator import revoke

    created = await make_team(sandbox)
    short = await participant_code(sandbox, created.team.id, valid_for=timedelta(days=1))
    sandbox.services.clock.advance(timedelta(days=2))  # type: ignore[attr-defined]
    sandbox.api.add_user(ANNA, "Anna", language_code="en")
    await sandbox.send_text(ANNA, f"/start {short}")
    assert "expired" in sandbox.api.last_message_to(ANNA).text

    async with sandbox.services.sessions.begin() as session:
        await revoke(session, created.participant_invite.invite.id,
                     now=sandbox.services.clock.now(), actor="test")
    await sandbox.send_text(ANNA, f"/start {created.participant_invite.code}")
    assert "no longer valid" in sandbox.api.last_message_to(ANNA).text


async def test_repeated_wrong_codes_are_throttled(sandbox: Sandbox) -> None:
    created = await make_team(sandbox)
    sandbox.api.add_user(ANNA, "Anna", language_code="en")
    for attempt in range(4):
        await sandbox.send_text(ANNA, f"/start wrongcode{attempt}")
        assert "could not find that invite code" in sandbox.api.last_message_to(ANNA).text
    # Each wrong code counts once: four are not yet five.
    await sandbox.send_text(ANNA, f"/start {created.participant_invite.code}")
    assert "invited to the coping course" in sandbox.api.last_message_to(ANNA).text
    await sandbox.send_text(ANNA, "/start wrongcode4")
    await sandbox.send_text(ANNA, f"/start {created.participant_invite.code}")
    assert "too many wrong codes" in sandbox.api.last_message_to(ANNA).text
    sandbox.services.clock.advance(timedelta(hours=1, minutes=1))  # type: ignore[attr-defined]
    await sandbox.send_text(ANNA, f"/start {created.participant_invite.code}")
    assert "invited to the coping course" in sandbox.api.last_message_to(ANNA).text


async def test_double_taps_during_onboarding_join_once(sandbox: Sandbox) -> None:
    created = await make_team(sandbox)
    code = created.participant_invite.code
    sandbox.api.add_user(ANNA, "Anna", language_code="en")
    await sandbox.send_text(ANNA, f"/start {code}")
    for label in (LANGUAGE_BUTTON["en"], WORDS["en"].next, WORDS["en"].agree):
        await sandbox.press(ANNA, label)
    message = sandbox.api.last_message_to(ANNA)
    adult = next(b for b in message.buttons() if b["text"] == WORDS["en"].adult)
    first = sandbox.api.press_button(ANNA, message.message_id, adult["callback_data"])
    second = sandbox.api.press_button(ANNA, message.message_id, adult["callback_data"])
    await sandbox.handled(first)
    await sandbox.handled(second)
    async with sandbox.services.sessions() as session:
        memberships = await session.scalar(
            select(func.count()).select_from(Membership).join(Person)
            .where(Person.telegram_user_id == ANNA)
        )
    assert memberships == 1
    assert "already in Hold 3" in sandbox.api.last_message_to(ANNA).text


async def test_joining_again_or_another_team_is_handled(sandbox: Sandbox) -> None:
    first = await make_team(sandbox)
    other = await make_team(sandbox, name="Hold 4")
    await join(sandbox, ANNA, first.participant_invite.code, language="en")
    await sandbox.send_text(ANNA, f"/start {first.participant_invite.code}")
    assert "already in Hold 3" in sandbox.api.last_message_to(ANNA).text
    await sandbox.send_text(ANNA, f"/start {other.participant_invite.code}")
    assert "already in another team" in sandbox.api.last_message_to(ANNA).text


async def test_a_typed_name_with_odd_characters_is_cleaned(sandbox: Sandbox) -> None:
    created = await make_team(sandbox)
    sandbox.api.add_user(ANNA, "Anna", language_code="en")
    await sandbox.send_text(ANNA, f"/start {created.participant_invite.code}")
    for label in (LANGUAGE_BUTTON["en"], WORDS["en"].next, WORDS["en"].agree, WORDS["en"].adult,
                  WORDS["en"].other_name):
        await sandbox.press(ANNA, label)
    await sandbox.send_text(ANNA, "🙂🙂")
    assert "name with letters" in sandbox.api.last_message_to(ANNA).text
    await sandbox.send_text(ANNA, "  Mette\u200b <b>M</b>  ")
    assert texts(sandbox, ANNA)[-3] == "Thank you, Mette <b>M</b>! You are now in Hold 3."


async def test_a_button_from_before_a_restart_still_works(settings, clock, tmp_path) -> None:
    from bot.local_api import LocalBotApi
    from bot.sandbox import HumanPace

    database = f"sqlite:///{tmp_path / 'restart.sqlite3'}"
    pace = HumanPace()
    async with LocalBotApi(clock=pace) as api:
        async with open_sandbox(settings=settings, database_url=database, clock=clock,
                                api=api, pace=pace) as before:
            created = await make_team(before)
            await join(before, ANNA, created.participant_invite.code, language="da")
            await before.send_text(ANNA, "/language")
        # A new process: nothing in memory survives, only the database and the chat.
        async with open_sandbox(settings=settings, database_url=database, clock=clock,
                                api=api, pace=pace) as after:
            await after.press(ANNA, WORDS["da"].prepared)
            async with after.services.sessions() as session:
                done = await session.scalar(select(ModuleProgress.done_at))
            assert done is not None
            await after.press(ANNA, "English")
            assert after.api.last_message_to(ANNA).text.startswith("I will write to you")


async def test_a_forged_later_button_cannot_skip_consent(sandbox: Sandbox) -> None:
    created = await make_team(sandbox)
    code = created.participant_invite.code
    bo = ANNA + 1
    # Bo goes as far as the age question: his "18 or older" button is genuine — for him.
    sandbox.api.add_user(bo, "Bo", language_code="en")
    await sandbox.send_text(bo, f"/start {code}")
    for label in (LANGUAGE_BUTTON["en"], WORDS["en"].next, WORDS["en"].agree):
        await sandbox.press(bo, label)
    bos_adult = next(b["callback_data"] for b in sandbox.api.last_message_to(bo).buttons()
                     if b["text"] == WORDS["en"].adult)
    *_, mac = bos_adult.split(":")

    # Anna says no to consent, then her client sends "18 or older" buttons of its own making.
    sandbox.api.add_user(ANNA, "Anna", language_code="en")
    await sandbox.send_text(ANNA, f"/start {code}")
    for label in (LANGUAGE_BUTTON["en"], WORDS["en"].next, WORDS["en"].refuse):
        await sandbox.press(ANNA, label)
    screen = sandbox.api.last_message_to(ANNA)
    for forged in (f"v1:o18:en:{code}",  # the button as it used to be
                   bos_adult,  # someone else's
                   bos_adult.replace(mac, "0" * len(mac)),  # a made-up signature
                   f"v1:oc:en:{code}"):  # consent without the privacy notice that asks for it
        await sandbox.handled(sandbox.api.press_forged(ANNA, screen.message_id, forged))
    async with sandbox.services.sessions() as session:
        assert await session.scalar(select(Person).where(Person.telegram_user_id == ANNA)) \
            is None
    assert "open your invite link again" in sandbox.api.last_message_to(ANNA).text

    # Bo's own button, a day and more later: too old, and nothing is stored for him either.
    sandbox.services.clock.advance(timedelta(days=1, minutes=1))  # type: ignore[attr-defined]
    await sandbox.press(bo, WORDS["en"].adult)
    async with sandbox.services.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Consent).join(Person).where(
            Person.telegram_user_id.in_([ANNA, bo]))) == 0
    assert "too old" in sandbox.api.last_message_to(bo).text
