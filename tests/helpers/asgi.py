"""httpx clients talking to the app in-process, sharing the test's ``hub`` resources.

Like the ``client`` fixture, but as many as a test needs (one per signed-in user).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from starlette.applications import Starlette

from hub.resources import Resources


def transport_for(app: Starlette, hub: Resources) -> httpx.ASGITransport:
    async def with_state(scope: dict[str, Any], receive: Any, send: Any) -> None:
        scope["state"] = {"hub": hub}
        await app(scope, receive, send)

    return httpx.ASGITransport(app=with_state)


@asynccontextmanager
async def asgi_client(app: Starlette, hub: Resources) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=transport_for(app, hub),
                                 base_url="http://testserver") as client:
        yield client
