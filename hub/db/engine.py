"""Engine and session factories built from ``Settings``.

SQLite is the embedded default and runs in WAL mode with a busy timeout, so the web
process and the worker can share one file. PostgreSQL is used when the URL says so.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import Connection, event
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from hub.settings import Settings

SessionFactory = async_sessionmaker[AsyncSession]
# seconds after which a pooled PostgreSQL connection is replaced rather than reused
POOL_RECYCLE = 1800


def create_engine(settings: Settings) -> AsyncEngine:
    url = settings.effective_database_url
    if url.startswith("sqlite"):
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, connect_args={"timeout": 30})
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        event.listen(engine.sync_engine, "begin", _sqlite_begin)
        return engine
    # No pre-ping: with asyncpg it is BEGIN, ";" and ROLLBACK, three round trips on every
    # checkout (measured: ~15% of a web process's CPU in a reconnect storm). A connection
    # the server dropped (restart, terminated backend) fails its statement instead; the
    # dialect sees the disconnect and invalidates the whole pool, so the next checkout
    # connects afresh (tests/db/test_engine.py). Recycling keeps connections younger
    # than idle-connection timeouts of firewalls and poolers.
    # 20 kept, 30 at most as before: with 10 kept, a reconnect storm opened and closed
    # overflow connections by the hundred (connect, auth, codec set-up: ~5% of the CPU).
    # LIFO: the connection returned last is taken next, so a steady load keeps using a
    # few connections whose statements asyncpg has prepared already (FIFO rotated through
    # all twenty, preparing the statements of a chat send on each in turn).
    return create_async_engine(url, pool_size=20, max_overflow=10, pool_recycle=POOL_RECYCLE,
                               pool_use_lifo=True)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Take transaction control away from the sqlite3 module: left to itself it begins a
    # transaction only before the first write and lets RELEASE of a first SAVEPOINT
    # commit, so a rolled-back unit of work could keep half its writes.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _sqlite_begin(connection: Connection) -> None:
    # IMMEDIATE takes the write lock up front: a transaction that read first and writes
    # later can then never fail with SQLITE_BUSY_SNAPSHOT when another process (web or
    # worker) committed meanwhile; writers queue on the busy timeout instead. WAL keeps
    # readers of other connections unblocked.
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def create_session_factory(engine: AsyncEngine) -> SessionFactory:
    return async_sessionmaker(engine, expire_on_commit=False)


@asynccontextmanager
async def transaction(factory: SessionFactory) -> AsyncIterator[AsyncSession]:
    """A session whose work is committed on success and rolled back on error."""
    async with factory() as session, session.begin():
        yield session
