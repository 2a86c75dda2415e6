"""The bot process is killed (SIGKILL) halfway through 1,000 due messages and restarted:
nothing is lost, and duplicates are no more than the rows that were in flight."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import httpx
from sqlalchemy import func, select

from bench.world import midday_zone
from storage.clock import SystemClock
from storage.engine import create_engine, create_sessionmaker
from storage.migrate import upgrade_async
from storage.models import OutboxMessage, OutboxStatus
from tests.delivery.world import fan_out
from tests.figures import record_figure

N = 1000
LEASE_SECONDS = 2.0
# A guard against a hang, not a speed check: generous, because CI machines are shared.
DEADLINE_SECONDS = 300.0
ROOT = Path(__file__).resolve().parents[2]


def _start(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, *args], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)


async def _count(sessions, status: OutboxStatus) -> int:  # type: ignore[no-untyped-def]
    async with sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(OutboxMessage)
                                        .where(OutboxMessage.status == status)) or 0)


async def test_killed_worker_loses_nothing_and_repeats_at_most_what_was_in_flight(
    tmp_path: Path,
) -> None:
    deadline = time.monotonic() + DEADLINE_SECONDS
    url = f"sqlite:///{tmp_path / 'crash.sqlite3'}"
    await upgrade_async(url)
    server = _start("-m", "bot.local_api", "--port", "0", "--no-limits")
    workers: list[subprocess.Popen[str]] = []
    engine = create_engine(url)
    try:
        assert server.stdout is not None
        root = server.stdout.readline().strip().split("=", 1)[1]
        token = server.stdout.readline().strip().split("=", 1)[1]
        users = list(range(200_001, 200_001 + N))
        async with httpx.AsyncClient(base_url=root, timeout=10) as client:
            for user in users:
                (await client.post("/_sim/users", json={"user_id": user, "first_name": "P"})
                 ).raise_for_status()
                (await client.post(f"/_sim/users/{user}/text", json={"text": "/start"})
                 ).raise_for_status()
            sessions = create_sessionmaker(engine)
            # Real time: the team lives where it is midday now, or after 21:00 in Copenhagen
            # the reminders would wait for the morning (quiet hours) and nothing be sent.
            now = SystemClock().now()
            await fan_out(sessions, users, now, timezone=midday_zone(now))

            def worker() -> subprocess.Popen[str]:
                proc = _start("-m", "tests.delivery.crash_worker", url, root, token,
                              str(LEASE_SECONDS))
                workers.append(proc)
                return proc

            async def delivered() -> int:
                calls = (await client.get("/_sim/calls")).json()["result"]
                return sum(1 for c in calls if c["method"] == "sendMessage" and c["ok"])

            first = worker()
            # Kill by what Telegram received, not what the database recorded: mid-batch.
            while await delivered() < N // 2:
                assert first.poll() is None, "the worker ended before the crash"
                assert time.monotonic() < deadline
                await asyncio.sleep(0.02)
            first.kill()  # SIGKILL: no cleanup, claims left behind
            first.wait(timeout=10)
            in_flight = await _count(sessions, OutboxStatus.CLAIMED)
            sent_before = await _count(sessions, OutboxStatus.SENT)

            second = worker()
            while second.poll() is None:
                assert time.monotonic() < deadline, "the restarted worker did not finish"
                await asyncio.sleep(0.1)
            assert second.returncode == 0

            calls = (await client.get("/_sim/calls")).json()["result"]
        per_chat = Counter(int(c["params"]["chat_id"]) for c in calls
                           if c["method"] == "sendMessage" and c["ok"])
        lost = [u for u in users if per_chat[u] == 0]
        duplicates = sum(per_chat.values()) - len(per_chat)
        record_figure(f"crash test: killed at sent={sent_before} in_flight={in_flight} "
              f"lost={len(lost)} duplicates={duplicates}")
        assert await _count(sessions, OutboxStatus.SENT) == N
        assert lost == []
        assert duplicates <= in_flight
    finally:
        for proc in [*workers, server]:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)
        await engine.dispose()
