"""/course shows each module's state and webinar from the team's webinars and the person's
progress, read together in one statement (dialogs/course.py), on both databases."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select, update

from bot.sandbox import Sandbox
from bot.settings import Settings
from dialogs import course
from storage.clock import FrozenClock
from storage.models import Membership, ModuleProgress, SessionStatus, WebinarSession

from .helpers import one_enrolled, press_data

ANNA = 7101


@pytest.fixture
async def enrolled(settings: Settings, clock: FrozenClock, db_url: str) -> AsyncIterator[Sandbox]:
    async with one_enrolled(settings, clock, db_url, ANNA) as sandbox:
        yield sandbox


async def test_course_shows_progress_cancelled_webinars_and_locked_modules(
    enrolled: Sandbox, clock: FrozenClock
) -> None:
    sandbox = enrolled
    services = sandbox.services
    async with services.sessions.begin() as session:
        membership = await session.scalar(select(Membership))
        assert membership is not None
        # Module 1 prepared; module 2 opened early (its message went out) and its webinar
        # cancelled; modules 3-6 neither.
        assert await course.open_module(session, membership.id, 2, clock.now())
        await course.open_module(session, membership.id, 1, clock.now())
        await session.execute(
            update(ModuleProgress)
            .where(ModuleProgress.membership_id == membership.id, ModuleProgress.module_no == 1)
            .values(done_at=clock.now()))
        await session.execute(
            update(WebinarSession)
            .where(WebinarSession.team_id == membership.team_id, WebinarSession.module_no == 2)
            .values(status=SessionStatus.CANCELLED))
        webinars = {w.module_no: w.starts_at for w in await session.scalars(
            select(WebinarSession).where(WebinarSession.team_id == membership.team_id))}
    assert sorted(webinars) == [1, 2, 3, 4, 5, 6]

    await sandbox.send_text(ANNA, "/course")
    screen = sandbox.api.last_message_to(ANNA)
    tr = services.catalogs.tr("da")
    modules = screen.text.split("\n\n")[1:]
    assert len(modules) == 6
    assert modules[0].startswith("✅ 1.")
    assert tr._("prepared") in modules[0]
    assert modules[1].startswith("📖 2.")
    assert tr._("Webinar cancelled") in modules[1]
    assert tr._("Webinar cancelled") not in "".join(modules[2:])
    for number in range(3, 7):
        line = modules[number - 1]
        assert line.startswith(f"🔒 {number}."), line
        assert tr._("Webinar: {when}", when=tr.when(webinars[number], course.ZoneInfo(
            "Europe/Copenhagen"))) in line
    # Buttons for the modules that are open or prepared only.
    assert [b["callback_data"] for b in screen.buttons()] == ["v1:ms:1:0", "v1:ms:2:0"]

    # A module button reads the same view: module 2 opens.
    await press_data(sandbox, ANNA, "v1:ms:2:0")
    assert sandbox.api.last_message_to(ANNA).text.startswith("Modul 2: ")
