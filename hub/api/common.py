"""What every API handler shares: the token, one transaction, JSON in and out."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Router
from starlette.types import Receive, Scope, Send

from hub.errors import HubError, InvalidInput, PayloadTooLarge
from hub.events import unit_of_work
from hub.resources import Resources
from hub.security.policy import Access, Endpoint, SecureRoute, principal_of
from hub.security.principal import Principal
from hub.security.tokens import touch_token

log = logging.getLogger(__name__)
MAX_BODY_BYTES = 1024 * 1024
_HTTP_CODES = {404: "not_found", 405: "method_not_allowed"}


# API tokens only: an ECD syncing records sees every client of its organisation, which a
# staff member or portal user must not (they go through the care-relationship rules)
API_TOKEN = Access("api_token", frozenset({"api"}))


def api_route(path: str, endpoint: Endpoint, method: str) -> SecureRoute:
    return SecureRoute(path, endpoint, access=API_TOKEN, methods=[method])


@asynccontextmanager
async def api_call(request: Request) -> AsyncIterator[tuple[AsyncSession, Principal]]:
    """One transaction for the whole request, with the principal the route's guard admitted.

    The audit records and the change commit together; events go out after the commit.
    """
    hub: Resources = request.state.hub
    who = principal_of(request)
    async with unit_of_work(hub.sessions, hub.events) as session:
        await touch_token(session, who)
        yield session, who


async def json_body(request: Request) -> dict[str, Any]:
    body = await request.body()
    if len(body) > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"body groter dan {MAX_BODY_BYTES} bytes")
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise InvalidInput("body is geen geldige JSON", fields={"body": "geen JSON"}) from None
    if not isinstance(data, dict):
        raise InvalidInput("body moet een JSON-object zijn", fields={"body": "geen object"})
    return data


def json_response(data: dict[str, Any], status: int = 200, **headers: str) -> JSONResponse:
    return JSONResponse(data, status_code=status, headers=headers or None)


class JsonErrors:
    """Turns what Starlette itself raises (unknown path, wrong method, a crash) into the
    API's JSON error shape, so a client never has to parse text or HTML."""

    def __init__(self, app: Router) -> None:
        self.app = app

    @property
    def routes(self) -> list[BaseRoute]:
        # lets route listings (and the security matrix test) see the guarded routes inside
        return self.app.routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = False

        async def watch(message: Any) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, watch)
        except HTTPException as exc:
            if started:
                raise
            code = _HTTP_CODES.get(exc.status_code, "http_error")
            body = {"error": {"code": code, "message": exc.detail}}
            await JSONResponse(body, status_code=exc.status_code)(scope, receive, send)
        except HubError:
            raise  # the app's handler maps these
        except Exception:  # boundary: the API answers JSON even when we fail
            if started:
                raise
            log.exception("API request failed: %s %s", scope.get("method"), scope.get("path"))
            body = {"error": {"code": "internal_error", "message": "interne fout"}}
            await JSONResponse(body, status_code=500)(scope, receive, send)
