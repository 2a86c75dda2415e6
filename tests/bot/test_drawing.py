"""Pictures are drawn in a child process that starts on demand, goes when idle, and whose
failures reach the handler (bot/drawing.py)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from bot.drawing import Drawing, DrawingFailed

ROOT = Path(__file__).resolve().parents[2]


def _fail(message: str) -> None:
    raise ValueError(message)


def _die() -> None:
    os._exit(3)


def _sleep(seconds: float) -> int:
    import time

    time.sleep(seconds)
    return os.getpid()


async def _gone(pid: int, within: float = 20.0) -> bool:
    for _ in range(int(within / 0.05)):
        if not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
            return True
        await asyncio.sleep(0.05)
    return False


async def test_a_team_pressing_at_once_is_drawn_in_one_child_that_goes_when_idle() -> None:
    drawing = Drawing(idle_seconds=0.3)
    try:
        pids = await asyncio.gather(*(drawing.run(os.getpid) for _ in range(15)))
        assert len(set(pids)) == 1
        assert pids[0] != os.getpid()
        assert drawing.running
        assert await _gone(pids[0])  # idle: its memory goes back
        assert not drawing.running
        assert await drawing.run(os.getpid) not in (os.getpid(), pids[0])  # a new one
    finally:
        await drawing.close()


async def test_a_failed_drawing_reaches_the_caller_and_the_next_one_is_drawn() -> None:
    drawing = Drawing()
    try:
        with pytest.raises(ValueError, match="no data"):
            await drawing.run(_fail, "no data")
        assert await drawing.run(os.getpid) != os.getpid()
    finally:
        await drawing.close()


async def test_a_child_that_dies_is_reported_and_replaced() -> None:
    drawing = Drawing()
    try:
        first = await drawing.run(os.getpid)
        with pytest.raises(DrawingFailed):
            await drawing.run(_die)
        second = await drawing.run(os.getpid)
        assert second not in (first, os.getpid())
    finally:
        await drawing.close()


async def test_a_drawing_that_does_not_answer_is_reported_and_its_child_stopped() -> None:
    drawing = Drawing(timeout_seconds=1.0)
    try:
        stuck = await drawing.run(os.getpid)  # started, so the timeout is the drawing's alone
        with pytest.raises(DrawingFailed):
            await drawing.run(_sleep, 60.0)
        assert await _gone(stuck, within=5.0)
        assert await drawing.run(os.getpid) not in (os.getpid(), stuck)
    finally:
        await drawing.close()


async def test_closing_stops_the_child() -> None:
    drawing = Drawing()
    pid = await drawing.run(os.getpid)
    await drawing.close()
    assert await _gone(pid, within=5.0)
    assert not drawing.running


def test_the_worker_does_not_load_matplotlib_for_a_picture() -> None:
    """The /progress picture is a PNG, and matplotlib (~48 MB) stayed in the child."""
    probe = (
        "import asyncio, sys\n"
        "from bot.drawing import Drawing\n"
        "from dialogs.progress import ChartWords, Progress, render_png\n"
        "async def main():\n"
        "    drawing = Drawing()\n"
        "    png = await drawing.run(render_png, Progress(frozenset({1}), {1: 6.0}),\n"
        "                            ChartWords('t', 'w', 'c', 'p', 'l', 'h'))\n"
        "    await drawing.close()\n"
        "    print(png[:8] == b'\\x89PNG\\r\\n\\x1a\\n', 'matplotlib' in sys.modules)\n"
        "asyncio.run(main())\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, check=True,
                            capture_output=True, text=True, timeout=120)
    assert result.stdout.split() == ["True", "False"]
