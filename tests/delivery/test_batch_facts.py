"""What the renderer loads for a claimed batch: each row's recipient, membership, team and
webinar, read as plain values in two statements (dialogs/outbox_render.Renderer.load)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from dialogs.delivery import outbox
from dialogs.delivery.kinds import Kind
from dialogs.outbox_render import Member, Renderer
from storage.engine import Sessions
from storage.models import MembershipStatus, Person, Team, WebinarSession
from tests.delivery.helpers import add_members, make_team
from tests.delivery.world import catalogs

NOW = datetime(2027, 1, 4, 9, 0, tzinfo=UTC)


def claimed(row_id: int, person_id: int | None, payload: dict[str, int]) -> outbox.Claimed:
    return outbox.Claimed(id=row_id, person_id=person_id, chat_id=row_id,
                          kind=Kind.WEBINAR_REMINDER, payload=payload, due_at=NOW,
                          expires_at=None, urgent=False, attempts=0)


async def test_a_batch_loads_its_people_memberships_teams_and_webinars(
    sessions: Sessions,
) -> None:
    async with sessions.begin() as session:
        teams = [await make_team(session, name=f"Hold {n}", timezone=zone)
                 for n, zone in ((1, "Europe/Copenhagen"), (2, "Europe/Oslo"))]
        first = await add_members(session, teams[0], [101, 102], joined_at=NOW, locale="nb")
        second = await add_members(session, teams[1], [201], joined_at=NOW)
        # Somebody whose row carries no membership (nothing plans such rows today).
        loner = Person(telegram_user_id=301, chat_id=301, timezone="America/Nuuk",
                       created_at=NOW)
        session.add(loner)
        await session.flush()
        webinar = await session.scalar(select(WebinarSession).where(
            WebinarSession.team_id == teams[0].id, WebinarSession.module_no == 1))
        assert webinar is not None
        team_ids, loner_id, webinar_id = [t.id for t in teams], loner.id, webinar.id
    rows = [claimed(n, m.person_id, {"membership_id": m.membership_id, "webinar_id": webinar_id})
            for n, m in enumerate([*first, *second], start=1)]
    rows.append(claimed(9, loner_id, {}))
    async with sessions.begin() as session:
        facts = await Renderer(catalogs(), "da").load(session, rows)
    assert set(facts.persons) == {*(m.person_id for m in [*first, *second]), loner_id}
    assert [facts.persons[m.person_id].locale for m in first] == ["nb", "nb"]
    assert facts.persons[loner_id].timezone == "America/Nuuk"
    assert facts.memberships == {m.membership_id: Member(
        m.membership_id, m.person_id, team.id, MembershipStatus.ACTIVE)
        for team, group in zip(teams, (first, second), strict=True) for m in group}
    assert sorted(facts.teams) == sorted(team_ids)
    assert all(isinstance(team, Team) for team in facts.teams.values())
    assert [facts.teams[t].timezone for t in team_ids] == ["Europe/Copenhagen", "Europe/Oslo"]
    assert list(facts.webinars) == [webinar_id]
