"""Speed of a research export next to what the database alone needs, in the same run.

For each size a fresh SQLite database is filled with realistic data (bench/export_data.py).
Then, on that database and one after the other:

- the floor: every query the export runs (each dataset's rows and its count), compiled to SQL
  and run by ``sqlite3 -csv`` into /dev/null — the long-answer queries on their own too;
- the long CSVs written by the export's own code with nothing else running (the ratio);
- the export itself in a fresh process (``run_export`` with its default workers), timing each
  dataset's CSV and the whole export (all CSVs, codebook, workbook, labelled files, REDCap,
  zip), sampling the peak RSS of the export process and its workers together.

    .venv/bin/python bench/export_speed.py                      # 100k and 1M answers
    .venv/bin/python bench/export_speed.py --answers 100000

Figures go to docs/benchmarks.md (## Export speed). Not part of the test suite.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psutil
from sqlalchemy import func, select
from sqlalchemy.dialects import sqlite

from bench.export_data import PLACES, answers_per_participant, generate
from dialogs.exports import datasets
from dialogs.exports.run import Progress
from dialogs.questionnaires import load_questionnaires
from storage.engine import create_engine, create_sessionmaker
from storage.migrate import upgrade
from storage.models import Answer

LONG = ("checkin_answers", "evaluation_answers")
MUNICIPALITIES = [p.municipality for p in PLACES]


async def _fill(url: str, participants: int) -> int:
    engine = create_engine(url)
    try:
        async with create_sessionmaker(engine).begin() as session:
            await generate(session, participants, teams=max(2, participants // 15))
        async with create_sessionmaker(engine)() as session:
            return int(await session.scalar(select(func.count()).select_from(Answer)) or 0)
    finally:
        await engine.dispose()


async def _queries(url: str) -> list[tuple[str, str]]:
    """(dataset, SQL) for every query the export runs for its datasets."""
    from dialogs.exports import resolve_scope

    engine = create_engine(url)
    try:
        async with create_sessionmaker(engine)() as session:
            scope = await resolve_scope(session, municipalities=MUNICIPALITIES)
            found = await datasets.build(session, scope, load_questionnaires())
    finally:
        await engine.dispose()
    dialect = sqlite.dialect()
    out = []
    for d in found:
        for stmt in (d.count_query, d.query):
            sql = str(stmt.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))
            out.append((d.name, sql))
    return out


async def _long_alone(url: str, out: Path) -> float:
    """The export's own code writing the long CSVs, with nothing else running."""
    from dialogs.exports import resolve_scope
    from dialogs.exports.writers import CsvTable

    engine = create_engine(url)
    try:
        async with create_sessionmaker(engine)() as session:
            scope = await resolve_scope(session, municipalities=MUNICIPALITIES)
            qs = load_questionnaires()
            started = time.perf_counter()
            for checkin in (True, False):
                dataset = datasets.answers(scope, qs, checkin=checkin)
                table = CsvTable(out / f"{dataset.name}.csv", [c.name for c in dataset.columns])
                async for batch in dataset.batches(session):
                    table.write(batch)
                table.close()
            return time.perf_counter() - started
    finally:
        await engine.dispose()


def _floor(db: Path, queries: list[tuple[str, str]]) -> dict[str, float]:
    seconds: dict[str, float] = {}
    for name, sql in queries:
        started = time.perf_counter()
        subprocess.run(["sqlite3", "-csv", str(db)], input=sql + ";\n", text=True,
                       stdout=subprocess.DEVNULL, check=True)
        seconds[name] = seconds.get(name, 0.0) + time.perf_counter() - started
    return seconds


