"""Memory of a research export as the data grows: it should stay flat.

For each size, a fresh SQLite database is filled (bench/export_data.py) in one process, and the
export runs in a new process that reports its peak RSS and the peak of Python allocations
(tracemalloc) during the export only. Figures go to docs/benchmarks.md (## Export memory).

    .venv/bin/python bench/export_memory.py                 # 3k, 10k, 30k, 100k answer rows
    .venv/bin/python bench/export_memory.py --answers 10000 --answers 300000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psutil

from bench.export_data import PLACES, answers_per_participant, generate
from dialogs.exports.run import Progress
from dialogs.questionnaires import load_questionnaires
from storage.engine import create_engine, create_sessionmaker
from storage.migrate import upgrade


async def _fill(url: str, participants: int) -> None:
    engine = create_engine(url)
    try:
        async with create_sessionmaker(engine).begin() as session:
            await generate(session, participants, teams=max(1, participants // 15))
    finally:
        await engine.dispose()


async def _export(url: str, out: Path, trace: bool) -> dict[str, float]:
    from dialogs.exports import resolve_scope, run_export
    from locales.i18n import Catalogs

    engine = create_engine(url)
    sessions = create_sessionmaker(engine)
    qs, catalogs = load_questionnaires(), Catalogs.load()
    async with sessions() as session:
        scope = await resolve_scope(session, municipalities=[p.municipality for p in PLACES])
    process = psutil.Process()
    before = process.memory_info().rss
    peak_rss = before

    timings: dict[str, float] = {}
    last = [time.perf_counter(), ""]

    def sample(progress: Progress) -> None:
        nonlocal peak_rss
        peak_rss = max(peak_rss, process.memory_info().rss)
        if progress.finished:
            now = time.perf_counter()
            timings[progress.dataset] = now - float(last[0])
            last[0] = now

    if trace:
        tracemalloc.start()
    started = time.perf_counter()
    result = await run_export(sessions, scope, out, "bench", datetime.now(UTC), sample,
                              questionnaires=qs, catalogs=catalogs)
    seconds = time.perf_counter() - started
    traced_peak = tracemalloc.get_traced_memory()[1] if trace else float("nan")
    tracemalloc.stop()
    print(json.dumps(timings), file=sys.stderr)
    await engine.dispose()
    return {
        "answer_rows": result.counts["checkin_answers"] + result.counts["evaluation_answers"],
        "all_rows": sum(result.counts.values()),
        "seconds": seconds,
        "rows_per_second": sum(result.counts.values()) / seconds,
        "rss_before_mb": before / 2**20,
        "rss_peak_growth_mb": (peak_rss - before) / 2**20,
        "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "tracemalloc_peak_mb": traced_peak / 2**20,
        "zip_mb": sum(p.stat().st_size for p in result.archives) / 2**20,
        "parts": len(result.archives),
    }


def _child(url: str, out: Path, trace: bool) -> dict[str, float]:
    # A fresh process per run: peak RSS then belongs to this export alone.
    child = subprocess.run(
        [sys.executable, __file__, "--child", url, str(out), *(["--trace"] if trace else [])],
        capture_output=True, text=True, check=True)
    return dict(json.loads(child.stdout.strip().splitlines()[-1]))


def measure(answers: int, workdir: Path, trace: bool) -> dict[str, float]:
    participants = max(1, round(answers / answers_per_participant(load_questionnaires())))
    url = f"sqlite:///{workdir / f'bench-{answers}.db'}"
    upgrade(url)
    asyncio.run(_fill(url, participants))
    figures = _child(url, workdir / f"out-{answers}", trace=False)
    # tracemalloc slows the export about fivefold: traced runs only for the smaller sizes.
    if trace:
        figures["tracemalloc_peak_mb"] = _child(url, workdir / f"traced-{answers}",
                                                trace=True)["tracemalloc_peak_mb"]
    figures["participants"] = participants
    return figures


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--answers", type=int, action="append")
    parser.add_argument("--trace-up-to", type=int, default=10_000,
                        help="also measure tracemalloc for sizes up to this many answers")
    parser.add_argument("--child", nargs=2, metavar=("URL", "OUT"))
    parser.add_argument("--trace", action="store_true")
    args = parser.parse_args()
    if args.child:
        url, out = args.child
        print(json.dumps(asyncio.run(_export(url, Path(out), args.trace))))
        return
    sizes = args.answers or [3_000, 10_000, 30_000, 100_000]
    print("| answer rows | participants | all rows | export s | RSS growth MB | max RSS MB "
          "| tracemalloc peak MB | zip MB |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    with tempfile.TemporaryDirectory(prefix="mestring-bench-") as tmp:
        for size in sizes:
            f = measure(size, Path(tmp), trace=size <= args.trace_up_to)
            print(f"| {int(f['answer_rows']):,} | {int(f['participants']):,} "
                  f"| {int(f['all_rows']):,} | {f['seconds']:.1f} "
                  f"| {f['rss_peak_growth_mb']:.1f} | {f['max_rss_mb']:.0f} "
                  f"| {_mb(f['tracemalloc_peak_mb'])} | {f['zip_mb']:.1f} |", flush=True)


def _mb(value: float) -> str:
    return "–" if value != value else f"{value:.1f}"  # NaN: not traced


if __name__ == "__main__":
    main()
