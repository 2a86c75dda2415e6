"""Migrations build the schema the models describe, on both backends."""

from __future__ import annotations

from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import CheckConstraint, inspect
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.engine import create_engine
from storage.migrate import (
    current,
    current_async,
    head,
    newest_revision,
    upgrade,
    upgrade_async,
    upgrade_if_behind,
)
from storage.models import Base
from tests.fixtures.postgres import PostgresCluster, _in_thread


def _diff(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return compare_metadata(context, Base.metadata)


def _check_constraint_names(connection: Connection) -> dict[str, set[str]]:
    inspector = inspect(connection)
    return {
        table: {ck["name"] for ck in inspector.get_check_constraints(table)}
        for table in Base.metadata.tables
    }


async def test_migrated_schema_matches_models(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        assert await conn.run_sync(_diff) == []


async def test_check_constraints_named_like_models(engine: AsyncEngine) -> None:
    # compare_metadata ignores CHECK constraints; the enum CHECKs and range CHECKs must still be
    # there, under the naming convention's names (later migrations drop them by name).
    # (Enum columns add their CHECK to the table as well.)
    expected = {
        table.name: {str(c.name) for c in table.constraints if isinstance(c, CheckConstraint)}
        for table in Base.metadata.tables.values()
    }
    assert expected["memberships"] == {"ck_memberships_role", "ck_memberships_status"}
    async with engine.connect() as conn:
        actual = await conn.run_sync(_check_constraint_names)
    assert actual == expected


async def test_upgrade_is_idempotent(db_url: str) -> None:
    # db_url is already at head; upgrading again must change nothing.
    await upgrade_async(db_url)
    await upgrade_async(db_url)
    assert await current_async(db_url) == head()
    engine = create_engine(db_url)
    try:
        async with engine.connect() as conn:
            assert await conn.run_sync(_diff) == []
    finally:
        await engine.dispose()


def test_upgrade_from_empty_sqlite(tmp_path: Any) -> None:
    url = f"sqlite:///{tmp_path / 'sub' / 'fresh.db'}"
    assert _in_thread(lambda: current(url)) is None
    _in_thread(lambda: upgrade(url))
    _in_thread(lambda: upgrade(url))
    assert _in_thread(lambda: current(url)) == head()


def test_newest_revision_read_from_the_files_is_alembics_head() -> None:
    assert newest_revision() == head()


def test_start_migrates_a_database_only_when_it_is_behind(tmp_path: Any) -> None:
    url = f"sqlite:///{tmp_path / 'start.db'}"
    assert _in_thread(lambda: upgrade_if_behind(url)) is True  # never migrated
    assert _in_thread(lambda: current(url)) == head()
    assert _in_thread(lambda: upgrade_if_behind(url)) is False  # up to date: Alembic not run
    older = f"sqlite:///{tmp_path / 'older.db'}"
    _in_thread(lambda: upgrade(older, "0001"))
    assert _in_thread(lambda: upgrade_if_behind(older)) is True  # behind: brought up to date
    assert _in_thread(lambda: current(older)) == head()


@pytest.mark.postgres
def test_start_migrates_a_postgresql_database_only_when_it_is_behind(
    postgres_cluster: PostgresCluster,
) -> None:
    postgres_cluster.execute("CREATE DATABASE start_check")
    url = postgres_cluster.url("start_check")
    assert _in_thread(lambda: upgrade_if_behind(url)) is True
    assert _in_thread(lambda: upgrade_if_behind(url)) is False
    assert _in_thread(lambda: current(url)) == head()
    postgres_cluster.execute("DROP DATABASE start_check WITH (FORCE)")


@pytest.mark.postgres
def test_upgrade_from_empty_postgresql(postgres_cluster: PostgresCluster) -> None:
    postgres_cluster.execute("CREATE DATABASE from_empty")
    url = postgres_cluster.url("from_empty")
    assert _in_thread(lambda: current(url)) is None
    _in_thread(lambda: upgrade(url))
    _in_thread(lambda: upgrade(url))
    assert _in_thread(lambda: current(url)) == head()
    postgres_cluster.execute("DROP DATABASE from_empty WITH (FORCE)")


def test_postgres_url_is_an_empty_session_database(postgres_url: str) -> None:
    assert postgres_url.startswith("postgresql://")
    assert _in_thread(lambda: current(postgres_url)) is None


async def test_sync_upgrade_refuses_running_loop(db_url: str) -> None:
    with pytest.raises(RuntimeError, match="upgrade_async"):
        upgrade(db_url)


async def test_comparison_would_notice_a_difference(engine: AsyncEngine) -> None:
    # Guards the test above against passing vacuously (e.g. comparing nothing).
    from sqlalchemy import Column, Integer, MetaData, Table

    extra = MetaData()
    for table in Base.metadata.tables.values():
        table.to_metadata(extra)
    Table("not_migrated", extra, Column("id", Integer, primary_key=True))

    def diff(connection: Connection) -> list[Any]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return compare_metadata(context, extra)

    async with engine.connect() as conn:
        changes = await conn.run_sync(diff)
    assert [change[0] for change in changes] == ["add_table"]
