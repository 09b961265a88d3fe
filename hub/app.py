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
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Mount

from hub import api, webhooks
from hub.chat import api as chat_api
from hub.errors import HubError
from hub.realtime import app as realtime
from hub.resources import Resources
from hub.security import routes as security_routes
from hub.security.headers import SecurityHeaders
from hub.security.policy import PUBLIC, SecureRoute
from hub.settings import Settings
from hub.web import channel_admin, mail_admin
from hub.web.errors import error_response

log = logging.getLogger(__name__)


def create_app(settings: Settings) -> Starlette:
    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, Any]]:
        resources = await Resources.open(settings)
        try:
            async with realtime.running(resources) as fanout:
                yield {"hub": resources, "realtime": fanout}
        finally:
            await resources.close()

    return Starlette(
        routes=build_routes(),
        lifespan=lifespan,
        exception_handlers={HubError: hub_error_response},
        middleware=[Middleware(SecurityHeaders, https=settings.https)],
    )


def build_routes() -> list[BaseRoute]:
    return [
        SecureRoute("/healthz", healthz, access=PUBLIC),
        *chat_api.routes(),
        Mount("/api/v1", routes=api.routes()),
        *security_routes.routes(),
        *realtime.routes(),
        *webhooks.routes(),
        *mail_admin.routes(),
        *channel_admin.routes(),
    ]


async def hub_error_response(request: Request, exc: Exception) -> Response:
    return await error_response(request, exc)


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
