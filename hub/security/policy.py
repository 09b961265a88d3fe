"""Every route declares who may use it; the declaration is also the guard.

Register routes with ``SecureRoute`` / ``SecureWebSocketRoute`` (drop-in for Starlette's
``Route`` / ``WebSocketRoute``) and an ``access=`` policy, or mark a ``Mount`` of an ASGI
app with ``declare(mount, access)``::

    SecureRoute("/app/clients/{client_id:int}", client_page, access="client")
    SecureRoute("/api/v1/clients/{client_id:int}", api_client, access=API_CLIENT)
    SecureWebSocketRoute("/ws", staff_socket, access="staff")
    declare(Mount("/static", StaticFiles(...)), PUBLIC)

Before the endpoint runs, the wrapper signs the caller in (``AuthError`` when not),
checks the principal kind and role (``Forbidden``), checks the CSRF token of every
POST/PUT/PATCH/DELETE (the session's own token once signed in; unless ``csrf=False``:
webhooks signed by their sender; bearer-token API calls need none), and for
``scope="client"`` / ``"conversation"`` checks ``hub.security.access`` on the path
parameter ``client_id`` / ``conversation_id`` (refused and audited when not visible);
``scope="room"`` (``ROOM``) admits only members of the chat room ``room_id``.
The endpoint gets the principal with ``principal_of(request)`` and writes its own audit
record of what it read or changed.

``tests/security/test_matrix.py`` walks ``create_app(settings).routes`` (through Mounts)
and fails for any route without a declaration, and for any route with a ``client_id`` or
``conversation_id`` parameter whose policy is not scoped on it.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Awaitable, Callable, Iterator, Sequence
from typing import Any, Literal

from sqlalchemy import select
from starlette.requests import HTTPConnection, Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route, WebSocketRoute
from starlette.websockets import WebSocket

from hub.chat.access import is_member
from hub.db.models import Conversation
from hub.errors import AuthError, Forbidden
from hub.security import access as rules
from hub.security import guards
from hub.security.principal import Principal

Scope = Literal["none", "client", "conversation", "room"]
_PRINCIPAL_KEY = "zh_principal"


@dataclasses.dataclass(frozen=True)
class Access:
    """Who may call a route: principal kinds, staff roles and the object scope."""

    name: str
    # staff, portal, api; empty means public
    kinds: frozenset[str] = frozenset()
    # staff roles (admin, coordinator, staff, and the pseudo-role privacy_officer)
    roles: frozenset[str] = frozenset()
    scope: Scope = "none"
    csrf: bool = True

    @property
    def public(self) -> bool:
        return not self.kinds


PUBLIC = Access("public")
# signed by the sender (HMAC), not sent by a browser: no session, no CSRF token
WEBHOOK = Access("webhook", csrf=False)
STAFF = Access("staff", frozenset({"staff"}))
COORDINATOR = Access("coordinator", frozenset({"staff"}), frozenset({"coordinator", "admin"}))
ADMIN = Access("admin", frozenset({"staff"}), frozenset({"admin"}))
PRIVACY_OFFICER = Access("privacy_officer", frozenset({"staff"}), frozenset({"privacy_officer"}))
PORTAL = Access("portal", frozenset({"portal"}))
CLIENT = Access("client", frozenset({"staff"}), scope="client")
CONVERSATION = Access("conversation", frozenset({"staff"}), scope="conversation")
PORTAL_CLIENT = Access("portal_client", frozenset({"portal"}), scope="client")
PORTAL_CONVERSATION = Access("portal_conversation", frozenset({"portal"}),
                             scope="conversation")
API = Access("api", frozenset({"staff", "portal", "api"}))
API_STAFF = Access("api_staff", frozenset({"staff"}))
# a staff chat room in the path (``room_id``): members only (``hub.chat.access``)
ROOM = Access("room", frozenset({"staff"}), scope="room")
API_CLIENT = Access("api_client", frozenset({"staff", "portal", "api"}), scope="client")
API_CONVERSATION = Access("api_conversation", frozenset({"staff", "portal"}),
                          scope="conversation")

PRESETS: dict[str, Access] = {a.name: a for a in (
    PUBLIC, WEBHOOK, STAFF, COORDINATOR, ADMIN, PRIVACY_OFFICER, PORTAL, CLIENT,
    CONVERSATION, PORTAL_CLIENT, PORTAL_CONVERSATION, API, API_STAFF, API_CLIENT,
    API_CONVERSATION, ROOM,
)}


def as_access(access: Access | str) -> Access:
    if isinstance(access, Access):
        return access
    if access not in PRESETS:
        raise ValueError(f"unknown access policy {access!r}; one of {sorted(PRESETS)}")
    return PRESETS[access]


def principal_of(conn: HTTPConnection) -> Principal:
    """The principal the route's guard admitted (not for public routes)."""
    who = conn.scope.get(_PRINCIPAL_KEY)
    if not isinstance(who, Principal):
        raise RuntimeError("principal_of() on a route without a signed-in policy")
    return who


