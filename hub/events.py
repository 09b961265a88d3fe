"""The one way out: events to Redis and jobs to arq, sent only after the commit.

Code that changes data calls ``emit(session, ...)`` or ``enqueue(session, ...)`` inside
its transaction; nothing leaves the process yet. ``unit_of_work`` commits and then hands
the collected items to ``Events.flush``. A rolled-back transaction publishes nothing, and
a message is always stored (with its sequence number) before anyone hears of it; work
that may fail on its own inside a transaction runs in ``savepoint(session)``, which
forgets what it emitted when it rolls back.

``flush`` sends consecutive publishes in one Redis pipeline (one round trip, in order)
and each job on its own; when Redis fails it logs and goes on with the next ones.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import AsyncIterator, Iterator
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


@asynccontextmanager
async def savepoint(session: AsyncSession) -> AsyncIterator[None]:
    """A savepoint (``begin_nested``) whose events and jobs go only if it is released.

    When the block raises, the savepoint rolls back and what it emitted or enqueued is
    dropped from the outbox, so the surrounding transaction, committed, never announces
    what it did not keep. The exception goes on to the caller.
    """
    outbox = _outbox(session)
    kept = len(outbox)
    try:
        async with session.begin_nested():
            yield
    except BaseException:
        del outbox[kept:]
        raise


def _runs(items: list[Published | Job]) -> Iterator[list[Published] | Job]:
    """The items in order: each run of consecutive publishes as one list, jobs alone."""
    run: list[Published] = []
    for item in items:
        if isinstance(item, Published):
            run.append(item)
            continue
        if run:
            yield run
            run = []
        yield item
    if run:
        yield run


class Events:
    def __init__(self, redis: Redis, jobs: ArqRedis) -> None:
        self.redis = redis
        self.jobs = jobs

    async def flush(self, items: list[Published | Job]) -> None:
        for run in _runs(items):
            try:
                await self._send(run)
            except Exception:  # boundary: the data is committed; sweeps and resume recover
                log.exception("could not send %r after commit", run)

    async def _send(self, run: list[Published] | Job) -> None:
        if isinstance(run, Job):
            await self.jobs.enqueue_job(
                run.function, *run.args, _job_id=run.job_id, _defer_by=run.defer_by
            )
            return
        # not a transaction (MULTI): publishes need no atomicity, only their order
        async with self.redis.pipeline(transaction=False) as pipe:
            for item in run:
                pipe.publish(item.channel, json.dumps(item.payload, default=str))
            await pipe.execute()


@asynccontextmanager
async def unit_of_work(sessions: SessionFactory, events: Events) -> AsyncIterator[AsyncSession]:
    """Commit on success, then publish and enqueue what the work emitted."""
    async with sessions() as session:
        async with session.begin():
            yield session
        items = session.info.pop(_KEY, [])
    if items:
        await events.flush(items)
