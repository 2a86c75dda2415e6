"""After an erasure: no readable copy left in the database's own files.

A committed ``DELETE`` is not yet gone from disk. SQLite keeps older page images in its ``-wal``
file until a checkpoint, and without ``secure_delete`` the freed bytes stay in the main file
(the engine turns ``secure_delete`` on for every connection). PostgreSQL keeps deleted rows as
dead tuples until ``VACUUM`` (see docs/privacy.md for what still remains after it).
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterable

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

log = logging.getLogger(__name__)


async def purge_erased_copies(engine: AsyncEngine, tables: Iterable[str] = ()) -> bool:
    """Run after the erasure's transaction has committed. SQLite: checkpoint the WAL into the
    main file and truncate it. PostgreSQL: ``VACUUM`` ``tables``. Returns False when SQLite
    could not finish the checkpoint (a long reader held it); the next erasure or the retention
    job tries again."""
    try:
        if engine.dialect.name == "sqlite":
            return await _checkpoint(engine)
        async with engine.connect() as connection:
            autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
            for table in sorted(set(tables)):
                # Names come from the schema (privacy.owned_tables), never from input.
                await autocommit.exec_driver_sql(f'VACUUM "{table}"')
        return True
    except (SQLAlchemyError, sqlite3.Error, OSError) as exc:
        # The erasure itself is committed; the next purge gets the copies.
        log.warning("purge_failed error=%s", type(exc).__name__)
        return False


async def _checkpoint(engine: AsyncEngine) -> bool:
    async with engine.connect() as connection:
        # The driver's own connection: outside any transaction, as the pragma requires.
        raw = await connection.get_raw_connection()
        cursor = await raw.driver_connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        busy, _, _ = await cursor.fetchone()
        await cursor.close()
    if busy:
        log.warning("wal_checkpoint_incomplete")
    return not busy
