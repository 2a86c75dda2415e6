"""Zip an export's files into parts no larger than a limit (Telegram bots may send documents
of up to 50 MB), each part a complete zip a person can open on its own.

A CSV too big for the room left is continued in the next part as ``<name>.part2.csv`` with its
header repeated, cut between records (never inside a quoted multi-line answer). Other files
(the workbook) go whole into a part, or are left out when they alone exceed the limit.

Size accounting is an upper bound, so a part never exceeds the limit: what is on disk, plus
what deflate may still hold back (at most one block: < 16,384 symbols of ≤ 6 bytes, hence
`DEFLATE_PENDING_BOUND`), plus the headers and the central directory still to come.
"""

from __future__ import annotations

import os
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO

# Decimal megabytes: the safe reading of Telegram's "up to 50 MB" for bots' documents.
TELEGRAM_DOCUMENT_LIMIT = 50_000_000
DEFLATE_PENDING_BOUND = 128 * 1024
MIN_PART_LIMIT = 4 * DEFLATE_PENDING_BOUND
_END_OF_CENTRAL_DIRECTORY = 22 + 56 + 20  # with room for the zip64 records
_PER_ENTRY = 30 + 46 + 2 * 20 + 16  # local + central header, zip64 extras, data descriptor
_MODE = 0o600 << 16  # unpacked files readable by their owner only


@dataclass
class Packed:
    parts: list[Path] = field(default_factory=list)
    left_out: list[str] = field(default_factory=list)


def csv_records(stream: IO[bytes]) -> Iterator[bytes]:
    """Whole CSV records (RFC 4180: a record ends at a line break outside quotes)."""
    record = b""
    for line in stream:
        record += line
        if record.count(b'"') % 2 == 0:
            yield record
            record = b""
    if record:
        yield record


class _Parts:
    def __init__(self, stem: Path, limit: int, when: datetime, folder: str) -> None:
        self.stem = stem
        self.limit = limit
        self.when = when.timetuple()[:6]
        self.folder = folder
        self.paths: list[Path] = []
        self._fh: IO[bytes] | None = None
        self._zip: zipfile.ZipFile | None = None
        self._names: list[str] = []

    # -- parts --

    def _open(self) -> None:
        self.close_part()
        path = self.stem.with_name(f"{self.stem.name}-part{len(self.paths) + 1}.zip")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        self._fh = os.fdopen(fd, "wb")
        self._zip = zipfile.ZipFile(self._fh, "w", zipfile.ZIP_DEFLATED)
        self._names = []
        self.paths.append(path)

    def close_part(self) -> None:
        if self._zip is not None:
            self._zip.close()
        if self._fh is not None:
            self._fh.close()
            assert self.paths[-1].stat().st_size <= self.limit, "zip part over the limit"
        self._zip = self._fh = None

    def _used(self, pending: int, extra_names: Sequence[str] = ()) -> int:
        assert self._fh is not None
        names = [*self._names, *extra_names]
        return (self._fh.tell() + pending + _END_OF_CENTRAL_DIRECTORY
                + sum(_PER_ENTRY + 2 * len(n.encode()) for n in names))

    def _ensure_room(self, size: int, name: str) -> None:
        if self._zip is None or (self._names and self._used(0, [name]) + size > self.limit):
            self._open()

    def _info(self, name: str, compress: int) -> zipfile.ZipInfo:
        info = zipfile.ZipInfo(f"{self.folder}/{name}", date_time=self.when)
        info.compress_type = compress
        info.external_attr = _MODE
        return info

    # -- files --

    def add_whole(self, path: Path) -> bool:
        size = path.stat().st_size
        name = f"{self.folder}/{path.name}"
        if size + _PER_ENTRY + 2 * len(name.encode()) + _END_OF_CENTRAL_DIRECTORY > self.limit:
            return False
        self._ensure_room(size, name)
        assert self._zip is not None
        # Stored: an XLSX is a zip already, deflating it again gains nothing.
        with path.open("rb") as src, self._zip.open(
            self._info(path.name, zipfile.ZIP_STORED), "w",
            force_zip64=size >= zipfile.ZIP64_LIMIT,
        ) as dst:
            while chunk := src.read(1 << 20):
                dst.write(chunk)
        self._names.append(name)
        return True

    def add_csv(self, path: Path) -> None:
        with path.open("rb") as src:
            records = csv_records(src)
            header = next(records, b"")
            piece = 0
            entry: IO[bytes] | None = None
            fed = 0
            for record in records:
                if entry is not None and self._used(_pending(fed) + _bound(len(record))) > (
                        self.limit):
                    entry.close()
                    entry = None
                    self._open()
                if entry is None:
                    piece += 1
                    entry, fed = self._start(path, piece, header, len(record))
                entry.write(record)
                fed += len(record)
            if entry is None:  # a dataset without rows still has its file and header
                entry, fed = self._start(path, 1, header, 0)
            entry.close()

    def _start(self, path: Path, piece: int, header: bytes, first: int) -> tuple[IO[bytes], int]:
        name = path.name if piece == 1 else f"{path.stem}.part{piece}{path.suffix}"
        if not header.startswith(b"\xef\xbb\xbf"):
            header = b"\xef\xbb\xbf" + header
        full = f"{self.folder}/{name}"
        self._ensure_room(_bound(len(header) + first), full)
        if self._used(_bound(len(header) + first), [full]) > self.limit:
            raise ValueError(f"zip part limit {self.limit} is too small for one row of {name}")
        assert self._zip is not None
        entry = self._zip.open(self._info(name, zipfile.ZIP_DEFLATED), "w",
                               force_zip64=self.limit >= zipfile.ZIP64_LIMIT)
        self._names.append(full)
        entry.write(header)
        return entry, len(header)


def _bound(raw: int) -> int:
    """Most bytes deflate emits for `raw` bytes of input (zlib's deflateBound)."""
    return raw + (raw >> 12) + (raw >> 14) + (raw >> 25) + 13 + 5


def _pending(fed: int) -> int:
    """Most bytes deflate may still hold back after `fed` bytes: never more than it was given,
    nor more than one block of symbols."""
    return min(_bound(fed), DEFLATE_PENDING_BOUND)


def pack(
    files: Sequence[Path],
    stem: Path,
    *,
    when: datetime,
    limit: int = TELEGRAM_DOCUMENT_LIMIT,
) -> Packed:
    """Zip `files` as ``<stem>.zip``, or ``<stem>-part1.zip`` … when they need more than one
    part of at most `limit` bytes. Entries sit in a folder named like the stem."""
    if limit < MIN_PART_LIMIT:
        raise ValueError(f"a zip part limit below {MIN_PART_LIMIT} bytes cannot be honoured")
    parts = _Parts(stem, limit, when, stem.name)
    packed = Packed()
    for path in files:
        if path.suffix == ".csv":
            parts.add_csv(path)
        elif not parts.add_whole(path):
            packed.left_out.append(path.name)
    if not parts.paths:
        parts._open()  # nothing at all still gives one (empty) zip
    parts.close_part()
    if len(parts.paths) == 1:
        single = stem.with_name(f"{stem.name}.zip")
        parts.paths[0].rename(single)
        parts.paths = [single]
    packed.parts = parts.paths
    return packed
