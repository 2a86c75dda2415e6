"""Fairness: one person floods the bot; does another still get answers at once?

The local Bot API runs with Telegram's limits on real time (30 messages/s per bot, 1/s per
chat with a burst of 3). One participant sends 100 messages in a burst; meanwhile another
sends /help once a second. We measure, on the wall clock, the time from each /help to the bot's
handled answer, and what became of the burst: how many messages were answered, how many got
the flood note, how many were dropped, and when the last of them was done.

    .venv/bin/python bench/fairness.py [--burst 100] [--seconds 30] [--flood-max 20]

``--flood-max 1000`` turns the flood guard off, to see the per-chat slots on their own.
Stops by itself after ``--seconds`` of /help (and at most two minutes for the burst). Loopback
only.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from bot.handlers.robustness import flood_screen
from bot.local_api import LocalBotApi
from bot.sandbox import Sandbox, open_sandbox
from bot.settings import Settings
from dialogs.coordinator import create_team_with_invites
from storage import queries
from storage.clock import SystemClock
from storage.models import Person

BURSTER, HELPER = 1, 2
BURST_LIMIT_SECONDS = 120


async def _people(sandbox: Sandbox) -> None:
    clock = sandbox.services.clock
    now = clock.now()
    async with sandbox.services.sessions.begin() as session:
        created = await create_team_with_invites(
            session, municipality_name="Bench", team_name="Fairness",
            first_session_local=(now + timedelta(days=20)).replace(tzinfo=None),
            webinar_url=None, language="da", country="DK", timezone=None, now=now,
            actor="bench",
        )
        for user_id in (BURSTER, HELPER):
            person = Person(telegram_user_id=user_id, chat_id=user_id, locale="da",
                            display_name=None, created_at=now)
            session.add(person)
            await session.flush()
            membership = await queries.add_membership(session, person, created.team, now=now)
            membership.joined_at = now
    for user_id in (BURSTER, HELPER):
        sandbox.api.add_user(user_id, "P", language_code="da").started = True


async def run(burst: int, seconds: float, flood_max: int) -> dict[str, float | int]:
    tmp = Path(tempfile.mkdtemp(prefix="mestring-bench-"))
    settings = Settings(data_dir=tmp, flood_max_updates=flood_max)
    async with LocalBotApi() as api, open_sandbox(
        settings=settings, database_url=f"sqlite:///{tmp / 'bench.sqlite3'}",
        clock=SystemClock(), api=api,
    ) as sandbox:
        await _people(sandbox)
        note = flood_screen(sandbox.services.catalogs.tr("da")).text

        started = time.perf_counter()
        burst_ids = [api.send_text(BURSTER, f"besked {n}") for n in range(burst)]

        async def burst_done() -> float:
            for update_id in burst_ids:
                await sandbox.processor.wait_handled(update_id, BURST_LIMIT_SECONDS)
            return time.perf_counter() - started

        burst_task = asyncio.create_task(burst_done())
        latencies = []
        while time.perf_counter() - started < seconds:
            asked = time.perf_counter()
            await sandbox.handled(api.send_text(HELPER, "/help"))
            latencies.append(time.perf_counter() - asked)
            await asyncio.sleep(max(0.0, 1.0 - (time.perf_counter() - asked)))
        burst_seconds = await burst_task

        to_burster = [m.text or "" for m in api.messages_to(BURSTER)]
        notes = sum(1 for text in to_burster if text == note)
        answered = len(to_burster) - notes
        flood_429 = sum(1 for c in api.calls
                        if c.error_code == 429 and str(c.params.get("chat_id")) == str(BURSTER))
    latencies.sort()
    return {
        "help_samples": len(latencies),
        "help_p50_ms": statistics.median(latencies) * 1000,
        "help_p99_ms": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000,
        "help_max_ms": latencies[-1] * 1000,
        "burst_sent": burst,
        "burst_answered": answered,
        "burst_notes": notes,
        "burst_dropped": burst - answered - notes,
        "burst_done_s": burst_seconds,
        "burst_429s": flood_429,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--burst", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--flood-max", type=int, default=20)
    args = parser.parse_args()
    figures = asyncio.run(run(args.burst, args.seconds, args.flood_max))
    for key, value in figures.items():
        print(f"{key:>16}: {value:,.1f}" if isinstance(value, float) else f"{key:>16}: {value}")


if __name__ == "__main__":
    main()
