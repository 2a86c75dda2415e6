"""Data rights end to end: /mydata, /delete, withdrawing consent, and retention."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, inspect, select, text

from bot.retention import RetentionService
from bot.sandbox import Sandbox
from dialogs import privacy
from dialogs.retention import course_end
from storage.clock import FrozenClock
from storage.ids import attempt_key
from storage.models import AuditLog, Base, InviteAttempt, Membership, OutboxMessage, Person

from .helpers import join, make_team, texts

ANNA = 918273645
BO = 918273646
ANNA_NAME = "Zephyrine"
BO_NAME = "Quillon"
ANNA_PLAN = ("xylophone practice", "quokka minutes", "vermilion dusk")
BO_PLAN = ("juniper stretching", "marzipan minutes", "obsidian noon")
AFTER_WEBINAR_1 = datetime(2027, 1, 8, 10, 0, tzinfo=UTC)

# The words a person presses and reads, per language.
YES = {"da": "Ja, slet det hele", "nb": "Ja, slett alt", "en": "Yes, delete everything"}
NO = {"da": "Nej, behold mine data", "nb": "Nei, behold dataene mine",
      "en": "No, keep my data"}
WITHDRAW = {"da": "Træk samtykke tilbage", "nb": "Trekk tilbake samtykket",
            "en": "Withdraw consent"}
ERASED = {"da": "Dine data er slettet", "nb": "Dataene dine er slettet",
          "en": "Your data is deleted"}
KEPT = {"da": "Intet er slettet", "nb": "Ingenting er slettet", "en": "Nothing is deleted"}
EXPIRED = {"da": "udløbet", "nb": "utløpt", "en": "expired"}


@pytest.fixture
async def bot(sandbox: Sandbox) -> Sandbox:
    """The sandbox (its application wires the privacy and robustness handlers)."""
    return sandbox


async def make_plan(bot: Sandbox, user_id: int, plan: tuple[str, str, str]) -> None:
    await bot.send_text(user_id, "/plan")
    for answer in plan:
        await bot.send_text(user_id, answer)
    await bot.press(user_id, "5")  # days
    await bot.press(user_id, "8")  # confidence


async def two_participants(bot: Sandbox, clock: FrozenClock, language: str = "en") -> None:
    created = await make_team(bot)
    await join(bot, ANNA, created.participant_invite.code, language=language,
               first_name=ANNA_NAME)
    await join(bot, BO, created.participant_invite.code, language=language, first_name=BO_NAME)
    clock.set(AFTER_WEBINAR_1)
    await make_plan(bot, ANNA, ANNA_PLAN)
    await make_plan(bot, BO, BO_PLAN)


async def study_id(bot: Sandbox, user_id: int) -> str:
    async with bot.services.sessions() as session:
        found = await session.scalar(
            select(Membership.study_id).join(Person).where(Person.telegram_user_id == user_id)
        )
    assert found is not None
    return found


async def all_rows_as_text(bot: Sandbox) -> dict[str, list[str]]:
    """Every row of every table of the sandbox's real database, as text."""
    found: dict[str, list[str]] = {}
    async with bot.engine.connect() as connection:
        tables = await connection.run_sync(lambda c: inspect(c).get_table_names())
        for table in tables:
            # Table names come from the schema itself, not from input.
            rows = (await connection.execute(text(f'SELECT * FROM "{table}"'))).all()  # noqa: S608
            found[table] = [" ".join(map(str, row)) for row in rows]
    return found


# -- the walk covers every table ---------------------------------------------------------------


def test_every_table_referencing_a_person_is_exported_or_declared() -> None:
    """A new table pointing at persons or memberships must be in the export (owned) or be
    declared here as someone else's row that only refers to them."""
    reference_only = {"broadcasts"}  # the team's message; the author is SET NULL on erasure

    def reaches(table_name: str, seen: frozenset[str] = frozenset()) -> bool:
        for fk in Base.metadata.tables[table_name].foreign_keys:
            target = fk.column.table.name
            if target in seen:
                continue
            if target == "persons" or reaches(target, seen | {table_name}):
                return True
        return False

    referencing = {name for name in Base.metadata.tables if reaches(name)}
    owned = {t.name for t in privacy.owned_tables()} - {"persons"}
    assert referencing - {"persons"} == owned | reference_only
    assert set(privacy.referencing_tables()) == reference_only
    # The erasure test of storage lists the same tables: export and erasure agree.
    from tests.storage.test_erasure import PERSON_OWNED

    assert owned == {model.__tablename__ for model in PERSON_OWNED}


