"""Where a worker's memory goes: the libraries the stack requires, then mestring's own code.

bench/planner.py compares mestring's idle memory with a bare PTB bot's. This one splits the
difference: a fresh interpreter imports, one layer at a time, what the bare bot imports (PTB),
then each library the issue and DESIGN.md require, then mestring's modules, then loads the
locale data a first reminder loads, and prints its resident memory (RSS) after each layer, the
median of ``--repeats`` interpreters. The imports run with the garbage collector off, as
``mestring``'s own do (bot/collector.py).

    .venv/bin/python bench/memory_budget.py [--repeats 3]

Stops by itself; no network, no database.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.world import table  # noqa: E402

# (what the layer is, the modules it imports); each layer adds to the ones before.
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Python", ()),
    ("python-telegram-bot (the bare bot's imports)", ("telegram", "telegram.ext")),
    ("SQLAlchemy 2: ORM, asyncio, SQLite driver", (
        "sqlalchemy.orm", "sqlalchemy.ext.asyncio", "sqlalchemy.dialects.sqlite.aiosqlite",
        "aiosqlite")),
    ("pydantic and pydantic-settings", ("pydantic_settings",)),
    ("Babel (formatting, catalogs)", ("babel.dates", "babel.numbers", "babel.support")),
    ("APScheduler 3", ("apscheduler.schedulers.asyncio",)),
    ("typer (the command line)", ("typer.main",)),
    ("icalendar (a moved webinar's calendar)", ("icalendar",)),
    ("mestring's own modules (what `mestring run` imports)", ("bot.cli", "bot.runner")),
)
LOCALE_DATA = "Babel's Danish locale data (the first date formatted)"

PROBE = """
import gc, importlib, json, sys
gc.disable()
def rss():
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
layers = json.loads(sys.argv[1])
sizes = [rss()]
for modules in layers[1:]:
    for module in modules:
        importlib.import_module(module)
    sizes.append(rss())
from datetime import date
from babel.dates import format_date
format_date(date(2027, 1, 7), format="full", locale="da")
sizes.append(rss())
print(json.dumps(sizes))
"""


def measure(repeats: int) -> list[float]:
    """The median RSS in MB after each layer, then after the locale data."""
    layers = json.dumps([list(modules) for _, modules in LAYERS])
    runs = [json.loads(subprocess.run([sys.executable, "-c", PROBE, layers], cwd=ROOT,
                                      check=True, capture_output=True, text=True).stdout)
            for _ in range(repeats)]
    return [statistics.median(run[i] for run in runs) for i in range(len(LAYERS) + 1)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    sizes = measure(args.repeats)
    floor = sizes[1]
    names = [name for name, _ in LAYERS] + [LOCALE_DATA]
    rows = [(name, f"+{size - before:.1f} MB" if i else "", f"{size:.1f} MB",
             f"{size / floor:.2f}×" if i else "")
            for i, (name, size, before) in enumerate(zip(names, sizes, [0.0, *sizes[:-1]],
                                                         strict=True))]
    print(f"Resident memory after each layer of imports (median of {args.repeats}); the ratio "
          "is to PTB's imports alone\n")
    print(table(rows, ("layer", "adds", "RSS", "× PTB")))


if __name__ == "__main__":
    main()
