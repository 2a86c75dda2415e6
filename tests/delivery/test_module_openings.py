"""Module openings recorded by the dispatcher a batch at a time: every message that opens a
module marks that module opened for its person, once, on both databases."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

from sqlalchemy import select

from bot.local_api import LocalBotApi
from bot.local_api.limits import Limits
from dialogs.delivery import outbox
from dialogs.delivery.config import DeliveryConfig
from dialogs.delivery.kinds import Kind
from storage.clock import FrozenClock
from storage.models import ModuleProgress
from tests.delivery.helpers import add_members, make_team
from tests.delivery.world import open_world

PEOPLE = list(range(310_001, 310_041))


async def test_a_batch_of_module_openings_marks_each_module_opened(db_url: str) -> None:
    clock = FrozenClock()
    now = clock.now()
    api = LocalBotApi(limits=Limits.disabled())
    async with open_world(db_url, api) as world:
        for user in PEOPLE:
            api.add_user(user, "P")
            api.send_text(user, "/start")
        async with world.sessions.begin() as session:
            team = await make_team(session, name="Openings")
            members = await add_members(session, team, PEOPLE, joined_at=now - timedelta(days=1))
            # Ida pressed "done" on module 2 before its message went out: her row exists.
            ida = members[0].membership_id
            session.add(ModuleProgress(membership_id=ida, module_no=2, done_at=now))
            await outbox.add_rows(session, [
                outbox.NewRow(person_id=m.person_id, chat_id=m.user_id, kind=Kind.MODULE_OPEN,
                              dedup_key=f"m{m.membership_id}:module_open:2", due_at=now,
                              expires_at=now + timedelta(days=7),
                              payload={"membership_id": m.membership_id, "module_no": 2})
                for m in members
            ], now)
        config = DeliveryConfig(send_rate_per_second=None, batch_size=15, concurrency=4)
        report = await world.dispatcher(clock, config, worker="w").run_until_idle()
        async with world.sessions() as session:
            progress = {row.membership_id: row for row in await session.scalars(
                select(ModuleProgress).where(ModuleProgress.module_no == 2))}
        sends = world.sends_per_chat()

    assert report.sent == len(PEOPLE)
    assert sends == Counter({user: 1 for user in PEOPLE})
    assert set(progress) == {m.membership_id for m in members}
    assert all(row.opened_at is not None and row.opened_at.timestamp() == now.timestamp()
               for row in progress.values())
    assert progress[ida].done_at is not None  # her "done" is kept