# -- /mydata -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("language", "words"), [
    ("da", "alt, hvad jeg har gemt om dig"),
    ("nb", "alt jeg har lagret om deg"),
    ("en", "everything I have saved about you"),
])
async def test_mydata_sends_their_answers_and_nothing_of_another_person(
    bot: Sandbox, clock: FrozenClock, language: str, words: str
) -> None:
    await two_participants(bot, clock, language)
    anna_id, bo_id = await study_id(bot, ANNA), await study_id(bot, BO)

    await bot.send_text(ANNA, "/mydata")
    sent = bot.api.last_message_to(ANNA)
    assert sent is not None
    assert sent.media_kind == "document"
    assert sent.file is not None
    assert sent.file.file_name == f"mydata-{anna_id}.json"
    assert words in (sent.caption or "")
    assert anna_id in (sent.caption or "")
    raw = sent.document_bytes or b""
    data = json.loads(raw)

    assert data["person"]["telegram_user_id"] == ANNA
    assert data["person"]["display_name"] == ANNA_NAME
    assert [m["study_id"] for m in data["tables"]["memberships"]] == [anna_id]
    assert [c["given"] for c in data["tables"]["consents"]] == [True]
    assert data["tables"]["module_progress"]
    assert data["tables"]["outbox"]  # their planned messages
    plan = data["tables"]["action_plans"][0]
    assert (plan["what"], plan["how_much"], plan["when"]) == ANNA_PLAN
    assert plan["created_at"].startswith("2027-01-08")
    assert data["teams"][0]["name"] == "Hold 3"
    # Every owned table is in the file, even when empty.
    assert set(data["tables"]) == {t.name for t in privacy.owned_tables()} - {"persons"}

    body = raw.decode()
    for other in (bo_id, BO_NAME, str(BO), *BO_PLAN):
        assert other not in body


async def test_mydata_includes_questionnaire_answers_with_times(
    bot: Sandbox, clock: FrozenClock
) -> None:
    from .test_checkin_and_plan import answer_until_done, prompt, time_passes

    created = await make_team(bot)
    await join(bot, ANNA, created.participant_invite.code, language="en", first_name=ANNA_NAME)
    await time_passes(bot, clock)
    baseline = prompt(bot, ANNA, "Before the course starts")
    await bot.press(ANNA, "Start", message_id=baseline.message_id)
    await answer_until_done(bot, ANNA, "Your answers are saved")
    await bot.send_text(ANNA, "/mydata")
    data = json.loads(bot.api.last_message_to(ANNA).document_bytes or b"")
    responses = data["tables"]["questionnaire_responses"]
    answers = data["tables"]["answers"]
    assert responses[0]["occasion"] == "baseline"
    assert responses[0]["completed_at"]
    assert len(answers) == 15
    assert all(a["answered_at"] and a["response_id"] == responses[0]["id"] for a in answers)
    assert any(a["value_text"] == "To feel more in control of my days." for a in answers)


@pytest.mark.parametrize(("language", "words"), [
    ("da", "ikke gemt noget om dig"), ("nb", "ikke lagret noe om deg"),
    ("en", "not saved anything about you"),
])
async def test_a_stranger_has_no_data(bot: Sandbox, language: str, words: str) -> None:
    bot.api.add_user(ANNA, "Anna", language_code=language)
    for command in ("/mydata", "/delete", "/privacy"):
        await bot.send_text(ANNA, command)
        assert words in bot.api.last_message_to(ANNA).text


# -- /delete -----------------------------------------------------------------------------------


@pytest.mark.parametrize("language", ["da", "nb", "en"])
async def test_delete_erases_every_trace_and_keeps_the_other_person(
    bot: Sandbox, clock: FrozenClock, language: str
) -> None:
    await two_participants(bot, clock, language)
    anna_id, bo_id = await study_id(bot, ANNA), await study_id(bot, BO)
    await bot.send_text(ANNA, "/plan")  # a dialog state left open
    await bot.send_text(ANNA, "/delete")
    await bot.press(ANNA, YES[language])
    assert ERASED[language] in bot.api.last_message_to(ANNA).text
    assert not [t for t in texts(bot, ANNA) if "went wrong" in t]

    rows = await all_rows_as_text(bot)
    for table, lines in rows.items():
        for line in lines:
            for trace in (str(ANNA), ANNA_NAME, *ANNA_PLAN):
                assert trace not in line, f"{table} still holds {trace!r}"
            if table != "audit_log":
                assert anna_id not in line, f"{table} still holds the study ID"
    # The audit log: the study ID and the facts (joined by invite, erased), nothing else.
    async with bot.services.sessions() as session:
        audit = list(await session.scalars(select(AuditLog).where(AuditLog.subject == anna_id)
                                           .order_by(AuditLog.id)))
        assert [(a.action, a.actor.split(":")[0], a.details.get("reason")) for a in audit] == [
            ("role.grant", "invite", None), ("person_erased", anna_id, "request")
        ]
        assert await session.scalar(
            select(OutboxMessage.id).where(OutboxMessage.chat_id == ANNA)
        ) is None
    # Bo is untouched.
    assert any(bo_id in line for line in rows["memberships"])
    assert any(BO_PLAN[0] in line for line in rows["action_plans"])

    # Writing again: a stranger, welcomed as one.
    await bot.send_text(ANNA, "/start")
    assert "/help" in bot.api.last_message_to(ANNA).text


