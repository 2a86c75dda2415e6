"""Alembic, driven from code: no alembic.ini, no logging.fileConfig (the app owns logging).

python -m storage.migrate upgrade sqlite:///data/mestring.db
python -m storage.migrate current postgresql://user@host/db
python -m storage.migrate revision -m "add foo"     # autogenerate against a scratch DB
"""

from __future__ import annotations

import argparse
import asyncio
import re
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError

from storage.engine import create_engine, database_url

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
_T = TypeVar("_T")
# How every migration file names itself and its parent (see storage/migrations/script.py.mako).
_REVISION = re.compile(r"^(down_revision|revision)\b[^=]*=\s*(?:None|['\"]([^'\"]+)['\"])",
                       re.MULTILINE)


def alembic_config(url: str | None = None) -> Config:
    """An Alembic Config pointing at storage/migrations; `url` in plain or driver form."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if url is not None:
        # env.py reads the attribute; the main option is for Alembic commands that print it.
        # ConfigParser interpolates '%', which URL-encoded passwords contain.
        config.attributes["url"] = url
        config.set_main_option("sqlalchemy.url", str(database_url(url)).replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "head") -> None:
    """Migrate the database at `url` to `revision`. Blocking; call from sync code only."""
    from alembic import command

    _refuse_inside_event_loop("upgrade", "upgrade_async")
    command.upgrade(alembic_config(url), revision)


async def upgrade_async(url: str, revision: str = "head") -> None:
    """`upgrade` for callers inside an event loop: runs it (and its own loop) in a thread."""
    await asyncio.to_thread(upgrade, url, revision)


def upgrade_if_behind(url: str) -> bool:
    """Migrate only when the database is not at the newest revision; return whether it was.

    Every start calls this. Alembic and its templates cost a second and several megabytes in
    each worker, so a database that is already up to date (the usual case, and always after
    ``mestring db upgrade`` in production) is recognised with one query and no Alembic import.
    """
    _refuse_inside_event_loop("upgrade_if_behind", "upgrade_async")
    if current(url) == newest_revision():
        return False
    upgrade(url)
    return True


def newest_revision() -> str:
    """The head of storage/migrations, read from the files without importing Alembic (a test
    checks it against Alembic's own answer)."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in (MIGRATIONS_DIR / "versions").glob("*.py"):
        for name, value in _REVISION.findall(path.read_text(encoding="utf-8")):
            if value:
                (revisions if name == "revision" else parents).add(value)
    heads = revisions - parents
    if len(heads) != 1:
        raise RuntimeError(f"expected one migration head, found {sorted(heads)}")
    return heads.pop()


def current(url: str) -> str | None:
    """The revision the database at `url` is at, or None if it was never migrated."""
    _refuse_inside_event_loop("current", "current_async")
    return asyncio.run(_with_connection(url, _stamped_revision))


async def current_async(url: str) -> str | None:
    return await _with_connection(url, _stamped_revision)


def head() -> str:
    """The newest revision in storage/migrations."""
    from alembic.script import ScriptDirectory

    heads = ScriptDirectory.from_config(alembic_config()).get_heads()
    if len(heads) != 1:
        raise RuntimeError(f"expected one migration head, found {heads}")
    return heads[0]


def _stamped_revision(connection: Connection) -> str | None:
    """What Alembic stamped, or None for a database it never migrated (or stamped twice)."""
    try:
        versions = connection.execute(text("SELECT version_num FROM alembic_version")).all()
    except DBAPIError:  # no such table yet
        return None
    return versions[0][0] if len(versions) == 1 else None


async def _with_connection(url: str, fn: Callable[[Connection], _T]) -> _T:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(fn)
    finally:
        await engine.dispose()


def _refuse_inside_event_loop(name: str, alternative: str) -> None:
    # env.py runs its own event loop; nesting it in a running one fails obscurely.
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return
    raise RuntimeError(f"storage.migrate.{name}() blocks; inside an event loop use {alternative}")


def revision(message: str, *, autogenerate: bool = True) -> None:
    """Write storage/migrations/versions/NNNN_<message>.py, autogenerated against a scratch
    SQLite database at head.

    Numbered ids (0001, 0002, …) keep the folder in order. The file must still be read and
    tidied by hand: Alembic cannot see renames, and SQLite hides some PostgreSQL-only details.
    """
    from alembic import command

    rev_id = _next_rev_id()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'scratch.db'}"
        upgrade(url)
        command.revision(
            alembic_config(url), message=message, autogenerate=autogenerate, rev_id=rev_id
        )


def _next_rev_id() -> str:
    latest = head()
    return f"{int(latest) + 1:04d}" if latest.isdigit() else latest + "_next"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m storage.migrate",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="cmd", required=True)
    up = sub.add_parser("upgrade", help="apply migrations")
    up.add_argument("url")
    up.add_argument("revision", nargs="?", default="head")
    cur = sub.add_parser("current", help="print the database's revision")
    cur.add_argument("url")
    rev = sub.add_parser("revision", help="write a new (autogenerated) migration")
    rev.add_argument("-m", "--message", required=True)
    rev.add_argument("--empty", action="store_true", help="do not autogenerate")
    args = parser.parse_args(argv)
    try:
        if args.cmd == "upgrade":
            upgrade(args.url, args.revision)
        elif args.cmd == "current":
            print(current(args.url) or "(none)")
        else:
            revision(args.message, autogenerate=not args.empty)
    except ValueError as exc:  # bad URL: a message, not a traceback
        parser.error(str(exc))


if __name__ == "__main__":
    main()
