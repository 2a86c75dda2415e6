"""A large, realistic world for the benchmarks: teams, their webinars, enrolled participants.

Rows are written with plain executemany inserts (this is set-up, not what is measured), and
the outbox gets the rows the production planner's ``plan_member`` derives for each participant.
Everything already due is recorded as sent at its due time, as if the bot had been running all
along, so a benchmark measures only what it sets in motion itself.

Used by bench/updates.py, bench/fanout.py and bench/planner.py.
"""

from __future__ import annotations

import asyncio
import atexit
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import insert, select

from storage.engine import create_engine, create_sessionmaker
from storage.migrate import upgrade_async
from storage.models import (
    Membership,
    Municipality,
    Person,
    Team,
    WebinarSession,
)
from storage.queries import weekly_session_starts

ROOT = Path(__file__).resolve().parent.parent
FIRST_USER = 1_000_000
# Benchmarks keep their secrets to themselves: a fixed, well-formed value per run is enough.
SECRET_KEY = "bench-secret-key-0123456789-abcdefghijklmnop"
WEBHOOK_SECRET = "bench-webhook-secret-0123456789-abcdefghij"
_ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"


def midday_zone(now: datetime) -> str:
    """A zone where it is about noon now, so quiet hours never hold a benchmark back."""
    offset = 12 - now.astimezone(UTC).hour  # hours east of UTC
    offset = max(-12, min(14, offset if offset <= 12 else offset - 24))
    # The Etc/GMT zones are named with the sign the other way round.
    return "Etc/GMT" + (f"{-offset:+d}" if offset else "")


def study_id(n: int) -> str:
    digits = []
    for _ in range(6):
        n, rest = divmod(n, len(_ALPHABET))
        digits.append(_ALPHABET[rest])
    return "P-" + "".join(digits)


@dataclass(frozen=True)
class Seeded:
    team_ids: list[int]
    user_ids: list[int]
    # Team id of every participant, in user order.
    team_of: list[int]


def team_sizes(participants: int, teams: int, big_team: int = 0) -> list[int]:
    """``participants`` spread over ``teams``; the first team has ``big_team`` when given."""
    sizes = [big_team] if big_team else []
    rest_teams = teams - len(sizes)
    rest = participants - sum(sizes)
    base, extra = divmod(rest, rest_teams)
    sizes += [base + (1 if i < extra else 0) for i in range(rest_teams)]
    return sizes


async def seed(
    url: str,
    *,
    sizes: Sequence[int],
    now: datetime,
    first_webinar: datetime,
    joined_at: datetime,
    tz: str,
    first_user: int = FIRST_USER,
) -> Seeded:
    """Teams of ``sizes`` participants, the first webinar at ``first_webinar`` (UTC)."""
    await upgrade_async(url)
    engine = create_engine(url)
    sessions = create_sessionmaker(engine)
    local_first = first_webinar.astimezone(ZoneInfo(tz)).replace(tzinfo=None)
    starts = weekly_session_starts(local_first, tz)
    try:
        async with sessions.begin() as session:
            municipality = (await session.execute(insert(Municipality).returning(
                Municipality.id), [{"name": "Bench", "country": "DK", "timezone": tz,
                                    "default_language": "da", "created_at": now}])).scalar_one()
            team_ids = list((await session.execute(insert(Team).returning(Team.id), [
                {"municipality_id": municipality, "name": f"Hold {i + 1}", "language": "da",
                 "timezone": tz, "webinar_url": "https://meet.example.org/bench",
                 "reminder_offsets_minutes": [1440, 60], "created_at": now}
                for i in range(len(sizes))
            ])).scalars())
            await session.execute(insert(WebinarSession), [
                {"team_id": team_id, "module_no": no, "starts_at": start,
                 "duration_minutes": 60, "status": "scheduled", "created_at": now,
                 "updated_at": now}
                for team_id in team_ids for no, start in enumerate(starts, start=1)
            ])
            user_ids = list(range(first_user, first_user + sum(sizes)))
            await session.execute(insert(Person), [
                {"telegram_user_id": u, "chat_id": u, "display_name": "P", "locale": "da",
                 "created_at": joined_at} for u in user_ids
            ])
            person_ids = dict((await session.execute(select(
                Person.telegram_user_id, Person.id).where(Person.telegram_user_id >= first_user)
            )).all())
            team_of = [team_id for team_id, size in zip(team_ids, sizes, strict=True)
                       for _ in range(size)]
            await session.execute(insert(Membership), [
                {"person_id": person_ids[u], "team_id": t, "role": "participant",
                 "study_id": study_id(u), "status": "active", "joined_at": joined_at}
                for u, t in zip(user_ids, team_of, strict=True)
            ])
    finally:
        await engine.dispose()
    return Seeded(team_ids, user_ids, team_of)


