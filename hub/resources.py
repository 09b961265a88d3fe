"""The shared resources of a hub process, built from one ``Settings``.

The web app (in its lifespan) and the worker (in ``on_startup``) both open one
``Resources`` and close it on exit; nothing holds a connection in a module global.
"""

from __future__ import annotations

import dataclasses

from arq import ArqRedis, create_pool
from arq.connections import RedisSettings
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.db.engine import SessionFactory, create_engine, create_session_factory
from hub.events import Events
from hub.privateredis import PrivateRedis
from hub.settings import Settings


@dataclasses.dataclass
class Resources:
    settings: Settings
    engine: AsyncEngine
    sessions: SessionFactory
    redis: Redis
    jobs: ArqRedis
    events: Events
    private_redis: PrivateRedis | None = None

    @classmethod
    async def open(cls, settings: Settings) -> Resources:
        private = None
        redis_url = settings.redis_url
        if not redis_url:
            private = PrivateRedis(settings.data_dir / "redis")
            private.start()
            redis_url = private.url
        engine = create_engine(settings)
        redis = Redis.from_url(redis_url, decode_responses=False)
        jobs = await create_pool(RedisSettings.from_dsn(redis_url))
        return cls(
            settings=settings, engine=engine, sessions=create_session_factory(engine),
            redis=redis, jobs=jobs, events=Events(redis, jobs), private_redis=private,
        )

    async def close(self) -> None:
        await self.jobs.aclose()
        await self.redis.aclose()
        await self.engine.dispose()
        if self.private_redis is not None:
            self.private_redis.stop()


def redis_url_of(settings: Settings) -> str:
    """The Redis URL a process of this hub should use (private socket when unset)."""
    return settings.redis_url or PrivateRedis(settings.data_dir / "redis").url
