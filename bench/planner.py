"""Planning at scale, start-up and idle memory: mestring with 10,000 participants.

A SQLite file gets ``--participants`` people in ``--teams`` teams, the first of them a team of
``--big-team``, with a course under way (joined yesterday, the first webinar in nine days) and
``--history`` sent messages each from earlier courses. Then, each figure against its floor:

* the first plan of every team (production planner), and inserting the same rows again into an
  empty outbox — ``outbox.add_rows`` against plain ``sqlite3`` ``executemany``;
* the periodic safety net when nothing changed (``DeliveryService.plan_all``);
* one person joining the big team: the join's transaction, planning included;
* a webinar moved in a team: its transaction (announcement and replan);
* the weekly-cap query for a dispatcher batch of 50 people;
* `mestring run` against that database and bench/bare_bot.py (a bare PTB bot): from starting the
  process to its first ``getUpdates``, the CPU it uses until it is idle, and its memory then;
  the median of five starts of each, alternating, mestring's each from the same copy of the
  database.

    .venv/bin/python bench/planner.py [--participants 10000] [--teams 700] [--big-team 1000]

Prints a table and stops by itself. Loopback only. Along the way it checks what it measures
(the safety net wrote nothing, a join planned that membership only, both bots answered /help);
tests/bench_smoke runs a small version.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import sqlite3
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bench.world import (
    bare_bot_cmd,
    cpu_seconds,
    mestring_cmd,
    mestring_env,
    midday_zone,
    note,
    plan_and_settle,
    ratio,
    rss_mb,
    scratch_dir,
    seed,
    spawn,
    sql_time,
    stop,
    table,
    team_sizes,
    until_idle,
)
from bot.delivery.service import DeliveryService
from bot.local_api import LocalBotApi
from dialogs.delivery import events, outbox
from dialogs.delivery.kinds import PACED_KINDS
from locales.i18n import Catalogs
from storage import queries
from storage.clock import SystemClock
from storage.engine import create_engine, create_sessionmaker
from storage.migrate import upgrade_async
from storage.models import Membership, OutboxMessage, Person, Team, WebinarSession

REPEATS = 5
# Starts of each bot, alternating, each from the same copy of the database (so every start of
# mestring finds the same rows due): one start is noisy, the floor's alone moves by a third.
STARTS = 5
ASKS_FOR_HELP = 8_999_999  # a person who is not in the seeded world


@dataclass
class Started:
    first_get_updates: float
    cpu_until_idle: float
    rss_mb: float
    answered: bool  # /help, after the measures
    # The process's CPU at its first getUpdates: its start is CPU-bound, so this shows whether a
    # slow start did more work or ran slower (the same work on this shared VM takes 1.2 or 1.6 s).
    cpu_at_first: float = 0.0


@dataclass
class Figures:
    participants: int
    teams: int
    big_team: int
    planned_rows: int
    history_rows: int
    total_rows: int
    replan: float
    join: float
    move: float
    weekly_cap: float
    big_team_rows: int
    ours_insert: float
    plain_insert: float
    ours: Started
    bare: Started
    ours_starts: list[Started]
    bare_starts: list[Started]
    # Correctness, for tests/bench_smoke: outbox rows the safety net wrote with nothing
    # changed, and the people whose rows each join added.
    replan_wrote: int
    join_planned_for: list[set[int]]
    joined: list[int]


class NoSender:
    async def send(self, chat_id: int, screen: object) -> object:
        raise AssertionError("nothing is sent in this benchmark")


async def _timed(work: Callable[[], Awaitable[object]], repeats: int = REPEATS) -> float:
    """Median seconds of ``repeats`` runs."""
    runs = []
    for _ in range(repeats):
        started = time.perf_counter()
        await work()
        runs.append(time.perf_counter() - started)
    return statistics.median(runs)


def _history(path: Path, per_person: int, now: datetime) -> int:
    """``per_person`` sent paced messages for everybody, spread over the past weeks."""
    kinds = sorted(PACED_KINDS)
    with sqlite3.connect(path) as db:
        people = db.execute("SELECT id, chat_id FROM persons").fetchall()
        rows = [
            (pid, chat, kinds[i % len(kinds)], f"history:{pid}:{i}", "{}", when, "sent", 1,
             when, 0, when)
            for pid, chat in people for i in range(per_person)
            for when in [sql_time(now - timedelta(days=3 + 5 * i))]
        ]
        db.executemany(
            "INSERT INTO outbox (person_id, chat_id, kind, dedup_key, payload, due_at, status, "
            "attempts, sent_at, urgent, created_at) VALUES (?,?,?,?,?,?,?,?,?,?,?)", rows)
    return len(rows)


async def _inserts(rows: list[outbox.NewRow], now: datetime) -> tuple[float, float]:
    """Seconds to insert ``rows`` into an empty outbox: add_rows, then plain sqlite3."""
    tmp = scratch_dir()
    ours_url = f"sqlite:///{tmp / 'ours.sqlite3'}"
    await upgrade_async(ours_url)
    # The rows' people are not in this file: foreign keys off, as in plain sqlite3 below.
    engine = create_engine(ours_url, sqlite_foreign_keys=False)
    try:
        started = time.perf_counter()
        async with create_sessionmaker(engine).begin() as session:
            await outbox.add_rows(session, rows, now)
        ours = time.perf_counter() - started
    finally:
        await engine.dispose()
    plain_url = tmp / "plain.sqlite3"
    await upgrade_async(f"sqlite:///{plain_url}")
    values = [(r.person_id, r.chat_id, r.kind, r.dedup_key, json.dumps(r.payload),
               sql_time(r.due_at), sql_time(r.expires_at) if r.expires_at else None,
               int(r.urgent), "pending", 0, sql_time(now)) for r in rows]
    db = sqlite3.connect(plain_url)
    try:
        db.execute("PRAGMA journal_mode=WAL")
        started = time.perf_counter()
        with db:
            db.executemany(
                "INSERT INTO outbox (person_id, chat_id, kind, dedup_key, payload, due_at, "
                "expires_at, urgent, status, attempts, created_at) VALUES (?,?,?,?,?,?,?,?,?,?,?) "
                "ON CONFLICT (dedup_key) DO NOTHING", values)
        plain = time.perf_counter() - started
    finally:
        db.close()
    return ours, plain


async def _start(cmd: list[str], env: dict[str, str] | None, api: LocalBotApi) -> Started:
    launched = time.monotonic()
    proc = spawn(cmd, env)
    try:
        await api.wait_for_poller(timeout=300)  # its first long poll is waiting
        first = time.monotonic()
        cpu_at_first = cpu_seconds(proc.pid)
        await until_idle(proc.pid, quiet=5.0)
        cpu, rss = cpu_seconds(proc.pid), rss_mb(proc.pid)
        api.add_user(ASKS_FOR_HELP, "H", language_code="da").started = True
        api.send_text(ASKS_FOR_HELP, "/help")
        answer = await api.wait_for_message(ASKS_FOR_HELP, timeout=60)
        return Started(first - launched, cpu, rss, "/course" in (answer.text or ""), cpu_at_first)
    finally:
        await stop(proc)


async def _rows(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count(OutboxMessage.id))) or 0)


async def _starts(path: Path, url: str, starts: int) -> tuple[list[Started], list[Started]]:
    """Each bot started ``starts`` times, alternating; every start of each. mestring starts
    each time from the database as the measures above left it, with what fell due meanwhile
    still due."""
    as_left = _keep_copy(path)
    ours: list[Started] = []
    bare: list[Started] = []
    for _ in range(starts):
        _restore(as_left, path)
        async with LocalBotApi() as api:
            ours.append(await _start(mestring_cmd(), mestring_env(api.base_url, api.token, url),
                                     api))
        async with LocalBotApi() as api:
            bare.append(await _start(bare_bot_cmd(api.base_url, api.token), None, api))
    return ours, bare


def _keep_copy(path: Path) -> Path:
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    as_left = path.with_name("as-left.sqlite3")
    shutil.copyfile(path, as_left)
    return as_left


def _restore(as_left: Path, path: Path) -> None:
    for suffix in ("-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    shutil.copyfile(as_left, path)


def _median(runs: list[Started]) -> Started:
    return Started(statistics.median(r.first_get_updates for r in runs),
                   statistics.median(r.cpu_until_idle for r in runs),
                   statistics.median(r.rss_mb for r in runs),
                   all(r.answered for r in runs),
                   statistics.median(r.cpu_at_first for r in runs))


async def measure(participants: int, teams: int, big_team: int, history: int,
                  starts: int = STARTS) -> Figures:
    clock = SystemClock()
    now = clock.now()
    tmp = scratch_dir()
    path = tmp / "bench.sqlite3"
    url = f"sqlite:///{path}"
    tz = midday_zone(now)
    note("seeding")
    world = await seed(url, sizes=team_sizes(participants, teams, big_team), now=now,
                       first_webinar=now + timedelta(days=9), joined_at=now - timedelta(days=1),
                       tz=tz)
    note("planned rows and history")
    planned_rows = await plan_and_settle(url, now)
    history_rows = _history(path, history, now)
    engine = create_engine(url)
    sessions = create_sessionmaker(engine)
    try:
        async with sessions() as session:
            # The big team's planned rows: what one replan of it writes into an empty outbox.
            planned = [outbox.NewRow(
                person_id=r.person_id, chat_id=r.chat_id, kind=r.kind, dedup_key=r.dedup_key,
                due_at=r.due_at, expires_at=r.expires_at, payload=r.payload, urgent=r.urgent)
                for r in await session.scalars(select(OutboxMessage).join(
                    Membership, Membership.person_id == OutboxMessage.person_id).where(
                    Membership.team_id == world.team_ids[0],
                    ~OutboxMessage.dedup_key.like("history:%")))]
            total_rows = await _rows(session)
        service = DeliveryService.build(sessions=sessions, catalogs=Catalogs.load(),
                                        clock=clock, sender=NoSender(), default_locale="da")
        await service.plan_all()  # anything the first plan left (none expected)
        note("replan")
        replan = await _timed(service.plan_all, 3)
        async with sessions() as session:
            replan_wrote = await _rows(session) - total_rows
        note("join, move, weekly cap")

        big = world.team_ids[0]
        joining = list(range(9_000_000, 9_000_000 + REPEATS))
        joined = iter(joining)
        planned_for: list[set[int]] = []

        async def join() -> None:
            user = next(joined)
            async with sessions() as session:
                before = await session.scalar(select(func.max(OutboxMessage.id)))
            async with sessions.begin() as session:
                person = Person(telegram_user_id=user, chat_id=user, display_name="N",
                                created_at=clock.now())
                session.add(person)
                await session.flush()
                team = await session.get(Team, big)
                assert team is not None
                membership = await queries.add_membership(session, person, team,
                                                          now=clock.now())
                await events.membership_changed(session, membership.id, clock.now())
            async with sessions() as session:
                planned_for.append(set(await session.scalars(
                    select(Person.telegram_user_id).join(
                        OutboxMessage, OutboxMessage.person_id == Person.id)
                    .where(OutboxMessage.id > (before or 0)))))

        join_time = await _timed(join)

        small = world.team_ids[-1]
        moves = iter(range(1, REPEATS + 1))

        async def move() -> None:
            async with sessions.begin() as session:
                webinar = await session.scalar(select(WebinarSession).where(
                    WebinarSession.team_id == small, WebinarSession.module_no == 3))
                assert webinar is not None
                await events.move_webinar(session, webinar.id, webinar.starts_at + timedelta(
                    minutes=15 * next(moves)), clock.now())

        move_time = await _timed(move)

        batch = world.user_ids[5000:5050]

        async def weekly_cap() -> None:
            async with sessions() as session:
                ids = list(await session.scalars(select(Person.id).where(
                    Person.telegram_user_id.in_(batch))))
                await outbox.paced_sent_since(session, ids, PACED_KINDS,
                                              clock.now() - timedelta(days=7))

        cap_time = await _timed(weekly_cap)
    finally:
        await engine.dispose()
    note("inserts")
    ours_insert, plain_insert = await _inserts(planned, now)
    note("start-up")
    ours_starts, bare_starts = await _starts(path, url, starts)
    return Figures(participants, teams, big_team, planned_rows, history_rows, total_rows,
                   replan, join_time, move_time, cap_time, len(planned), ours_insert,
                   plain_insert, _median(ours_starts), _median(bare_starts), ours_starts,
                   bare_starts, replan_wrote, planned_for, joining)


def report(f: Figures) -> None:
    participants, teams, big_team = f.participants, f.teams, f.big_team
    planned_rows, history_rows, total_rows = f.planned_rows, f.history_rows, f.total_rows
    replan, join_time, move_time, cap_time = f.replan, f.join, f.move, f.weekly_cap
    ours_insert, plain_insert, ours, bare = f.ours_insert, f.plain_insert, f.ours, f.bare
    print(f"\n{participants} participants in {teams} teams (the first of {big_team}); "
          f"outbox: {planned_rows:,} planned rows + {history_rows:,} sent before = "
          f"{total_rows:,}; times are medians of {REPEATS} (replan: 3; each bot's start, CPU "
          f"and memory: {STARTS})\n")
    print(table([
        ("replan with nothing changed (safety net)", f"{replan * 1000:.0f} ms", "< 1000 ms",
         "–"),
        (f"a join into the team of {big_team}", f"{join_time * 1000:.0f} ms", "< 50 ms", "–"),
        ("a webinar moved (team of ~14)", f"{move_time * 1000:.0f} ms", "–", "–"),
        ("weekly-cap query, 50 people", f"{cap_time * 1000:.1f} ms", "–", "–"),
        (f"insert the big team's {f.big_team_rows:,} rows into an empty outbox",
         f"{ours_insert:.2f} s",
         f"{plain_insert:.2f} s (sqlite3)", ratio(ours_insert, plain_insert)),
        ("start to first getUpdates", f"{ours.first_get_updates:.2f} s",
         f"{bare.first_get_updates:.2f} s", ratio(ours.first_get_updates,
                                                 bare.first_get_updates)),
        ("CPU from start until idle", f"{ours.cpu_until_idle:.1f} s",
         f"{bare.cpu_until_idle:.1f} s", ratio(ours.cpu_until_idle, bare.cpu_until_idle)),
        ("idle memory (RSS)", f"{ours.rss_mb:.0f} MB", f"{bare.rss_mb:.0f} MB",
         ratio(ours.rss_mb, bare.rss_mb)),
    ]))
    met = {
        "replan < 1 s": replan < 1.0,
        "join < 50 ms": join_time < 0.05,
        "start ≤ 2× bare": ours.first_get_updates <= 2 * bare.first_get_updates,
        "memory ≤ 2× bare": ours.rss_mb <= 2 * bare.rss_mb,
    }
    print("\ntargets: " + "; ".join(f"{k}: {'met' if v else 'NOT met'}" for k, v in met.items()))
    for name, runs in (("mestring", f.ours_starts), ("floor", f.bare_starts)):
        print(f"{name}'s starts, to first getUpdates / CPU by then: " + ", ".join(
            f"{r.first_get_updates:.2f} / {r.cpu_at_first:.2f} s" for r in runs))
    print(f"checks: safety net wrote {f.replan_wrote} rows; each join planned only its person: "
          f"{f.join_planned_for == [{u} for u in f.joined]}; /help answered: "
          f"{ours.answered} / {bare.answered}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--participants", type=int, default=10_000)
    parser.add_argument("--teams", type=int, default=700)
    parser.add_argument("--big-team", type=int, default=1000)
    parser.add_argument("--history", type=int, default=39,
                        help="sent messages per participant from earlier courses")
    args = parser.parse_args()
    report(asyncio.run(measure(args.participants, args.teams, args.big_team, args.history)))


if __name__ == "__main__":
    main()