# --- enforcement --------------------------------------------------------------------


async def enforce(request: Request, access: Access) -> Principal | None:
    """Sign in, kind, role, CSRF and object scope, in that order; the principal or None."""
    if access.public:
        if access.csrf:
            await guards.check_csrf(request)
        return None
    who = await _signed_in(request, access)
    if access.roles and not guards.has_role(who, access.roles):
        await guards.audit_denied(request, who, f"rol vereist: {', '.join(sorted(access.roles))}")
        raise Forbidden("U heeft geen toegang tot deze pagina.")
    if access.csrf:
        await guards.check_csrf(request, session_only=True)
    await check_scope(request, who, access)
    request.scope[_PRINCIPAL_KEY] = who
    return who


async def _signed_in(request: Request, access: Access) -> Principal:
    if access.kinds == {"portal"}:
        return await guards.require_portal(request)
    if access.kinds == {"staff"}:
        return await guards.require_staff(request)
    if access.kinds == {"api"}:
        return await guards.require_api_token(request)
    who = await guards.current_principal(request)
    if who is None:
        raise AuthError("Log in om verder te gaan.", login="staff", reason="signed_out")
    if who.kind not in access.kinds:
        await guards.audit_denied(request, who, f"niet voor {who.kind}")
        raise Forbidden("U heeft geen toegang tot deze pagina.")
    return who


async def check_scope(conn: HTTPConnection, who: Principal, access: Access) -> None:
    """Refuse (and audit) when the client or conversation in the path is not visible."""
    if access.scope == "none":
        return
    if access.scope == "room":
        return await _check_room(conn, who)
    name = f"{access.scope}_id"
    object_id = _int(conn.path_params.get(name))
    hub = guards.hub_of(conn)
    async with hub.sessions() as db:
        if access.scope == "client":
            ok = object_id is not None and await rules.can_see_client(db, who, object_id)
            client_id = object_id
        else:
            ok = object_id is not None and await rules.can_see_conversation(db, who, object_id)
            client_id = await _client_of(db, who, object_id) if not ok else None
    if not ok:
        await guards.audit_denied(conn, who, "geen zorgrelatie of koppeling",
                                  client_id=client_id, object_ref=f"{access.scope}:{object_id}")
        raise Forbidden(_REFUSED[access.scope], scope=access.scope, object_id=object_id,
                        break_glass=who.kind == "staff" and who.role == "admin"
                        and access.scope == "client")


_REFUSED = {
    "client": "U heeft geen toegang tot dit dossier.",
    "conversation": "U heeft geen toegang tot dit gesprek.",
    "room": "U heeft geen toegang tot deze chatkamer.",
}


