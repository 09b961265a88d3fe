"""What the realtime benchmarks share: a throwaway hub (its own PostgreSQL database, or
SQLite when PostgreSQL is not there; a private Redis), real ``hub web`` processes, a room
with many signed-in members, a bare ``websockets`` server, and percentiles.

The bare server uses the same settings as ours where they matter for the comparison:
no compression (both sides), the same machine, the same client code.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import multiprocessing as mp
import os
import shutil
import sys
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import asyncpg
import psutil

from bench.scratch import PG_ADMIN, pg_admin
from hub.db.base import utcnow
from hub.db.migrate import upgrade
from hub.db.models import Organisation, Room, RoomMember, Staff, UserSession
from hub.privateredis import PrivateRedis
from hub.resources import Resources
from hub.security import sessions
from hub.settings import Settings
from tests.conftest import free_port
from tests.realtime.processes import WebProcess, hub_env

SECRET = "bench-secret-key-not-for-production"


async def _pg_available() -> bool:
    try:
        connection = await asyncpg.connect(PG_ADMIN, timeout=3)
    except (OSError, asyncpg.PostgresError):
        return False
    await connection.close()
    return True


class Env:
    """A hub for one benchmark run; ``async with Env("fanout") as env``."""

    def __init__(self, name: str, heartbeat: float = 20.0) -> None:
        self.name = name
        self.folder = Path(tempfile.mkdtemp(prefix=f"zorghub-bench-{name}-"))
        self.redis = PrivateRedis(self.folder / "redis")
        self.db_name = f"zorghub_bench_{name}_{os.getpid()}"
        self.heartbeat = heartbeat
        self.webs: list[WebProcess] = []
        self.hub: Resources | None = None
        self.settings = Settings()

    async def __aenter__(self) -> Env:
        self.redis.start()
        if await _pg_available():
            await pg_admin(f"DROP DATABASE IF EXISTS {self.db_name}")
            await pg_admin(f"CREATE DATABASE {self.db_name}")
            base = PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
            url = f"{base}/{self.db_name}"
        else:
            url = f"sqlite+aiosqlite:///{self.folder / 'hub.sqlite3'}"
        self.settings = Settings(data_dir=self.folder / "data", database_url=url,
                                 redis_url=self.redis.url, secret_key=SECRET,
                                 ws_heartbeat_seconds=self.heartbeat)
        await asyncio.to_thread(upgrade, self.settings)
        self.hub = await Resources.open(self.settings)
        return self

    async def __aexit__(self, *exc: object) -> None:
        for web in self.webs:
            web.stop()
        if self.hub is not None:
            await self.hub.close()
        if self.settings.database_url.startswith("postgresql"):
            await pg_admin(f"DROP DATABASE IF EXISTS {self.db_name} WITH (FORCE)")
        self.redis.stop()
        shutil.rmtree(self.folder, ignore_errors=True)

    def start_web(self, count: int) -> list[WebProcess]:
        env = hub_env(self.settings.database_url, self.redis.url, self.folder / "data",
                      HUB_SECRET_KEY=SECRET, HUB_WS_HEARTBEAT_SECONDS=str(self.heartbeat),
                      HUB_WS_RATE_LIMIT="1000")
        for index in range(count):
            web = WebProcess(env, self.folder / f"web{index}.log")
            web.start(timeout=60)
            self.webs.append(web)
        return self.webs

    async def seed(self, members: int) -> tuple[int, list[tuple[str, str]]]:
        """A group room with ``members`` + 1 signed-in staff; (room id, cookies).

        The first cookie is the sender's."""
        assert self.hub is not None
        async with self.hub.sessions() as db, db.begin():
            org = Organisation(slug=f"bench-{self.name}", name="Zorggroep Bench")
            db.add(org)
            await db.flush()
            staff = [Staff(organisation_id=org.id, email=f"medewerker{i}@bench.test",
                           name=f"Medewerker {i}", role="coordinator" if i == 0 else "staff")
                     for i in range(members + 1)]
            db.add_all(staff)
            await db.flush()
            room = Room(organisation_id=org.id, kind="group", name="Iedereen")
            db.add(room)
            await db.flush()
            db.add_all([RoomMember(organisation_id=org.id, room_id=room.id, staff_id=s.id)
                        for s in staff])
            rows = [_session_row(org.id, s.id, self.settings) for s in staff]
            db.add_all(rows)
        cookies = [(sessions.cookie_name("staff"),
                    sessions.sign_key(self.settings, "staff", row.key)) for row in rows]
        return room.id, cookies


def _session_row(org_id: int, staff_id: int, settings: Settings) -> UserSession:
    import datetime as dt
    import secrets

    now = utcnow()
    return UserSession(organisation_id=org_id, key=secrets.token_urlsafe(32), staff_id=staff_id,
                       second_factor_done=True, csrf_token=secrets.token_urlsafe(16),
                       last_seen_at=now, expires_at=now + dt.timedelta(hours=12))


# --- the bare baseline ------------------------------------------------------------------


async def _bare_server(port: int, ready: Any) -> None:
    from websockets.asyncio.server import broadcast, serve

    connections: set[Any] = set()

    async def handler(ws: Any) -> None:
        connections.add(ws)
        try:
            async for raw in ws:
                frame = json.loads(raw)
                if frame.get("type") == "broadcast":
                    broadcast(connections, json.dumps(frame["frame"]))
                elif frame.get("type") == "subscribe":  # a resume: answer like ours does
                    await ws.send(json.dumps({"type": "synced", "stream": frame["stream"]}))
        finally:
            connections.discard(ws)

    async with serve(handler, "127.0.0.1", port, compression=None, max_queue=None):
        ready.set()
        await asyncio.Future()


def run_bare_server(port: int, ready: Any) -> None:
    """Process target: a bare ``websockets`` server that ``broadcast()``s what it is sent."""
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_bare_server(port, ready))


@contextlib.contextmanager
def bare_server() -> Iterator[tuple[str, int]]:
    """The bare server in a process of its own, ready: (its ws:// URL, its pid)."""
    context = mp.get_context("spawn")
    port, ready = free_port(), context.Event()
    process = context.Process(target=run_bare_server, args=(port, ready), daemon=True)
    process.start()
    try:
        ready.wait(30)
        assert process.pid is not None
        yield f"ws://127.0.0.1:{port}", process.pid
    finally:
        process.terminate()


def ws_url(web: WebProcess) -> str:
    """The staff websocket of a ``hub web`` process."""
    return web.url.replace("http://", "ws://") + "/ws"


# --- figures ---------------------------------------------------------------------------


def percentile(values: list[float], fraction: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def rss(pid: int) -> int:
    return int(psutil.Process(pid).memory_info().rss)


@contextlib.asynccontextmanager
async def nothing() -> AsyncIterator[None]:
    yield None
