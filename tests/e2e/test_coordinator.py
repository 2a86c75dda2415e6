"""Coordinators in chat: accepting the role, teams, summaries, invite links, failures, scope."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from bot.sandbox import Sandbox
from dialogs.coordinator import coordinator_invites
from dialogs.invites import InviteStatus, check_invite
from storage.models import (
    Answer,
    AuditLog,
    CoordinatorGrant,
    Membership,
    OutboxMessage,
    OutboxStatus,
    Person,
    QuestionnaireResponse,
)

from .helpers import join, make_team

COORDINATOR = 6001
OTHER_COORDINATOR = 6002
PARTICIPANT = 6100


async def become_coordinator(sandbox: Sandbox, user_id: int, municipality: str) -> None:
    async with sandbox.services.sessions.begin() as session:
        ((_, new),) = await coordinator_invites(
            session, [municipality], now=sandbox.services.clock.now(), actor="test"
        )
    sandbox.api.add_user(user_id, "Mette", language_code="en")
    await sandbox.send_text(user_id, f"/start {new.code}")
    assert "invited as a coordinator" in sandbox.api.last_message_to(user_id).text
    await sandbox.press(user_id, "Accept")


async def test_a_coordinator_accepts_and_sees_only_their_teams(sandbox: Sandbox) -> None:
    koege = await make_team(sandbox, municipality="Køge", name="Hold 3")
    await make_team(sandbox, municipality="Halsnæs", name="Hold 9")
    await become_coordinator(sandbox, COORDINATOR, "Køge")
    assert "coordinator for Køge" in sandbox.api.last_message_to(COORDINATOR).text
    menu = sandbox.api.commands({"type": "chat", "chat_id": COORDINATOR})
    assert {"teams", "failures", "export"} <= {c["command"] for c in menu}
    async with sandbox.services.sessions() as session:
        assert await session.scalar(select(CoordinatorGrant.municipality_id)) == (
            koege.municipality.id
        )
        actions = list(await session.scalars(select(AuditLog.action)))
    assert "role.grant" in actions

    await sandbox.send_text(COORDINATOR, "/teams")
    teams = sandbox.api.last_message_to(COORDINATOR)
    assert "Hold 3" in teams.button_texts()
    assert "Hold 9" not in teams.button_texts()


async def test_the_summary_hides_averages_of_fewer_than_five(sandbox: Sandbox) -> None:
    created = await make_team(sandbox)
    for n in range(4):
        await join(sandbox, PARTICIPANT + n, created.participant_invite.code, language="da",
                   first_name=f"P{n}")
    await become_coordinator(sandbox, COORDINATOR, "Køge")

    async def answer_coping(first: int, last: int) -> None:
        async with sandbox.services.sessions.begin() as session:
            memberships = list(await session.scalars(
                select(Membership.id).where(Membership.team_id == created.team.id)
                .order_by(Membership.id)
            ))
            for membership_id in memberships[first:last]:
                response = QuestionnaireResponse(
                    membership_id=membership_id, questionnaire_key="checkin",
                    questionnaire_version="1", occasion="checkin-1", language="da",
                    completed_at=sandbox.services.clock.now(),
                )
                session.add(response)
                await session.flush()
                session.add(Answer(response_id=response.id, item_key="coping", value_number=6,
                                   answered_at=sandbox.services.clock.now()))

    await answer_coping(0, 4)
    await sandbox.send_text(COORDINATOR, "/teams")
    await sandbox.press(COORDINATOR, "Hold 3")
    summary = [m for m in sandbox.api.messages_to(COORDINATOR) if m.text][-1].text
    assert "Joined: 4" in summary
    assert "Module 1: prepared 0 · check-in – · attended 0 · coping fewer than 5 answers" in (
        summary
    )
    assert sandbox.api.last_message_to(COORDINATOR).media_kind == "photo"

    await join(sandbox, PARTICIPANT + 9, created.participant_invite.code, language="da")
    await answer_coping(4, 5)
    await sandbox.send_text(COORDINATOR, "/teams")
    await sandbox.press(COORDINATOR, "Hold 3")
    summary = [m for m in sandbox.api.messages_to(COORDINATOR) if m.text][-1].text
    assert "coping 6" in summary


async def test_invite_links_in_chat_and_revoking_them(sandbox: Sandbox) -> None:
    await make_team(sandbox)
    await become_coordinator(sandbox, COORDINATOR, "Køge")
    await sandbox.send_text(COORDINATOR, "/teams")
    await sandbox.press(COORDINATOR, "Invite link")
    photo = [m for m in sandbox.api.messages_to(COORDINATOR) if m.media_kind == "photo"][-1]
    assert photo.photo_bytes.startswith(b"\x89PNG")
    link = photo.caption.split("\n")[-1]
    assert link.startswith("https://t.me/mestring_demo_bot?start=")
    code = link.rsplit("=", 1)[1]
    await sandbox.press(COORDINATOR, "Revoke this link")
    assert "revoked" in sandbox.api.last_message_to(COORDINATOR).text
    async with sandbox.services.sessions() as session:
        check = await check_invite(session, code, sandbox.services.clock.now())
    assert check.status is InviteStatus.REVOKED


async def test_forged_coordinator_buttons_and_commands_are_refused(sandbox: Sandbox) -> None:
    koege = await make_team(sandbox, municipality="Køge")
    await make_team(sandbox, municipality="Halsnæs", name="Hold 9")
    await become_coordinator(sandbox, OTHER_COORDINATOR, "Halsnæs")
    await join(sandbox, PARTICIPANT, koege.participant_invite.code, language="nb")

    # A participant asks for coordinator commands.
    for command in ("/teams", "/failures"):
        await sandbox.send_text(PARTICIPANT, command)
        assert "koordinatorer" in sandbox.api.last_message_to(PARTICIPANT).text

    # Halsnæs' coordinator forges buttons for Køge's team and invite.
    screen = sandbox.api.last_message_to(OTHER_COORDINATOR)
    before = len(sandbox.api.messages_to(OTHER_COORDINATOR))
    for data in (f"v1:cs:{koege.team.id}", f"v1:ci:{koege.team.id}",
                 f"v1:cr:{koege.participant_invite.invite.id}"):
        update_id = sandbox.api.press_forged(OTHER_COORDINATOR, screen.message_id, data)
        await sandbox.handled(update_id)
        answer = sandbox.api.callback_answers[-1].answer or {}
        assert "coordinators" in answer.get("text", "")
    assert len(sandbox.api.messages_to(OTHER_COORDINATOR)) == before
    async with sandbox.services.sessions() as session:
        check = await check_invite(session, koege.participant_invite.code,
                                   sandbox.services.clock.now())
    assert check.ok


async def test_failures_are_listed_by_team(sandbox: Sandbox) -> None:
    created = await make_team(sandbox)
    await join(sandbox, PARTICIPANT, created.participant_invite.code, language="en")
    await become_coordinator(sandbox, COORDINATOR, "Køge")
    await sandbox.send_text(COORDINATOR, "/failures")
    assert "No delivery failures" in sandbox.api.last_message_to(COORDINATOR).text
    async with sandbox.services.sessions.begin() as session:
        person_id = await session.scalar(
            select(Person.id).where(Person.telegram_user_id == PARTICIPANT)
        )
        session.add(OutboxMessage(
            person_id=person_id, chat_id=PARTICIPANT, kind="checkin", dedup_key="x",
            payload={}, due_at=sandbox.services.clock.now() - timedelta(hours=1),
            status=OutboxStatus.FAILED, attempts=6, last_error="Bad Gateway",
            created_at=sandbox.services.clock.now() - timedelta(hours=2),
        ))
    await sandbox.send_text(COORDINATOR, "/failures")
    assert "Hold 3: 1 × Bad Gateway" in sandbox.api.last_message_to(COORDINATOR).text


async def test_export_in_chat_comes_as_zipped_documents_without_names(sandbox: Sandbox) -> None:
    import io
    import zipfile

    created = await make_team(sandbox)
    await join(sandbox, PARTICIPANT, created.participant_invite.code, language="da",
               first_name="Sigrid")
    await become_coordinator(sandbox, COORDINATOR, "Køge")
    await sandbox.send_text(COORDINATOR, "/export")
    documents = [m for m in sandbox.api.messages_to(COORDINATOR) if m.media_kind == "document"]
    assert documents
    assert "The export is ready" in sandbox.api.last_message_to(COORDINATOR).text
    for document in documents:
        with zipfile.ZipFile(io.BytesIO(document.document_bytes)) as archive:
            names = archive.namelist()
            assert any(name.endswith("codebook.csv") for name in names)
            for name in names:
                content = archive.read(name)
                assert b"Sigrid" not in content
                assert str(PARTICIPANT).encode() not in content
    async with sandbox.services.sessions() as session:
        assert "export" in list(await session.scalars(select(AuditLog.action)))


async def test_export_is_refused_to_a_participant(sandbox: Sandbox) -> None:
    created = await make_team(sandbox)
    await join(sandbox, PARTICIPANT, created.participant_invite.code, language="en")
    await sandbox.send_text(PARTICIPANT, "/export")
    assert "course coordinators" in sandbox.api.last_message_to(PARTICIPANT).text
    assert not [m for m in sandbox.api.messages_to(PARTICIPANT) if m.media_kind == "document"]


async def test_a_coordinator_creates_a_team_in_chat(sandbox: Sandbox) -> None:
    await make_team(sandbox, municipality="Køge", name="Hold 1")
    await become_coordinator(sandbox, COORDINATOR, "Køge")
    await sandbox.send_text(COORDINATOR, "/newteam")
    await sandbox.send_text(COORDINATOR, "Hold 7")
    await sandbox.send_text(COORDINATOR, "next thursday")
    assert "could not use that time" in sandbox.api.last_message_to(COORDINATOR).text
    await sandbox.send_text(COORDINATOR, "2020-01-02 19:00")  # in the past
    assert "could not use that time" in sandbox.api.last_message_to(COORDINATOR).text
    await sandbox.send_text(COORDINATOR, "2027-03-11 19:00")
    await sandbox.send_text(COORDINATOR, "zoom")
    assert "https://" in sandbox.api.last_message_to(COORDINATOR).text
    await sandbox.press(COORDINATOR, "No link yet")
    await sandbox.press(COORDINATOR, "Dansk")
    created = sandbox.api.last_message_to(COORDINATOR).text
    assert created.startswith("Hold 7 is created")
    # Six Thursdays at 19:00 local, across the start of summer time on 28 March.
    assert created.count("at 19:00") == 6
    link = created.split("For participants: ")[1].split("\n")[0]
    code = link.rsplit("=", 1)[1]
    await join(sandbox, PARTICIPANT, code, language="da")
    assert "Nu er du med på Hold 7" in " ".join(
        m.text or "" for m in sandbox.api.messages_to(PARTICIPANT)
    )


async def test_new_team_buttons_outside_the_grant_are_refused(sandbox: Sandbox) -> None:
    halsnaes = await make_team(sandbox, municipality="Halsnæs", name="Hold 9")
    await make_team(sandbox, municipality="Køge", name="Hold 1")
    await become_coordinator(sandbox, COORDINATOR, "Køge")
    await sandbox.send_text(COORDINATOR, "/teams")
    screen = sandbox.api.last_message_to(COORDINATOR)
    update_id = sandbox.api.press_forged(
        COORDINATOR, screen.message_id, f"v1:nt:m:{halsnaes.municipality.id}"
    )
    await sandbox.handled(update_id)
    assert "no longer in use" in (sandbox.api.callback_answers[-1].answer or {}).get("text", "")


async def coordinator_code(sandbox: Sandbox, municipality: str, **validity: timedelta) -> str:
    async with sandbox.services.sessions.begin() as session:
        ((_, new),) = await coordinator_invites(
            session, [municipality], now=sandbox.services.clock.now(), actor="test", **validity
        )
    return new.code


async def test_a_coordinator_link_that_cannot_be_used_says_why(sandbox: Sandbox) -> None:
    from dialogs.coordinator import revoke

    await make_team(sandbox, municipality="Køge", name="Hold 3")
    sandbox.api.add_user(COORDINATOR, "Mette", language_code="en")
    # Expired between opening the link and pressing Accept.
    short = await coordinator_code(sandbox, "Køge", valid_for=timedelta(hours=1))
    await sandbox.send_text(COORDINATOR, f"/start {short}")
    sandbox.services.clock.advance(timedelta(hours=2))  # type: ignore[attr-defined]
    await sandbox.press(COORDINATOR, "Accept")
    assert "has expired" in sandbox.api.last_message_to(COORDINATOR).text
    # Revoked meanwhile.
    revoked = await coordinator_code(sandbox, "Køge")
    await sandbox.send_text(COORDINATOR, f"/start {revoked}")
    async with sandbox.services.sessions.begin() as session:
        invite = (await check_invite(session, revoked, sandbox.services.clock.now())).invite
        assert invite is not None
        await revoke(session, invite.id, now=sandbox.services.clock.now(), actor="test")
    await sandbox.press(COORDINATOR, "Accept")
    assert "no longer valid" in sandbox.api.last_message_to(COORDINATOR).text
    # Used by someone else first.
    taken = await coordinator_code(sandbox, "Køge")
    await sandbox.send_text(COORDINATOR, f"/start {taken}")
    sandbox.api.add_user(OTHER_COORDINATOR, "Ole", language_code="en")
    await sandbox.send_text(OTHER_COORDINATOR, f"/start {taken}")
    await sandbox.press(OTHER_COORDINATOR, "Accept")
    await sandbox.press(COORDINATOR, "Accept")
    assert "already been used" in sandbox.api.last_message_to(COORDINATOR).text
    async with sandbox.services.sessions() as session:
        granted = list(await session.scalars(select(CoordinatorGrant.person_id)))
    assert len(granted) == 1


async def test_buttons_that_carry_a_code_count_toward_the_wrong_code_limit(
    sandbox: Sandbox,
) -> None:
    """Guessing through forged buttons, or with staff links, meets the same limit as /start."""
    created = await make_team(sandbox, municipality="Køge", name="Hold 3")
    good = await coordinator_code(sandbox, "Køge")
    sandbox.api.add_user(PARTICIPANT, "Guess", language_code="en")
    await sandbox.send_text(PARTICIPANT, "/help")
    anchor = sandbox.api.last_message_to(PARTICIPANT)
    for n in range(5):  # five guesses, through coordinator and instructor buttons
        data = f"v1:ca:guess{n}" if n % 2 else f"v1:ij:guess{n}"
        await sandbox.handled(sandbox.api.press_forged(PARTICIPANT, anchor.message_id, data))
    # Now even a real staff code is not looked at, by link or by button.
    await sandbox.send_text(PARTICIPANT, f"/start {good}")
    assert "too many wrong codes" in sandbox.api.last_message_to(PARTICIPANT).text
    await sandbox.handled(sandbox.api.press_forged(PARTICIPANT, anchor.message_id,
                                                   f"v1:ca:{good}"))
    await sandbox.handled(sandbox.api.press_forged(
        PARTICIPANT, anchor.message_id, f"v1:ij:{created.instructor_invite.code}"))
    assert "too many wrong codes" in sandbox.api.last_message_to(PARTICIPANT).text
    async with sandbox.services.sessions() as session:
        assert list(await session.scalars(select(CoordinatorGrant.id))) == []
        assert await session.scalar(
            select(Person.id).where(Person.telegram_user_id == PARTICIPANT)) is None