@pytest.mark.parametrize("language", ["da", "nb", "en"])
async def test_no_keeps_everything(bot: Sandbox, clock: FrozenClock, language: str) -> None:
    await two_participants(bot, clock, language)
    await bot.send_text(ANNA, "/delete")
    await bot.press(ANNA, NO[language])
    assert KEPT[language] in bot.api.last_message_to(ANNA).text
    async with bot.services.sessions() as session:
        assert await session.scalar(select(Person.id).where(Person.telegram_user_id == ANNA))


@pytest.mark.parametrize("language", ["da", "en"])
async def test_a_forged_foreign_or_old_confirmation_erases_nothing(
    bot: Sandbox, clock: FrozenClock, language: str
) -> None:
    await two_participants(bot, clock, language)
    await bot.send_text(ANNA, "/delete")
    anna_screen = bot.api.last_message_to(ANNA)
    anna_yes = next(b["callback_data"] for b in anna_screen.buttons()
                    if b["text"] == YES[language])
    await bot.send_text(BO, "/delete")
    bo_screen = bot.api.last_message_to(BO)

    # Bo replays Anna's confirmation on his own screen: made for Anna, so refused.
    await bot.handled(bot.api.press_forged(BO, bo_screen.message_id, anna_yes))
    # A tampered MAC, and made-up kinds.
    *head, mac = anna_yes.split(":")
    for forged in (":".join((*head, "0" * len(mac))), "v1:pv:yes:xx:1:abc", "v1:pv:yes"):
        await bot.handled(bot.api.press_forged(ANNA, anna_screen.message_id, forged))
    # Anna's own, but 20 minutes old.
    clock.advance(timedelta(minutes=20))
    await bot.press(ANNA, YES[language], message_id=anna_screen.message_id)

    answers = [q.answer for q in bot.api.callback_answers if q.answer]
    assert sum(EXPIRED[language] in (a["text"] or "") for a in answers) >= 3
    async with bot.services.sessions() as session:
        people = set(await session.scalars(
            select(Person.telegram_user_id).where(Person.telegram_user_id.in_([ANNA, BO]))
        ))
    assert people == {ANNA, BO}


# -- withdrawing consent -----------------------------------------------------------------------


@pytest.mark.parametrize("language", ["da", "nb", "en"])
async def test_withdrawing_consent_stops_every_message_and_erases(
    bot: Sandbox, clock: FrozenClock, language: str
) -> None:
    assert bot.delivery is not None
    created = await make_team(bot)
    await join(bot, ANNA, created.participant_invite.code, language=language,
               first_name=ANNA_NAME)
    anna_id = await study_id(bot, ANNA)
    async with bot.services.sessions() as session:
        pending = await session.scalar(select(OutboxMessage.id).where(
            OutboxMessage.chat_id == ANNA, OutboxMessage.status == "pending"))
    assert pending is not None  # baseline, reminders… are planned

    await bot.send_text(ANNA, "/privacy")
    await bot.press(ANNA, WITHDRAW[language])
    await bot.press(ANNA, YES[language])
    assert ERASED[language] in bot.api.last_message_to(ANNA).text
    before = len(bot.api.messages_to(ANNA))

    # The whole course passes: nothing more reaches her.
    for days in (1, 4, 10, 40, 120):
        clock.set(datetime(2027, 1, 4, 9, 0, tzinfo=UTC) + timedelta(days=days))
        assert bot.pace is not None
        bot.pace.pause(300)
        await bot.delivery.plan_all()
        await bot.delivery.run_once()
    assert len(bot.api.messages_to(ANNA)) == before
    async with bot.services.sessions() as session:
        audit = [(a.action, a.details) for a in await session.scalars(
            select(AuditLog).where(AuditLog.subject == anna_id).order_by(AuditLog.id))]
    assert audit == [
        ("role.grant", {"team_id": created.team.id, "role": "participant"}),
        ("consent_withdrawn", {"version": privacy.PRIVACY_NOTICE_VERSION}),
        ("person_erased", {"reason": "withdrawal", "study_ids": [anna_id]}),
    ]
    rows = await all_rows_as_text(bot)
    assert not [t for t, lines in rows.items() for line in lines if str(ANNA) in line]


# -- retention ---------------------------------------------------------------------------------