async def plan_and_settle(url: str, now: datetime, *, settle: bool = True) -> int:
    """Write every participant's planned rows (the production planner's ``plan_member``,
    inserted with plain sqlite3: this is set-up, not what is measured); with ``settle``, what
    was due is recorded as sent at its due time; then what each was planned from, as a running
    bot has it (``remember_plans``). Returns the number of rows."""
    count = _insert_plans(url, now, settle=settle)
    await remember_plans(url, now)
    return count


async def remember_plans(url: str, now: datetime) -> None:
    """Record each membership's plan digest, as the bot did when it planned them. Without
    them the bot's first safety-net pass (5 s after start) would replan every participant
    once, inside whatever a benchmark measures then: a one-off after an upgrade, which a
    running bot never pays again. Asserts that this writes no row (the rows are the bot's)."""
    from dialogs.delivery.config import DeliveryConfig
    from dialogs.delivery.planner import PlanReport, replan_members, stale_plans

    engine = create_engine(url)
    sessions = create_sessionmaker(engine)
    config = DeliveryConfig()
    try:
        async with sessions() as session:
            stale = await stale_plans(session, now, config)
        for team in stale:
            async with sessions.begin() as session:
                report = await replan_members(session, team.team_id, team.membership_ids, now,
                                              config)
            assert report == PlanReport(), report
    finally:
        await engine.dispose()


def _insert_plans(url: str, now: datetime, *, settle: bool) -> int:
    from dialogs.delivery.config import DeliveryConfig
    from dialogs.delivery.planner import MemberFacts, WebinarFacts, plan_member

    config = DeliveryConfig()
    path = url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as db:
        teams = {tid: (ZoneInfo(tz), tuple(json.loads(offsets)))
                 for tid, tz, offsets in db.execute(
                     "SELECT id, timezone, reminder_offsets_minutes FROM teams")}
        webinars: dict[int, list[WebinarFacts]] = {}
        for wid, tid, no, starts, minutes, status in db.execute(
                "SELECT id, team_id, module_no, starts_at, duration_minutes, status "
                "FROM webinar_sessions ORDER BY module_no"):
            webinars.setdefault(tid, []).append(WebinarFacts(
                wid, no, _utc(starts), minutes, status == "cancelled"))
        rows = []
        for mid, pid, chat, tid, joined in db.execute(
                "SELECT m.id, p.id, p.chat_id, m.team_id, m.joined_at FROM memberships m "
                "JOIN persons p ON p.id = m.person_id WHERE m.role = 'participant'"):
            tz, offsets = teams[tid]
            facts = MemberFacts(mid, pid, chat, _utc(joined), tz, offsets,
                                tuple(webinars.get(tid, ())))
            for row in plan_member(facts, config):
                sent = settle and row.due_at <= now
                rows.append((
                    row.person_id, row.chat_id, str(row.kind), row.dedup_key,
                    json.dumps(row.payload), sql_time(row.due_at),
                    sql_time(row.expires_at) if row.expires_at else None, int(row.urgent),
                    "sent" if sent else "pending", int(sent),
                    sql_time(row.due_at) if sent else None, sql_time(now)))
        db.executemany(
            "INSERT INTO outbox (person_id, chat_id, kind, dedup_key, payload, due_at, "
            "expires_at, urgent, status, attempts, sent_at, created_at) "
            "VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", rows)
    return len(rows)


