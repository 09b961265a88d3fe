"""The one set of migrations builds the same schema as the models, on both databases."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, pool, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from hub.db.base import Base
from hub.db.migrate import downgrade, upgrade
from hub.settings import Settings
from tests.conftest import _pg_admin, _pg_url

# Objects that exist only in migrations on purpose (search indexes and their helpers).
MIGRATION_ONLY_PREFIXES = ("fts_", "search_", "ix_search_", "trg_")


@pytest.fixture(params=["sqlite", "postgresql"])
def fresh_settings(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Settings]:
    if request.param == "sqlite":
        yield Settings(data_dir=tmp_path)
        return
    name = f"zorghub_migrations_{os.getpid()}"
    asyncio.run(_pg_admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
    asyncio.run(_pg_admin(f"CREATE DATABASE {name}"))
    yield Settings(data_dir=tmp_path, database_url=_pg_url(name))
    asyncio.run(_pg_admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))


def _include(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
    return not (name or "").startswith(MIGRATION_ONLY_PREFIXES)


def _differences(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(connection, opts={
        "compare_type": True, "include_object": _include})
    return list(compare_metadata(context, Base.metadata))


async def _inspect(settings: Settings) -> tuple[list[Any], set[str]]:
    engine = create_async_engine(settings.effective_database_url, poolclass=pool.NullPool)
    async with engine.connect() as connection:
        diffs = await connection.run_sync(_differences)
        tables = set(await connection.run_sync(lambda c: inspect(c).get_table_names()))
    await engine.dispose()
    return diffs, tables


def test_migrations_build_the_models_schema(fresh_settings: Settings) -> None:
    upgrade(fresh_settings)
    diffs, tables = asyncio.run(_inspect(fresh_settings))
    assert diffs == []
    assert set(Base.metadata.tables) <= tables


def test_migrations_go_down_and_up_again(fresh_settings: Settings) -> None:
    upgrade(fresh_settings)
    downgrade(fresh_settings, "base")
    _, tables = asyncio.run(_inspect(fresh_settings))
    assert tables - {"alembic_version"} == set()
    upgrade(fresh_settings)
    diffs, tables = asyncio.run(_inspect(fresh_settings))
    assert diffs == []
    assert set(Base.metadata.tables) <= tables


def test_sqlite_runs_in_wal_mode(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    upgrade(settings)

    async def mode() -> str:
        from hub.db.engine import create_engine

        engine = create_engine(settings)
        async with engine.connect() as connection:
            value = (await connection.execute(text("PRAGMA journal_mode"))).scalar_one()
        await engine.dispose()
        return str(value)

    assert asyncio.run(mode()) == "wal"