async def test_retention_erases_a_finished_team_after_the_set_time_and_not_before(
    bot: Sandbox, clock: FrozenClock
) -> None:
    finished = await make_team(bot)
    later = await make_team(bot, name="Hold 9", first_session=datetime(2027, 9, 2, 19, 0))
    await join(bot, ANNA, finished.participant_invite.code, language="da", first_name=ANNA_NAME)
    await join(bot, BO, later.participant_invite.code, language="da", first_name=BO_NAME)
    anna_id = await study_id(bot, ANNA)
    retention = timedelta(days=365)
    service = RetentionService(bot.services.sessions, clock, bot.services.throttle_secret,
                               retention)
    deadline = course_end(max(finished.session_starts)) + retention

    clock.set(deadline - timedelta(hours=1))
    assert await service.run_once() == 0
    clock.set(deadline + timedelta(hours=1))
    assert await service.run_once() >= 1

    async with bot.services.sessions() as session:
        people = set(await session.scalars(
            select(Person.telegram_user_id).where(Person.telegram_user_id.in_([ANNA, BO]))
        ))
        audit = await session.scalar(select(AuditLog).where(
            AuditLog.subject == anna_id, AuditLog.action == "person_erased"))
    assert people == {BO}
    assert audit is not None
    assert (audit.actor, audit.details["reason"]) == ("system:retention", "retention")
    assert await service.run_once() == 0  # nothing left to do


async def test_retention_keeps_an_instructors_other_team(bot: Sandbox, clock: FrozenClock) -> None:
    from storage import queries
    from storage.models import Role, Team

    finished = await make_team(bot)
    later = await make_team(bot, name="Hold 9", first_session=datetime(2027, 9, 2, 19, 0))
    async with bot.services.sessions.begin() as session:
        person = Person(telegram_user_id=BO, chat_id=BO, created_at=clock.now())
        session.add(person)
        await session.flush()
        for team_id in (finished.team.id, later.team.id):
            team = await session.get(Team, team_id)
            assert team is not None
            await queries.add_membership(session, person, team, Role.INSTRUCTOR, now=clock.now())
    clock.set(course_end(max(finished.session_starts)) + timedelta(days=366))
    await RetentionService(bot.services.sessions, clock, bot.services.throttle_secret).run_once()
    async with bot.services.sessions() as session:
        teams = set(await session.scalars(
            select(Membership.team_id).join(Person).where(Person.telegram_user_id == BO)))
    assert teams == {later.team.id}


# -- no copies left behind ---------------------------------------------------------------------


def database_files(bot: Sandbox) -> bytes:
    """The bytes of the sandbox's SQLite file and its write-ahead log, as they are on disk."""
    database = Path(str(bot.engine.url.database))
    wal = database.with_name(database.name + "-wal")
    return database.read_bytes() + (wal.read_bytes() if wal.exists() else b"")


async def throttle_rows(bot: Sandbox, user_id: int) -> int:
    key = attempt_key(user_id, bot.services.throttle_secret)
    async with bot.services.sessions() as session:
        return int(await session.scalar(
            select(func.count()).select_from(InviteAttempt).where(InviteAttempt.key == key)))


async def test_delete_leaves_no_copy_in_the_database_file_or_its_log(
    bot: Sandbox, clock: FrozenClock
) -> None:
    await two_participants(bot, clock)
    await bot.send_text(ANNA, "/start not-a-real-invite-code")  # a throttle row keyed by Anna
    assert await throttle_rows(bot, ANNA) == 1
    before = database_files(bot)
    assert ANNA_NAME.encode() in before  # the scan finds what is there
    assert ANNA_PLAN[0].encode() in before

    await bot.send_text(ANNA, "/delete")
    await bot.press(ANNA, YES["en"])

    after = database_files(bot)
    for trace in (ANNA_NAME, *ANNA_PLAN):
        assert trace.encode() not in after, f"a copy of {trace!r} is still on disk"
    assert await throttle_rows(bot, ANNA) == 0
    assert BO_NAME.encode() in after  # Bo is still there
    assert BO_PLAN[0].encode() in after


async def test_retention_leaves_no_copy_in_the_database_file_or_its_log(
    bot: Sandbox, clock: FrozenClock
) -> None:
    finished = await make_team(bot)
    await join(bot, ANNA, finished.participant_invite.code, language="en", first_name=ANNA_NAME)
    clock.set(AFTER_WEBINAR_1)
    await make_plan(bot, ANNA, ANNA_PLAN)
    assert ANNA_PLAN[1].encode() in database_files(bot)
    clock.set(course_end(max(finished.session_starts)) + timedelta(days=366))
    service = RetentionService(bot.services.sessions, clock, bot.services.throttle_secret)
    assert await service.run_once() == 1
    after = database_files(bot)
    for trace in (ANNA_NAME, *ANNA_PLAN):
        assert trace.encode() not in after, f"a copy of {trace!r} is still on disk"
