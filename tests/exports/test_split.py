"""An export too big for one Telegram document comes as several complete zips, none over the
limit, whose pieces add up to the whole CSV files."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bench.export_data import generate
from dialogs.exports import resolve_scope, run_export
from dialogs.exports.archive import MIN_PART_LIMIT

from .conftest import NOW
from .files import parse_csv, read_csv

PIECE = re.compile(r"^(?P<stem>[a-z0-9_]+)(?:\.part(?P<n>\d+))?\.csv$")


async def test_a_large_export_is_split_into_parts_under_the_limit(
    sessions: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    async with sessions() as session, session.begin():
        await generate(session, 300, text_chars=3000)
    async with sessions() as session:
        scope = await resolve_scope(session, municipalities=["Køge"])
    limit = MIN_PART_LIMIT
    result = await run_export(sessions, scope, tmp_path, "cli:tester", NOW, part_limit=limit)

    assert len(result.archives) >= 3
    assert all(p.stat().st_size <= limit for p in result.archives)
    assert [p.name for p in result.archives][:2] == [
        f"{result.folder.name}-part1.zip", f"{result.folder.name}-part2.zip"]
    # The workbook cannot be cut; bigger than a part, it stays out of the zips (the CLI says so).
    workbook = result.folder / "mestring-export.xlsx"
    assert (workbook.stat().st_size > limit) == ("mestring-export.xlsx" in result.left_out)

    pieces: dict[str, list[tuple[int, bytes]]] = {}
    for part in result.archives:
        with zipfile.ZipFile(part) as archive:
            assert archive.testzip() is None
            for name in archive.namelist():
                match = PIECE.match(Path(name).name)
                if match:
                    pieces.setdefault(match["stem"], []).append(
                        (int(match["n"] or 1), archive.read(name)))
    assert any(len(found) > 1 for found in pieces.values()), "no CSV was cut"
    for path in result.files:
        if path.suffix != ".csv":
            continue
        whole = read_csv(path)
        found = sorted(pieces[path.stem])
        assert [n for n, _ in found] == list(range(1, len(found) + 1))
        tables = [parse_csv(data) for _, data in found]
        assert all(t.header == whole.header for t in tables)
        assert [row for t in tables for row in t.rows] == whole.rows, path.name
