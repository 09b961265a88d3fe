"""The authorization matrix: every route of the app, every kind of user.

Generated from the route table: a route without an access declaration fails
``test_every_route_declares_its_access``, and every declared HTTP route is called by every
role of ``tests.helpers.world`` (websocket routes: the handshake). What each role should
get follows from the declaration alone (``expected``), so a new route is checked the
moment it is registered. A path parameter this file has no value for fails the test:
add it to ``PARAMS``.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

import httpx
import pytest
import websockets
from sqlalchemy import func, select
from starlette.applications import Starlette
from starlette.routing import BaseRoute, WebSocketRoute

from hub.app import create_app
from hub.db.models import AuditRecord
from hub.resources import Resources
from hub.security.guards import ANON_CSRF_COOKIE, anon_csrf_token
from hub.security.policy import Access, access_of, walk
from hub.settings import Settings
from tests.conftest import LiveServer
from tests.helpers.asgi import asgi_client
from tests.helpers.auth import start_session
from tests.helpers.world import ROLES, World, build_world

# staff roles each matrix user holds (privacy_officer is a flag on top of a role)
HOLDS = {"carer": {"staff"}, "stranger": {"staff"}, "coordinator": {"coordinator"},
         "admin": {"admin"}, "privacy_officer": {"staff", "privacy_officer"},
         "outsider": {"admin"}}
# who sees the world's client / conversation under the care rules
SEES = {"client": {"carer", "coordinator", "portal_own", "api_token"},
        "conversation": {"carer", "coordinator", "portal_own"}, "room": set()}
OTHER_ORG = {"outsider", "api_other_org"}
PARAMS: dict[str, Any] = {
    "client_id": lambda w: w.client.id,
    "conversation_id": lambda w: w.conversation.id,
    "staff_id": lambda w: w.users["stranger"].id,
    "contact_id": lambda w: w.contact.id,
    "number": lambda w: w.client.client_number,
    "token": lambda w: "no-such-token",
    "attachment_id": lambda w: w.attachment_id,
    # a canned reply: the empty probe body is refused (422) before it is looked up
    "reply_id": lambda w: 1,
    "mailbox_id": lambda w: w.mailbox_id,
    "quarantine_id": lambda w: w.quarantine_id,
    "channel_account_id": lambda w: w.channel_account_id,
    "channel_item_id": lambda w: w.channel_item_id,
    # a chat room nobody of the world is in: every role must be refused (members only;
    # tests/ui/test_chat_pages.py shows a member gets in)
    "room_id": lambda w: 2**31 - 1,
}
_PARAM = re.compile(r"{([a-zA-Z_]+)(?::[a-z]+)?}")


def _routes() -> list[tuple[str, BaseRoute]]:
    return list(walk(create_app(Settings()).routes))


def _cases() -> list[tuple[str, str, Access]]:
    """(path, method, access) of every HTTP route; HEAD goes where GET goes."""
    cases = []
    for path, route in _routes():
        access = access_of(route)
        if isinstance(route, WebSocketRoute) or access is None or path == "/static":
            continue
        for method in sorted((getattr(route, "methods", None) or {"GET"}) - {"HEAD"}):
            cases.append((path, method, access))
    return cases


def _ws_cases() -> list[Any]:
    return [pytest.param(path, access_of(route), id=path) for path, route in _routes()
            if isinstance(route, WebSocketRoute)]


def expected(access: Access, role: str, path: str) -> bool:
    """Should ``role`` get through the guard of a route declared with ``access``?"""
    if access.name == "webhook":
        return False  # signed by Meta: no session or token of any role opens it
    if access.public:
        return True
    kind = "api" if role.startswith("api") else (
        "portal" if role.startswith("portal") else "staff" if role in HOLDS else "anonymous")
    if kind not in access.kinds:
        return False
    if access.roles and not (HOLDS.get(role, set()) & access.roles):
        return False
    if role in OTHER_ORG and set(_PARAM.findall(path)) - {"token"}:
        return False  # every object in the path belongs to the first organisation
    return access.scope == "none" or role in SEES[access.scope]


def fill(path: str, world: World) -> str:
    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        assert name in PARAMS, f"no test value for path parameter {name!r}: add it to PARAMS"
        return str(PARAMS[name](world))

    return _PARAM.sub(value, path)


def refused(response: httpx.Response, access: Access) -> bool:
    """Did the guard turn the caller away (rather than the page saying no)?

    On public routes a 401 is the login page saying "wrong password"; only a CSRF
    refusal (403) counts there.
    """
    location = response.headers.get("location", "")
    if response.is_redirect and "/login?reason=" in location:
        return True
    if access.public:
        return response.status_code == 403
    return response.status_code in (401, 403, 404)


async def _prepare(http: httpx.AsyncClient, hub: Resources, world: World, role: str,
                   access: Access) -> None:
    if role.startswith("api"):
        http.headers["Authorization"] = f"Bearer {world.tokens[role]}"
    elif role in world.users:
        name, value, csrf = await start_session(hub, world.users[role])
        http.cookies.set(name, value)
        http.headers["X-CSRF-Token"] = csrf
    if access.public and not role.startswith("api"):
        # what a public form carries: the pre-login token of its zh_csrf cookie
        http.cookies.set(ANON_CSRF_COOKIE, "matrix-probe")
        http.headers["X-CSRF-Token"] = anon_csrf_token(hub.settings, "matrix-probe")


async def _audit_count(hub: Resources, **where: Any) -> int:
    async with hub.sessions() as db:
        query = select(func.count()).select_from(AuditRecord)
        for name, value in where.items():
            query = query.where(getattr(AuditRecord, name) == value)
        return int(await db.scalar(query) or 0)


def test_every_route_declares_its_access(settings: Settings) -> None:
    undeclared, unscoped = [], []
    for path, route in walk(create_app(settings).routes):
        access = access_of(route)
        if access is None:
            undeclared.append(path)
            continue
        for param, scope in (("client_id", "client"), ("conversation_id", "conversation")):
            if f"{{{param}" in path and access.scope != scope:
                unscoped.append(f"{path} ({access.name})")
    assert not undeclared, f"routes without an access declaration: {undeclared}"
    assert not unscoped, f"routes with a client/conversation id but no such scope: {unscoped}"
    assert len(_cases()) > 30


async def test_every_route_admits_exactly_the_expected_roles(
    app: Starlette, hub: Resources,
) -> None:
    """All routes, all roles. Reads share one world; a request that may change something
    gets a fresh world, so no case depends on what another one did."""
    shared = await build_world(hub)
    wrong: list[str] = []
    for path, method, access in _cases():
        world = shared if method == "GET" else await build_world(hub, default_org=False)
        got = await asyncio.gather(*(_call(app, hub, world, role, method, path, access)
                                     for role in ROLES))
        wrong += [f"{method} {path} ({access.name}) {role}: {'allowed' if ok else 'refused'}"
                  for role, ok in zip(ROLES, got, strict=True)
                  if ok != expected(access, role, path)]
    assert not wrong, "\n".join(wrong)


async def _call(app: Starlette, hub: Resources, world: World, role: str, method: str,
                path: str, access: Access) -> bool:
    """Call the route as ``role``; True when admitted. Scoped reads must be audited."""
    url = fill(path, world)
    user = world.users.get(role)
    async with asgi_client(app, hub) as http:
        await _prepare(http, hub, world, role, access)
        before = await _audit_count(hub, client_id=world.client.id, user_id=user.id) \
            if user is not None else 0
        data = None if method == "GET" else {}
        response = await http.request(method, url, data=data)
    assert response.status_code < 500, f"{role} {method} {url}: {response.status_code}"
    admitted = not refused(response, access)
    if role in OTHER_ORG and response.status_code == 422 and set(_PARAM.findall(path)):
        # the empty probe body failed validation before the object was looked up: nothing
        # was read or changed, which is all a refusal has to guarantee
        admitted = False
    known = world.kind_of(role) in access.kinds and role not in OTHER_ORG
    if access.scope in ("client", "conversation") and method == "GET" and known \
            and user is not None:
        # an admitted read is audited as such, a refusal as a denial, by this very user
        after = await _audit_count(hub, client_id=world.client.id, user_id=user.id)
        assert after > before, f"{role} {method} {url}: no audit record for the client"
    return admitted


@pytest.mark.parametrize(("path", "access"), _ws_cases())
async def test_websocket_handshake_admits_exactly_the_expected_roles(
    live_server: LiveServer, hub: Resources, path: str, access: Access,
) -> None:
    world = await build_world(hub)
    wrong = []
    for role in ROLES:
        got = await _handshake(live_server, hub, world, role, fill(path, world))
        if got != expected(access, role, path):
            wrong.append(f"{role}: {'allowed' if got else 'refused'}")
    assert not wrong, f"websocket {path} ({access.name}): {wrong}"


async def _handshake(server: LiveServer, hub: Resources, world: World, role: str,
                     path: str) -> bool:
    headers = {"Origin": server.url}
    if role.startswith("api"):
        headers["Authorization"] = f"Bearer {world.tokens[role]}"
    elif role in world.users:
        name, value, _ = await start_session(hub, world.users[role])
        headers["Cookie"] = f"{name}={value}"
    url = server.url.replace("http://", "ws://") + path
    try:
        async with websockets.connect(url, additional_headers=headers, open_timeout=5) as ws:
            try:
                await _closed_soon(ws)
            except websockets.ConnectionClosed as closed:
                return closed.code not in (1008, 4401, 4403)
            return True
    except websockets.InvalidStatus:
        return False


async def _closed_soon(ws: Any) -> None:
    """Raise ConnectionClosed when the server closes right after accepting."""
    try:
        await asyncio.wait_for(ws.recv(), 0.5)
    except TimeoutError:
        return
