"""The one way out: events to Redis and jobs to arq, sent only after the commit.

Code that changes data calls ``emit(session, ...)`` or ``enqueue(session, ...)`` inside
its transaction; nothing leaves the process yet. ``unit_of_work`` commits and then hands
the collected items to ``Events.flush``. A rolled-back transaction publishes nothing, and
a message is always stored (with its sequence number) before anyone hears of it.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from arq import ArqRedis
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession

from hub.db.engine import SessionFactory

log = logging.getLogger(__name__)
_KEY = "hub_outbox"


@dataclasses.dataclass(frozen=True)
class Published:
    channel: str
    payload: dict[str, Any]


@dataclasses.dataclass(frozen=True)
class Job:
    function: str
    args: tuple[Any, ...]
    job_id: str | None
    defer_by: float | None


def _outbox(session: AsyncSession) -> list[Published | Job]:
    return session.info.setdefault(_KEY, [])


def emit(session: AsyncSession, channel: str, payload: dict[str, Any]) -> None:
    """Publish ``payload`` (JSON) on the Redis channel once the session commits."""
    _outbox(session).append(Published(channel, payload))


def enqueue(
    session: AsyncSession, function: str, *args: Any,
    job_id: str | None = None, defer_by: float | None = None,
) -> None:
    """Enqueue an arq job once the session commits. Pass plain ids, never objects."""
    _outbox(session).append(Job(function, args, job_id, defer_by))


class Events:
    def __init__(self, redis: Redis, jobs: ArqRedis) -> None:
        self.redis = redis
        self.jobs = jobs

    async def flush(self, items: list[Published | Job]) -> None:
        for item in items:
            try:
                await self._send(item)
            except Exception:  # boundary: the data is committed; sweeps and resume recover
                log.exception("could not send %r after commit", item)

    async def _send(self, item: Published | Job) -> None:
        if isinstance(item, Published):
            await self.redis.publish(item.channel, json.dumps(item.payload, default=str))
        else:
            await self.jobs.enqueue_job(
                item.function, *item.args, _job_id=item.job_id, _defer_by=item.defer_by
            )


@asynccontextmanager
async def unit_of_work(sessions: SessionFactory, events: Events) -> AsyncIterator[AsyncSession]:
    """Commit on success, then publish and enqueue what the work emitted."""
    async with sessions() as session:
        async with session.begin():
            yield session
        items = session.info.pop(_KEY, [])
    if items:
        await events.flush(items)
