"""Replies first: how fast a person gets an answer while a large fan-out is being sent.

The local Bot API runs with Telegram's limits on real time (30 messages/s per bot, 1/s per
chat). One thousand participants each get a module message from the outbox, sent by the
dispatcher at its own share (20/s); meanwhile one more participant types /help once a second.
We measure, on the wall clock, the time from their message to the bot's answer — first with
nothing else going on, then during the fan-out — and how long the fan-out takes.

    .venv/bin/python bench/reply_latency.py [--recipients 1000]

Stops by itself when the fan-out is done (or after a time limit). Loopback only.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from bot.local_api import LocalBotApi
from bot.sandbox import Sandbox, open_sandbox
from bot.settings import Settings
from dialogs.coordinator import create_team_with_invites
from dialogs.delivery import outbox
from dialogs.delivery.config import DeliveryConfig
from dialogs.delivery.kinds import Kind
from storage import queries
from storage.clock import SystemClock
from storage.models import Person

PRESSER = 1
FIRST_RECIPIENT = 100_000
TIME_LIMIT_SECONDS = 240


async def _reply_latency(sandbox: Sandbox) -> float:
    started = time.perf_counter()
    await sandbox.handled(sandbox.api.send_text(PRESSER, "/help"))
    return time.perf_counter() - started


async def run(recipients: int) -> dict[str, float]:
    clock = SystemClock()
    tmp = Path(tempfile.mkdtemp(prefix="mestring-bench-"))
    async with LocalBotApi() as api, open_sandbox(
        settings=Settings(data_dir=tmp), database_url=f"sqlite:///{tmp / 'bench.sqlite3'}",
        clock=clock, api=api, delivery_config=DeliveryConfig(),
    ) as sandbox:
        now = clock.now()
        async with sandbox.services.sessions.begin() as session:
            created = await create_team_with_invites(
                session, municipality_name="Bench", team_name="Fan-out",
                first_session_local=(now + timedelta(days=20)).replace(tzinfo=None),
                webinar_url=None, language="da", country="DK", timezone=None, now=now,
                actor="bench",
            )
            rows = []
            for i in range(recipients):
                user_id = FIRST_RECIPIENT + i
                person = Person(telegram_user_id=user_id, chat_id=user_id, display_name=None,
                                created_at=now)
                session.add(person)
                await session.flush()
                membership = await queries.add_membership(session, person, created.team, now=now)
                rows.append(outbox.NewRow(
                    person_id=person.id, chat_id=user_id, kind=Kind.MODULE_OPEN,
                    dedup_key=f"bench:{i}", due_at=now, expires_at=now + timedelta(hours=1),
                    payload={"module_no": 2, "membership_id": membership.id}, urgent=True,
                ))
            await outbox.add_rows(session, rows, now)
        for i in range(recipients):
            api.add_user(FIRST_RECIPIENT + i, f"R{i}").started = True
        api.add_user(PRESSER, "Kim", language_code="da")
        assert sandbox.delivery is not None

        idle = []
        for _ in range(10):
            idle.append(await _reply_latency(sandbox))
            await asyncio.sleep(1.0)  # a person's pace, within Telegram's 1/s per chat

        fan_out_started = time.perf_counter()
        fan_out = asyncio.create_task(sandbox.delivery.run_once())
        busy = []
        deadline = fan_out_started + TIME_LIMIT_SECONDS
        while not fan_out.done() and time.perf_counter() < deadline:
            busy.append(await _reply_latency(sandbox))
            await asyncio.sleep(1.0)
        report = await asyncio.wait_for(fan_out, max(1.0, deadline - time.perf_counter()))
        fan_out_seconds = time.perf_counter() - fan_out_started
        delivered = sum(1 for i in range(recipients) if api.messages_to(FIRST_RECIPIENT + i))
        too_many = sum(1 for c in api.calls if c.error_code == 429)
    return {
        "recipients": recipients,
        "delivered": delivered,
        "fan_out_seconds": fan_out_seconds,
        "fan_out_per_second": delivered / fan_out_seconds,
        "http_429": too_many,
        "idle_p50_ms": statistics.median(idle) * 1000,
        "idle_max_ms": max(idle) * 1000,
        "busy_samples": len(busy),
        "busy_p50_ms": statistics.median(busy) * 1000,
        "busy_p95_ms": statistics.quantiles(busy, n=20)[-1] * 1000 if len(busy) >= 20
        else max(busy) * 1000,
        "busy_max_ms": max(busy) * 1000,
        "sent_report": float(report.sent),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipients", type=int, default=1000)
    args = parser.parse_args()
    figures = asyncio.run(run(args.recipients))
    for key, value in figures.items():
        print(f"{key:>20}: {value:,.1f}" if isinstance(value, float) else f"{key:>20}: {value}")


if __name__ == "__main__":
    main()
