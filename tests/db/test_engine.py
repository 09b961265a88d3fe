"""The PostgreSQL pool recovers from connections the server dropped (no pre-ping)."""

from __future__ import annotations

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from hub.resources import Resources


async def _backend_pids(hub: Resources, count: int) -> list[int]:
    """Check out ``count`` pooled connections at once; their server process ids."""
    sessions = [hub.sessions() for _ in range(count)]
    try:
        return [int(await s.scalar(text("SELECT pg_backend_pid()")) or 0) for s in sessions]
    finally:
        for session in sessions:
            await session.close()


async def _terminate(hub: Resources, pids: list[int]) -> None:
    """From outside the pool, as an administrator or a restart would."""
    url = hub.settings.effective_database_url.replace("postgresql+asyncpg", "postgresql")
    admin = await asyncpg.connect(url, timeout=10)
    try:
        await admin.execute("SELECT pg_terminate_backend(pid) FROM unnest($1::int[]) AS pid",
                            pids)
    finally:
        await admin.close()


async def test_connections_killed_by_the_server_are_replaced(hub: Resources) -> None:
    if not hub.settings.effective_database_url.startswith("postgresql"):
        pytest.skip("PostgreSQL only: SQLite has no server to lose")
    pooled = await _backend_pids(hub, 3)
    await _terminate(hub, pooled)  # what a PostgreSQL restart does to the pool
    failures = 0
    pid: list[int] = []
    for _ in range(3):  # bounded: a dropped connection fails one statement, then the
        try:  # dialect invalidates the pool and the next checkout connects afresh
            pid = await _backend_pids(hub, 1)
            break
        except DBAPIError as exc:
            assert exc.connection_invalidated
            failures += 1
    assert pid and pid[0] not in pooled
    assert failures <= 1
    assert not set(await _backend_pids(hub, 3)) & set(pooled)
