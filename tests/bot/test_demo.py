"""``mestring demo`` driven without a terminal, as the README promises it works."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import select

from bot.demo import DEMO_TEAM, seed_demo
from storage import queries
from storage.clock import FrozenClock
from storage.engine import Sessions
from storage.models import Team
from tests.bot.test_cli import run

SCRIPT = """\
# the participant starts, reads /help in Danish, switches to Norwegian, reads it again
/start
/help
/language
2
/help
/quit
"""


def sections(output: str) -> list[str]:
    """The demo's transcript split at each line the participant typed."""
    return output.split("you › ")[1:]


def test_demo_switches_from_danish_to_norwegian_help(tmp_path: Path) -> None:
    script = tmp_path / "script.txt"
    script.write_text(SCRIPT, encoding="utf-8")
    result = run(["demo", "--script", str(script)], tmp_path)
    assert result.returncode == 0, result.stderr
    start, help_da, language, press, help_nb, _quit = sections(result.stdout)
    assert start.startswith("/start\nbot › Velkommen tilbage, Demo.")
    assert help_da.startswith("/help\nbot › Hjælp")
    assert "70 201 201" in help_da
    assert "[1] ✓ Dansk  [2] Norsk bokmål  [3] English" in language
    assert "Nå skriver jeg til deg på norsk bokmål." in press
    assert help_nb.startswith("/help\nbot › Hjelp")
    assert "116 123" in help_nb
    assert "ERROR" not in result.stderr


def test_demo_reads_standard_input_when_it_is_not_a_terminal(tmp_path: Path) -> None:
    result = run(["demo"], tmp_path, stdin="/help\n")
    assert result.returncode == 0, result.stderr
    assert "you › /help\nbot › Hjælp" in result.stdout


def test_demo_newcomer_joins_from_the_invite_link(tmp_path: Path) -> None:
    script = tmp_path / "join.txt"
    # language (Danish preselected), continue, consent, 18+, keep the name, then the course.
    script.write_text("/invite\n1\n1\n1\n1\n1\n/course\n", encoding="utf-8")
    result = run(["demo", "--newcomer", "--script", str(script)], tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Velkommen! Du er inviteret til kurset med Demohold." in result.stdout
    assert "Tak, Demo! Nu er du med på Demohold." in result.stdout
    assert "Din kursusplan – Demohold" in result.stdout
    assert "bot › Modul 1 er åbent:" in result.stdout
    assert "📖 1." in result.stdout.split("you › /course")[1]


async def test_the_demo_team_leaves_out_holiday_weeks(sessions: Sessions) -> None:
    # Seeded on 1 December 2027: Thursdays from 9 December, and the 23rd and 30th fall in the
    # Christmas school holiday.
    await seed_demo(sessions, FrozenClock(datetime(2027, 12, 1, 9, 0, tzinfo=UTC)))
    async with sessions() as session:
        team = await session.scalar(select(Team).where(Team.name == DEMO_TEAM))
        assert team is not None
        starts = [w.starts_at.astimezone(ZoneInfo(team.timezone))
                  for w in await queries.team_sessions(session, team.id)]
    assert [s.date().isoformat() for s in starts] == [
        "2027-12-09", "2027-12-16", "2028-01-06", "2028-01-13", "2028-01-20", "2028-01-27"]
    assert {s.strftime("%H:%M") for s in starts} == {"19:00"}
