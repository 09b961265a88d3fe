"""A throwaway PostgreSQL database for one benchmark run, on the test server.

    async with scratch_database("zorghub_bench_api") as (url, dsn):
        ...  # url for Settings (SQLAlchemy + asyncpg), dsn for a bare asyncpg connection

Created fresh (any leftover of an interrupted run is dropped first) and dropped after,
also when the run fails. ``ZORGHUB_TEST_PG`` names the server, as for the tests.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg

PG_ADMIN = os.environ.get("ZORGHUB_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


async def pg_admin(sql: str) -> None:
    """Run one statement (CREATE / DROP DATABASE) on the server's admin database."""
    connection = await asyncpg.connect(PG_ADMIN)
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


@asynccontextmanager
async def scratch_database(prefix: str) -> AsyncIterator[tuple[str, str]]:
    """(SQLAlchemy URL, asyncpg DSN) of a new empty database, dropped on exit."""
    name = f"{prefix}_{os.getpid()}"
    await pg_admin(f"DROP DATABASE IF EXISTS {name}")
    await pg_admin(f"CREATE DATABASE {name}")
    dsn = f"{PG_ADMIN.rsplit('/', 1)[0]}/{name}"
    try:
        yield dsn.replace("postgresql://", "postgresql+asyncpg://"), dsn
    finally:
        await pg_admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