async def _check_room(conn: HTTPConnection, who: Principal) -> None:
    """Members only; another organisation's room and no room at all get the same answer."""
    room_id = _int(conn.path_params.get("room_id"))
    async with guards.hub_of(conn).sessions() as db:
        ok = room_id is not None and await is_member(db, who, room_id)
    if not ok:
        await guards.audit_denied(conn, who, "geen lid van de chatkamer",
                                  object_ref=f"room:{room_id}")
        raise Forbidden(_REFUSED["room"], scope="room", object_id=room_id)


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


async def _client_of(db: Any, who: Principal, conversation_id: int | None) -> int | None:
    """The client of a refused conversation, for the audit line (same organisation only)."""
    if conversation_id is None:
        return None
    client_id: int | None = await db.scalar(select(Conversation.client_id).where(
        Conversation.id == conversation_id,
        Conversation.organisation_id == who.organisation_id))
    return client_id


# --- routes -------------------------------------------------------------------------

Endpoint = Callable[[Request], Awaitable[Response]]
WsEndpoint = Callable[[WebSocket], Awaitable[None]]


class SecureRoute(Route):
    """A ``Route`` whose endpoint runs only after its ``access`` policy admitted the call."""

    def __init__(self, path: str, endpoint: Endpoint, *, access: Access | str,
                 **kwargs: Any) -> None:
        self.access = as_access(access)
        super().__init__(path, _guarded(endpoint, self.access), **kwargs)


def _guarded(endpoint: Endpoint, access: Access) -> Endpoint:
    @functools.wraps(endpoint)
    async def guarded(request: Request) -> Response:
        await enforce(request, access)
        return await endpoint(request)

    return guarded


class SecureWebSocketRoute(WebSocketRoute):
    """A ``WebSocketRoute`` closed before accept (4401/4403) unless ``access`` admits it."""

    def __init__(self, path: str, endpoint: WsEndpoint, *, access: Access | str,
                 **kwargs: Any) -> None:
        self.access = as_access(access)
        super().__init__(path, _guarded_ws(endpoint, self.access), **kwargs)


def _guarded_ws(endpoint: WsEndpoint, access: Access) -> WsEndpoint:
    @functools.wraps(endpoint)
    async def guarded(websocket: WebSocket) -> None:
        if not access.public:
            kind: Literal["staff", "portal"] = (
                "portal" if access.kinds == {"portal"} else "staff")
            who = await guards.principal_for_websocket(websocket, kind)
            if who is None:
                await websocket.close(code=4401)
                return
            if not await _ws_allowed(websocket, who, access):
                await websocket.close(code=4403)
                return
            websocket.scope[_PRINCIPAL_KEY] = who
        await endpoint(websocket)

    return guarded


async def _ws_allowed(websocket: WebSocket, who: Principal, access: Access) -> bool:
    if access.roles and not guards.has_role(who, access.roles):
        return False
    try:
        await check_scope(websocket, who, access)
    except Forbidden:
        return False
    return True


def declare(route: BaseRoute, access: Access | str) -> BaseRoute:
    """Attach a policy to a route that is not a SecureRoute (a Mount of an ASGI app).

    Only the declaration is attached: such an app must guard itself (static files are
    public; anything else should be built from SecureRoutes instead).
    """
    setattr(route, "access", as_access(access))  # noqa: B010 - Starlette routes have no slot
    return route


def access_of(route: BaseRoute) -> Access | None:
    found = getattr(route, "access", None)
    return found if isinstance(found, Access) else None


def _has_routes(mount: Mount) -> bool:
    return hasattr(getattr(mount, "_base_app", mount.app), "routes")


def walk(routes: Sequence[BaseRoute], prefix: str = "") -> Iterator[tuple[str, BaseRoute]]:
    """Every leaf route with its full path; a Mount with routes is walked, not yielded."""
    for route in routes:
        if isinstance(route, Mount) and access_of(route) is None and _has_routes(route):
            yield from walk(route.routes, prefix + route.path)
        else:
            yield prefix + str(getattr(route, "path", "")), route