async def _export(url: str, out: Path, workbook: bool) -> dict[str, object]:
    from dialogs.exports import resolve_scope, run_export

    engine = create_engine(url)
    sessions = create_sessionmaker(engine)
    async with sessions() as session:
        scope = await resolve_scope(session, municipalities=MUNICIPALITIES)
    me = psutil.Process()
    peak = [0]
    running = [True]

    def sample() -> None:
        while running[0]:
            try:
                tree = [me, *me.children(recursive=True)]
                # PSS: a library page shared by the export and its worker counts once.
                peak[0] = max(peak[0], sum(p.memory_full_info().pss for p in tree
                                           if p.is_running()))
            except psutil.Error:
                pass
            time.sleep(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    begun: dict[str, float] = {}
    took: dict[str, float] = {}

    def progress(p: Progress) -> None:
        now = time.perf_counter()
        begun.setdefault(p.dataset, now)
        if p.finished:
            took[p.dataset] = now - begun[p.dataset]

    started = time.perf_counter()
    result = await run_export(sessions, scope, out, "bench", datetime.now(UTC), progress,
                              workbook=workbook)
    seconds = time.perf_counter() - started
    running[0] = False
    sampler.join()
    await engine.dispose()
    return {"seconds": seconds, "datasets": took, "peak_mb": peak[0] / 2**20,
            "counts": result.counts, "zip_mb": sum(p.stat().st_size for p in result.archives)
            / 2**20, "not_in_workbook": result.not_in_workbook}


def measure(answers: int, workdir: Path, modes: list[bool]) -> list[dict[str, object]]:
    """Fill once; then the floors, the long CSVs alone, and an export per mode (with or
    without the workbook) on the same database."""
    participants = max(2, round(answers / answers_per_participant(load_questionnaires())))
    db = workdir / f"bench-{answers}.db"
    url = f"sqlite:///{db}"
    upgrade(url)
    rows = asyncio.run(_fill(url, participants))
    queries = asyncio.run(_queries(url))
    floor = _floor(db, queries)
    (workdir / f"long-{answers}").mkdir()
    alone = asyncio.run(_long_alone(url, workdir / f"long-{answers}"))
    out = []
    for workbook in modes:
        child = subprocess.run([sys.executable, __file__, "--child", url,
                                str(workdir / f"out-{answers}-{workbook}"),
                                *([] if workbook else ["--no-xlsx"])],
                               capture_output=True, text=True, check=True)
        figures = json.loads(child.stdout.strip().splitlines()[-1])
        took = figures["datasets"]
        out.append({
            "workbook": workbook, "answers": rows, "participants": participants,
            "long_alone_s": alone, "long_s": sum(took[n] for n in LONG),
            "long_floor_s": sum(floor[n] for n in LONG),
            "export_s": figures["seconds"], "floor_s": sum(floor.values()),
            "peak_mb": figures["peak_mb"], "zip_mb": figures["zip_mb"],
            "workbook_s": took.get("mestring-export.xlsx", float("nan")),
            "not_in_workbook": figures["not_in_workbook"],
        })
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--answers", type=int, action="append")
    parser.add_argument("--no-xlsx", action="store_true",
                        help="export without the XLSX workbook (run_export(workbook=False))")
    parser.add_argument("--both", action="store_true",
                        help="export with and without the workbook, on the same database")
    parser.add_argument("--child", nargs=2, metavar=("URL", "OUT"))
    args = parser.parse_args()
    if args.child:
        url, out = args.child
        print(json.dumps(asyncio.run(_export(url, Path(out), not args.no_xlsx))))
        return
    print(f"machine: {platform.processor() or platform.machine()}, {psutil.cpu_count()} cores, "
          f"{psutil.virtual_memory().total / 2**30:.0f} GiB; load {psutil.getloadavg()}",
          flush=True)
    modes = [True, False] if args.both else [not args.no_xlsx]
    print("| answers | workbook | long CSVs s (alone) | in the export s | their floor s "
          "| ratio (≤ 3) | whole export s | floor of all queries s | ratio (≤ 5) | workbook s "
          "| peak PSS MB (< 200) | zip MB |")
    print("| ---: | :-: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
          flush=True)
    with tempfile.TemporaryDirectory(prefix="mestring-speed-") as tmp:
        for size in args.answers or [100_000, 1_000_000]:
            for f in measure(size, Path(tmp), modes):
                _row(f)
    print(f"load after: {psutil.getloadavg()}")


def _row(f: dict[str, object]) -> None:
    print(f"| {f['answers']:,} | {'yes' if f['workbook'] else 'no'} "
          f"| {f['long_alone_s']:.1f} | {f['long_s']:.1f} | {f['long_floor_s']:.1f} "
          f"| {f['long_alone_s'] / f['long_floor_s']:.1f} | {f['export_s']:.1f} "  # type: ignore[operator]
          f"| {f['floor_s']:.1f} | {f['export_s'] / f['floor_s']:.1f} "  # type: ignore[operator]
          f"| {f['workbook_s']:.1f} | {f['peak_mb']:.0f} | {f['zip_mb']:.1f} |", flush=True)
    if f["not_in_workbook"]:
        print(f"  not in the workbook: {', '.join(f['not_in_workbook'])}",  # type: ignore[arg-type]
              flush=True)


if __name__ == "__main__":
    main()
