"""``create_app(settings)``: the Starlette application and its lifespan.

The lifespan opens one ``Resources`` (database, Redis, job queue) and puts it on
``request.state.hub`` / ``websocket.state.hub``; routes never build their own.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import text
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route

from hub import api
from hub.errors import HubError
from hub.resources import Resources
from hub.settings import Settings

log = logging.getLogger(__name__)


def create_app(settings: Settings) -> Starlette:
    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, Any]]:
        resources = await Resources.open(settings)
        try:
            yield {"hub": resources}
        finally:
            await resources.close()

    return Starlette(
        routes=build_routes(),
        lifespan=lifespan,
        exception_handlers={HubError: hub_error_response},
    )


def build_routes() -> list[BaseRoute]:
    return [
        Route("/healthz", healthz),
        Mount("/api/v1", routes=api.routes()),
    ]


async def hub_error_response(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HubError)
    return JSONResponse(exc.to_json(), status_code=exc.status)


async def healthz(request: Request) -> Response:
    """200 when the database and Redis answer; 503 naming what does not."""
    hub: Resources = request.state.hub
    checks = {"database": await _database_ok(hub), "redis": await _redis_ok(hub)}
    status = 200 if all(checks.values()) else 503
    return JSONResponse({"status": "ok" if status == 200 else "unavailable", **checks},
                        status_code=status)


async def _database_ok(hub: Resources) -> bool:
    try:
        async with hub.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
        return True
    except Exception:  # boundary: a health check reports, it does not raise
        log.warning("health: database unreachable", exc_info=True)
        return False


async def _redis_ok(hub: Resources) -> bool:
    try:
        return bool(await hub.redis.ping())
    except Exception:  # boundary
        log.warning("health: redis unreachable", exc_info=True)
        return False
