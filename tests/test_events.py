"""``hub.events``: publishes after commit, pipelined and in order; savepoints that forget."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from redis.asyncio import Redis
from sqlalchemy import select

from hub import events
from hub.db.models import Organisation
from hub.errors import InvalidInput
from hub.events import Events, Job, Published, emit, enqueue, unit_of_work
from hub.resources import Resources
from tests.conftest import free_port

CHANNEL = "test:events"


async def _received(pubsub: Any, count: int) -> list[dict[str, Any]]:
    """The next ``count`` payloads on the subscription (bounded wait)."""
    payloads = []
    for _ in range(count + 50):
        message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1)
        if message is not None:
            payloads.append(json.loads(message["data"]))
        if len(payloads) == count:
            break
    return payloads


async def _reads(redis: Redis) -> int:
    """How many times the server has read from a client socket so far."""
    return int((await redis.info("stats"))["total_reads_processed"])


async def test_publishes_go_out_after_commit_in_order_around_jobs(hub: Resources) -> None:
    pubsub = hub.redis.pubsub()
    await pubsub.subscribe(CHANNEL)
    try:
        async with unit_of_work(hub.sessions, hub.events) as session:
            for n in range(20):
                emit(session, CHANNEL, {"n": n})
            enqueue(session, "ensure_pollers", job_id="test-events-job")
            for n in range(20, 40):
                emit(session, CHANNEL, {"n": n})
            assert await pubsub.get_message(ignore_subscribe_messages=True,
                                            timeout=0.2) is None  # not before the commit
        payloads = await _received(pubsub, 40)
    finally:
        await pubsub.aclose()
    assert [p["n"] for p in payloads] == list(range(40))
    assert [j.job_id for j in await hub.jobs.queued_jobs()] == ["test-events-job"]


async def test_consecutive_publishes_share_one_round_trip(hub: Resources) -> None:
    items: list[Published | Job] = [Published(CHANNEL, {"n": n}) for n in range(40)]
    await hub.redis.ping()  # the pool's connection exists before counting
    before = await _reads(hub.redis)
    await hub.events.flush(items)
    # one at a time, each publish waits for its answer: 40 reads on the server
    assert await _reads(hub.redis) - before < 10


async def test_a_failing_redis_is_logged_and_the_rest_still_goes(
    hub: Resources, caplog: pytest.LogCaptureFixture,
) -> None:
    dead = Redis(host="127.0.0.1", port=free_port(), socket_connect_timeout=1)
    try:
        with caplog.at_level(logging.ERROR, logger="hub.events"):
            await Events(dead, hub.jobs).flush([
                Published(CHANNEL, {"n": 1}), Published(CHANNEL, {"n": 2}),
                Job("ensure_pollers", (), "after-the-failure", None),
                Published(CHANNEL, {"n": 3}),
            ])
    finally:
        await dead.aclose()
    failures = [r for r in caplog.records if "could not send" in r.getMessage()]
    assert len(failures) == 2  # the two runs of publishes; the job between them went out
    assert [j.job_id for j in await hub.jobs.queued_jobs()] == ["after-the-failure"]


async def test_a_rolled_back_savepoint_takes_its_events_along(hub: Resources) -> None:
    pubsub = hub.redis.pubsub()
    await pubsub.subscribe(CHANNEL)
    try:
        async with unit_of_work(hub.sessions, hub.events) as session:
            emit(session, CHANNEL, {"n": "voor"})
            with pytest.raises(InvalidInput):
                async with events.savepoint(session):
                    session.add(Organisation(slug="weg", name="Zorg Weg"))
                    emit(session, CHANNEL, {"n": "weg"})
                    enqueue(session, "ensure_pollers", job_id="weg")
                    raise InvalidInput("dit item is kapot")
            async with events.savepoint(session):
                session.add(Organisation(slug="blijft", name="Zorg Blijft"))
                emit(session, CHANNEL, {"n": "blijft"})
            emit(session, CHANNEL, {"n": "na"})
        payloads = await _received(pubsub, 3)
        assert await pubsub.get_message(ignore_subscribe_messages=True, timeout=0.2) is None
    finally:
        await pubsub.aclose()
    assert [p["n"] for p in payloads] == ["voor", "blijft", "na"]
    assert await hub.jobs.queued_jobs() == []
    async with hub.sessions() as session:
        assert list(await session.scalars(select(Organisation.slug))) == ["blijft"]