def _utc(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def sql_time(moment: datetime) -> str:
    """How the UTCDateTime column stores a moment on SQLite."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


# -- processes ---------------------------------------------------------------------------------
def mestring_env(api_url: str, token: str, database_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MESTRING_")}
    env.update({
        "MESTRING_TELEGRAM_TOKEN": token, "MESTRING_TELEGRAM_API_URL": api_url,
        "MESTRING_DATABASE_URL": database_url, "MESTRING_SECRET_KEY": SECRET_KEY,
        "MESTRING_LOG_LEVEL": "WARNING",
    })
    env.update({f"MESTRING_{k.upper()}": v for k, v in extra.items()})
    return env


def scratch_dir() -> Path:
    """A directory for one benchmark run's files, removed when the process ends: a
    10,000-participant database is 300 MB, and runs used to leave gigabytes behind. Each run
    removes only its own (a run must not delete another's database while it is measured)."""
    tmp = Path(tempfile.mkdtemp(prefix="mestring-bench-"))
    atexit.register(shutil.rmtree, tmp, ignore_errors=True)
    return tmp


def spawn(args: Sequence[str], env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    return subprocess.Popen(list(args), cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=None, start_new_session=True)


def mestring_cmd() -> list[str]:
    """``mestring run``, with the project compiled to bytecode first as an installed package
    is: with PYTHONDONTWRITEBYTECODE set (as here) an editable install would otherwise compile
    every module on every start, which the bare bot (one file) does not pay."""
    import compileall

    for package in ("bot", "dialogs", "storage", "locales"):
        compileall.compile_dir(ROOT / package, quiet=1)
    return [str(Path(sys.executable).with_name("mestring")), "run"]


def bare_bot_cmd(api_url: str, token: str) -> list[str]:
    return [sys.executable, str(ROOT / "bench" / "bare_bot.py"), api_url, token]


async def stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM, and wait for a clean shutdown without blocking this process's event loop (the
    local Bot API in it must answer the bot's last calls)."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            await asyncio.to_thread(proc.wait, 15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            await asyncio.to_thread(proc.wait, 5)


def cpu_seconds(pid: int) -> float:
    import psutil

    times = psutil.Process(pid).cpu_times()
    return times.user + times.system


def rss_mb(pid: int) -> float:
    import psutil

    return psutil.Process(pid).memory_info().rss / 2**20


async def until_idle(pid: int, *, quiet: float = 3.0, limit: float = 300.0,
                     below: float = 0.03) -> float:
    """Wait until the process used less than ``below`` of a core for ``quiet`` seconds.
    Returns the seconds waited."""
    started = time.perf_counter()
    last = cpu_seconds(pid)
    calm_since = time.perf_counter()
    while time.perf_counter() - started < limit:
        await asyncio.sleep(0.5)
        now = cpu_seconds(pid)
        if now - last > below * 0.5:
            calm_since = time.perf_counter()
        last = now
        if time.perf_counter() - calm_since >= quiet:
            break
    return time.perf_counter() - started


_STARTED = time.perf_counter()


def note(what: str) -> None:
    """Progress on stderr, so a long run shows where it is."""
    print(f"  [{time.perf_counter() - _STARTED:6.1f} s] {what}", file=sys.stderr, flush=True)


def percentile(values: Sequence[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


def table(rows: Sequence[tuple[str, str, str, str]], header: tuple[str, ...] = (
        "measure", "mestring", "floor", "ratio")) -> str:
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join("---" for _ in header) + " |"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def ratio(ours: float, floor: float) -> str:
    return f"{ours / floor:.2f}×" if floor else "–"


def chunks(items: Sequence[int], size: int) -> Iterator[Sequence[int]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def day_ahead(now: datetime, seconds: float) -> datetime:
    """A webinar whose day-before reminder (1440 min, same local time) falls ``seconds``
    from now."""
    return now + timedelta(days=1, seconds=seconds)


Stopper = Callable[[], None]
