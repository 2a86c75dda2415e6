"""Updates: bot CPU per update and reply latency, mestring against a bare PTB bot.

One run measures both bots, one after the other, on the same local Bot API, which runs in
this process on real time; each bot is a process of its own, so its CPU time is its own.
Telegram's flood limits are off: the CPU phase answers faster than 30 a second, and what is
measured here is the bot, not Telegram. mestring runs as in production (`mestring run`, long
polling) on a SQLite file with ``--people`` enrolled participants in teams of 15; the floor
is bench/bare_bot.py, which answers the same three things with texts of the same size and
nothing behind them.

mestring's own send budget (``MESTRING_SEND_RATE_PER_SECOND``, Telegram's 30 messages a
second, bot/budget.py) is Telegram's limit kept on the bot's side, so it is off here too
(as bench/fanout.py's "limits off" run turns the outbox's pacing off). With it on, the CPU
phase ran at 30 updates a second while the floor ran at ~100, and a process that waits
between updates pays more CPU for each (caches gone cold): the bare bot paced at 30 a
second took 8.9-9.7 ms an update instead of 6.1-7.3, mestring 12.8 instead of 10.6.

1. CPU: each participant in turn sends /course, presses its first module button and sends
   /help, each after the answer to the one before: the bot's CPU seconds over those updates.
2. Latency: updates arrive at ``--rate`` a second (round robin over the participants, the same
   three steps) for ``--seconds``: the time from each update to the bot's answer.

    .venv/bin/python bench/updates.py [--people 200] [--rate 20] [--seconds 30]

Prints a table and stops by itself. Loopback only. Every answer is checked to be the screen
asked for (``wrong`` counts those that were not); tests/bench_smoke runs a small version.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.world import (
    bare_bot_cmd,
    cpu_seconds,
    mestring_cmd,
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
)
from bot.local_api import Limits, LocalBotApi
from storage.clock import SystemClock

STEPS = ("course", "press", "help")
# Messages a second for mestring's send budget: far above what the CPU phase sends, so the
# budget never paces it (Telegram's limits are off, see above).
UNPACED = "100000"
REPLY_TIMEOUT = 30.0
# How each step's answer begins: mestring's Danish screens and bench/bare_bot.py's texts.
MESTRING_SCREENS = {"course": "Kurset\n", "press": "Modul 1: ", "help": "Hjælp\n"}
BARE_SCREENS = {"course": "Forløbet\n", "press": "Modul 1 · trin 1 af 3\n", "help": "Hjælp\n"}


@dataclass
class Figures:
    cpu_ms_per_update: float
    updates: int
    p50_ms: float
    p99_ms: float
    max_ms: float
    samples: int
    late: int  # no answer within REPLY_TIMEOUT
    wrong: int  # answered with another screen than the step asked for


class People:
    """Simulated participants doing /course, a module button, /help in a cycle."""

    def __init__(self, api: LocalBotApi, user_ids: list[int], screens: dict[str, str]) -> None:
        self.api = api
        self.user_ids = user_ids
        self.screens = screens
        self.step = dict.fromkeys(user_ids, 0)
        self.wrong = 0

    async def act(self, user: int) -> float:
        """The person's next step; returns the seconds until the bot's answer."""
        step = STEPS[self.step[user] % len(STEPS)]
        self.step[user] += 1
        since = self.api.mark()
        started = time.perf_counter()
        if step == "press":
            message = next(m for m in reversed(self.api.messages_to(user))
                           if any(str(b.get("callback_data", "")).startswith("v1:ms:")
                                  for b in m.buttons()))
            data = next(str(b["callback_data"]) for b in message.buttons()
                        if str(b.get("callback_data", "")).startswith("v1:ms:"))
            self.api.press_button(user, message.message_id, data)
        else:
            self.api.send_text(user, f"/{step}")
        answer = await self.api.wait_for_message(user, since=since,
                                                 include_edits=step == "press",
                                                 timeout=REPLY_TIMEOUT)
        took = time.perf_counter() - started
        if not (answer.text or "").startswith(self.screens[step]):
            self.wrong += 1
        return took


async def measure(api: LocalBotApi, pid: int, people: People, rate: float,
                  seconds: float) -> Figures:
    await api.wait_for_poller(timeout=120)
    users = people.user_ids
    for user in users[:20]:  # warm up: first imports, caches, connections
        for _ in STEPS:
            await people.act(user)
    # 1. CPU per update, one update at a time.
    cpu_before = cpu_seconds(pid)
    updates = 0
    for user in users:
        while people.step[user] % len(STEPS):
            await people.act(user)
            updates += 1
        for _ in STEPS:
            await people.act(user)
            updates += 1
    cpu_ms = (cpu_seconds(pid) - cpu_before) * 1000 / updates
    # 2. Latency at a steady rate.
    latencies: list[float] = []
    late = 0

    async def one(user: int) -> None:
        nonlocal late
        try:
            latencies.append(await people.act(user))
        except TimeoutError:
            late += 1

    tasks = []
    started = time.perf_counter()
    for n in range(int(rate * seconds)):
        await asyncio.sleep(max(0.0, started + n / rate - time.perf_counter()))
        tasks.append(asyncio.create_task(one(users[n % len(users)])))
    await asyncio.gather(*tasks)
    return Figures(cpu_ms, updates, statistics.median(latencies) * 1000,
                   percentile(latencies, 0.99) * 1000, max(latencies) * 1000, len(latencies),
                   late, people.wrong)


async def run_mestring(count: int, rate: float, seconds: float) -> Figures:
    clock = SystemClock()
    now = clock.now()
    tmp = scratch_dir()
    url = f"sqlite:///{tmp / 'bench.sqlite3'}"
    sizes = team_sizes(count, max(1, count // 15))
    world = await seed(url, sizes=sizes, now=now, first_webinar=now + timedelta(days=9),
                       joined_at=now - timedelta(days=1), tz=midday_zone(now))
    await plan_and_settle(url, now)
    async with LocalBotApi(limits=Limits.disabled()) as api:
        for user in world.user_ids:
            api.add_user(user, "P", language_code="da").started = True
        proc = spawn(mestring_cmd(), mestring_env(api.base_url, api.token, url,
                                                  send_rate_per_second=UNPACED))
        try:
            return await measure(api, proc.pid, People(api, world.user_ids, MESTRING_SCREENS),
                                 rate, seconds)
        finally:
            await stop(proc)


async def run_bare(count: int, rate: float, seconds: float) -> Figures:
    user_ids = list(range(1_000_000, 1_000_000 + count))
    async with LocalBotApi(limits=Limits.disabled()) as api:
        for user in user_ids:
            api.add_user(user, "P", language_code="da").started = True
        proc = spawn(bare_bot_cmd(api.base_url, api.token))
        try:
            return await measure(api, proc.pid, People(api, user_ids, BARE_SCREENS), rate,
                                 seconds)
        finally:
            await stop(proc)


def compare(people: int, rate: float, seconds: float) -> tuple[Figures, Figures]:
    """mestring's figures and the bare bot's, from one run each."""
    note("mestring")
    ours = asyncio.run(run_mestring(people, rate, seconds))
    note("bare PTB bot")
    bare = asyncio.run(run_bare(people, rate, seconds))
    return ours, bare


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=200)
    parser.add_argument("--rate", type=float, default=20.0, help="updates a second")
    parser.add_argument("--seconds", type=float, default=30.0)
    args = parser.parse_args()
    ours, bare = compare(args.people, args.rate, args.seconds)
    print(f"\n{args.people} participants; CPU over {ours.updates} updates one at a time; "
          f"latency over {ours.samples} updates at {args.rate:g}/s "
          f"(late: {ours.late} / {bare.late}; wrong screen: {ours.wrong} / {bare.wrong})\n")
    print(table([
        ("bot CPU per update", f"{ours.cpu_ms_per_update:.1f} ms",
         f"{bare.cpu_ms_per_update:.1f} ms", ratio(ours.cpu_ms_per_update,
                                                    bare.cpu_ms_per_update)),
        (f"reply latency at {args.rate:g}/s, p50", f"{ours.p50_ms:.1f} ms",
         f"{bare.p50_ms:.1f} ms", ratio(ours.p50_ms, bare.p50_ms)),
        (f"reply latency at {args.rate:g}/s, p99", f"{ours.p99_ms:.1f} ms",
         f"{bare.p99_ms:.1f} ms", ratio(ours.p99_ms, bare.p99_ms)),
        ("reply latency, max", f"{ours.max_ms:.1f} ms", f"{bare.max_ms:.1f} ms",
         ratio(ours.max_ms, bare.max_ms)),
    ]))
    cpu_ok = ours.cpu_ms_per_update <= 1.5 * bare.cpu_ms_per_update
    p99_ok = ours.p99_ms <= 2 * bare.p99_ms
    print(f"\ntargets: CPU ≤ 1.5× bare: {'met' if cpu_ok else 'NOT met'}; "
          f"p99 ≤ 2× bare: {'met' if p99_ok else 'NOT met'}")


if __name__ == "__main__":
    main()
