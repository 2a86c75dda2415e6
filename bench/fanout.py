"""Fan-out: how fast the outbox sends a reminder due for everybody in the same minute.

``--participants`` people in ``--teams`` teams are enrolled on a SQLite file and planned by the
production planner; what was due before is recorded as sent. mestring then runs as a process
of its own (as `mestring run`, long polling) against the local Bot API in this process, waits
until it is idle, and the day-before webinar reminders of every team are made due at once.

1. Limits off: the outbox unpaced, against the floor — bench/bare_send.py sending the same
   number of messages of the same size on a bare PTB ``Bot``, as many at a time as the
   dispatcher sends (``--concurrency``). Each side runs ``--repeats`` times, alternating; the
   medians count.
2. Telegram's limits on (30 messages/s per bot, 1/s per chat): the outbox at its default pace
   for the first ``--limited`` reminders, while one more participant sends /help once a
   second. The floor is Telegram's own 30 messages/s.

    .venv/bin/python bench/fanout.py [--participants 10000] [--teams 700] [--limited 1500]

Prints a table and stops by itself. Loopback only.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import select, update

from bench.world import (
    ROOT,
    mestring_env,
    midday_zone,
    note,
    percentile,
    plan_and_settle,
    ratio,
    scratch_dir,
    seed,
    spawn,
    stop,
    table,
    team_sizes,
    until_idle,
)
from bot.local_api import Limits, LocalBotApi
from dialogs.delivery.kinds import Kind
from storage.clock import SystemClock
from storage.engine import create_engine, create_sessionmaker
from storage.models import OutboxMessage, OutboxStatus

STALL_SECONDS = 60.0
HELPER = 999


@dataclass
class FanOut:
    sent: int
    seconds: float
    rate: float  # messages a second from the first send to the last
    sustained: float  # after the first five seconds (past any burst)
    too_many: int
    chats: int = 0  # chats that got a reminder (each exactly once when equal to ``sent``)
    help_p99_ms: float = 0.0
    help_max_ms: float = 0.0
    help_samples: int = 0


async def _world(count: int, teams: int) -> tuple[str, list[int], datetime]:
    now = SystemClock().now()
    tmp = scratch_dir()
    url = f"sqlite:///{tmp / 'bench.sqlite3'}"
    # Webinar 1 in a day and ten minutes: its day-before reminder is ten minutes away, and
    # the bench makes it due when the bot is ready.
    world = await seed(url, sizes=team_sizes(count, teams), now=now,
                       first_webinar=now + timedelta(days=1, minutes=10),
                       joined_at=now - timedelta(days=2), tz=midday_zone(now))
    await plan_and_settle(url, now)
    return url, world.user_ids, now


async def _make_due(url: str, limit: int | None) -> int:
    """The day-before reminders (or the first ``limit`` of them) due now."""
    engine = create_engine(url)
    try:
        async with create_sessionmaker(engine).begin() as session:
            now = SystemClock().now()
            stmt = (update(OutboxMessage)
                    .where(OutboxMessage.kind == Kind.WEBINAR_REMINDER,
                           OutboxMessage.status == OutboxStatus.PENDING,
                           OutboxMessage.due_at < now + timedelta(minutes=30))
                    .values(due_at=now).execution_options(synchronize_session=False))
            if limit is not None:
                first = select(OutboxMessage.id).where(
                    OutboxMessage.kind == Kind.WEBINAR_REMINDER,
                    OutboxMessage.status == OutboxStatus.PENDING,
                    OutboxMessage.due_at < now + timedelta(minutes=30),
                ).order_by(OutboxMessage.id).limit(limit)
                stmt = stmt.where(OutboxMessage.id.in_(first.scalar_subquery()))
            result = await session.execute(stmt)
            return int(result.rowcount or 0)  # type: ignore[attr-defined]
    finally:
        await engine.dispose()


def _sends(api: LocalBotApi, users: set[int]) -> list[float]:
    return [c.at for c in api.calls if c.method == "sendMessage" and c.ok
            and int(c.params.get("chat_id", 0)) in users]


async def _wait_sent(api: LocalBotApi, users: set[int], expected: int) -> None:
    last, last_change = -1, time.perf_counter()
    while True:
        done = len(_sends(api, users))
        if done >= expected:
            return
        if done != last:
            last, last_change = done, time.perf_counter()
        if time.perf_counter() - last_change > STALL_SECONDS:
            print(f"  stalled at {done} of {expected}", file=sys.stderr)
            return
        await asyncio.sleep(0.5)


def _figures(api: LocalBotApi, users: set[int]) -> FanOut:
    times = sorted(_sends(api, users))
    seconds = times[-1] - times[0] if len(times) > 1 else 0.0
    later = [t for t in times if t >= times[0] + 5.0]
    sustained = (len(later) - 1) / (later[-1] - later[0]) if len(later) > 1 and \
        later[-1] > later[0] else 0.0
    too_many = sum(1 for c in api.calls if c.error_code == 429)
    chats = {int(c.params.get("chat_id", 0)) for c in api.calls
             if c.method == "sendMessage" and c.ok} & users
    return FanOut(len(times), seconds, (len(times) - 1) / seconds if seconds else 0.0,
                  sustained, too_many, len(chats))


def _sample(pid: int, out: Path) -> subprocess.Popen[bytes]:
    """py-spy sampling the bot's threads on the CPU during the fan-out only (cProfile counts
    wall time per coroutine step, which on a loaded machine blames whatever runs when the OS
    switches away). Collapsed stacks, one a line with its sample count."""
    return subprocess.Popen([str(Path(sys.executable).with_name("py-spy")), "record",
                             "--pid", str(pid), "--nonblocking", "--format", "raw",
                             "-o", str(out)], stdout=subprocess.DEVNULL)


async def run_mestring(url: str, users: list[int], *, limits: Limits, send_rate: str,
                       limit: int | None, profile: Path | None = None) -> FanOut:
    async with LocalBotApi(limits=limits) as api:
        for user in [*users, HELPER]:
            api.add_user(user, "P", language_code="da").started = True
        proc = spawn([sys.executable, str(ROOT / "bench" / "mestring_bot.py"),
                      "--send-rate", send_rate], mestring_env(api.base_url, api.token, url))
        try:
            await api.wait_for_poller(timeout=300)
            await until_idle(proc.pid)
            sampler = _sample(proc.pid, profile) if profile is not None else None
            expected = await _make_due(url, limit)
            helping = asyncio.Event()
            latencies: list[float] = []

            async def ask_for_help() -> None:
                while not helping.is_set():
                    asked = time.perf_counter()
                    since = api.mark()
                    api.send_text(HELPER, "/help")
                    await api.wait_for_message(HELPER, since=since, timeout=30)
                    latencies.append(time.perf_counter() - asked)
                    await asyncio.sleep(max(0.0, 1.0 - (time.perf_counter() - asked)))

            helper = asyncio.create_task(ask_for_help()) if limits.enabled else None
            await _wait_sent(api, set(users), expected)
            helping.set()
            if helper is not None:
                await helper
            if sampler is not None:
                sampler.send_signal(signal.SIGINT)  # py-spy writes its samples and stops
                await asyncio.to_thread(sampler.wait, 60)
            figures = _figures(api, set(users))
            if latencies:
                figures.help_p99_ms = percentile(latencies, 0.99) * 1000
                figures.help_max_ms = max(latencies) * 1000
                figures.help_samples = len(latencies)
            return figures
        finally:
            await stop(proc)


async def run_bare(count: int, concurrency: int) -> FanOut:
    first = 5_000_000
    async with LocalBotApi(limits=Limits.disabled()) as api:
        for user in range(first, first + count):
            api.add_user(user, "P", language_code="da").started = True
        proc = await asyncio.create_subprocess_exec(
            sys.executable, str(ROOT / "bench" / "bare_send.py"), api.base_url, api.token,
            str(first), str(count), str(concurrency), cwd=ROOT, stdout=subprocess.DEVNULL)
        await proc.wait()
        return _figures(api, set(range(first, first + count)))


@dataclass
class Results:
    unpaced: FanOut  # limits off: the run with the median rate
    bare: FanOut | None  # the floor for it: likewise
    paced: FanOut  # limits on, with /help asked meanwhile
    expected_unpaced: int
    expected_paced: int
    unpaced_runs: list[FanOut]  # every limits-off run, in order
    bare_runs: list[FanOut]


def _median_run(runs: list[FanOut]) -> FanOut:
    return sorted(runs, key=lambda run: run.rate)[len(runs) // 2]


async def measure(participants: int, teams: int, limited: int, concurrency: int = 8, *,
                  bare: bool = True, repeats: int = 1,
                  profile: Path | None = None) -> Results:
    """Both runs (and the bare floor unless ``bare`` is false), each on a fresh world. Limits
    off runs ``repeats`` times, mestring and the floor alternating: one run of either moved
    by half between runs on an idle machine (the floor 337-572 msg/s), the median does not."""

    def sample(run: str) -> Path | None:
        return profile.with_suffix(f".{run}") if profile is not None else None

    unpaced: list[FanOut] = []
    floor: list[FanOut] = []
    for repeat in range(repeats):
        note("world")
        url, users, _ = await _world(participants, teams)
        note("limits off: mestring")
        unpaced.append(await run_mestring(
            url, users, limits=Limits.disabled(), send_rate="none", limit=None,
            profile=sample("off") if repeat == 0 else None))
        if bare:
            note("limits off: bare send loop")
            floor.append(await run_bare(len(users), concurrency))
    note("world")
    url, users, _ = await _world(participants, teams)
    note("limits on: mestring")
    paced = await run_mestring(url, users, limits=Limits(), send_rate="default",
                               limit=limited, profile=sample("on"))
    return Results(_median_run(unpaced), _median_run(floor) if floor else None, paced,
                   len(users), min(limited, len(users)), unpaced, floor)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--participants", type=int, default=10_000)
    parser.add_argument("--teams", type=int, default=700)
    parser.add_argument("--limited", type=int, default=1500,
                        help="reminders sent with Telegram's limits on")
    parser.add_argument("--concurrency", type=int, default=8,
                        help="sends at a time, as the dispatcher's DeliveryConfig.concurrency")
    parser.add_argument("--repeats", type=int, default=3,
                        help="limits-off runs of each side, alternating; the medians count")
    parser.add_argument("--profile", type=Path, default=None,
                        help="sample mestring with py-spy (pip install py-spy) into "
                        "PROFILE.off / .on "
                        "(collapsed stacks)")
    args = parser.parse_args()

    results = asyncio.run(measure(args.participants, args.teams, args.limited,
                                  args.concurrency, repeats=args.repeats,
                                  profile=args.profile))
    unpaced, bare, paced = results.unpaced, results.bare, results.paced
    assert bare is not None
    print(f"\n{args.participants} participants in {args.teams} teams; limits off: "
          f"{unpaced.sent} sent in {unpaced.seconds:.1f} s (bare: {bare.sent} in "
          f"{bare.seconds:.1f} s); limits on: {paced.sent} sent in {paced.seconds:.1f} s, "
          f"/help asked {paced.help_samples} times")
    print("limits off, each run (msg/s): mestring "
          + " / ".join(f"{run.rate:.0f}" for run in results.unpaced_runs) + "; bare "
          + " / ".join(f"{run.rate:.0f}" for run in results.bare_runs) + "; medians below\n")
    print(table([
        ("fan-out, limits off", f"{unpaced.rate:.0f} msg/s", f"{bare.rate:.0f} msg/s",
         ratio(unpaced.rate, bare.rate)),
        ("fan-out, Telegram's limits on (sustained)", f"{paced.sustained:.1f} msg/s",
         "30 msg/s", ratio(paced.sustained, 30.0)),
        ("429 answers, limits on", str(paced.too_many), "0", "–"),
        ("/help during the fan-out, p99 / max", f"{paced.help_p99_ms:.0f} / "
         f"{paced.help_max_ms:.0f} ms", "< 1000 ms", "–"),
    ]))
    print(f"\ntargets: limits off ≥ 0.8× bare: "
          f"{'met' if unpaced.rate >= 0.8 * bare.rate else 'NOT met'}; limits on ≥ 28 msg/s "
          f"with 0 × 429: {'met' if paced.sustained >= 28 and paced.too_many == 0 else 'NOT met'}"
          f"; /help under 1 s: {'met' if paced.help_max_ms < 1000 else 'NOT met'}")


if __name__ == "__main__":
    main()
