"""Who is asking, for pages, the JSON API and websockets; CSRF tokens.

- ``current_principal(request)``: the signed-in staff member or portal user (second
  factor done), an API token's principal for ``Authorization: Bearer``, else None.
- ``require_staff`` / ``require_portal``: the same or ``AuthError`` / ``Forbidden``;
  ``require_api_token``: a token's principal or ``ApiTokenInvalid`` (401, RFC 6750);
  ``hub.web.errors`` turns ``AuthError`` into a redirect to the login page (pages) or a
  401 JSON body (``/api``).
- ``principal_for_websocket``: the principal behind a websocket handshake, after an
  Origin check against ``settings.base_url`` (cross-site websocket hijacking).
- ``check_csrf`` / ``csrf_token``: a session's token, or before login a token bound by
  HMAC to the random ``zh_csrf`` cookie ("signed double submit").

Which cookie counts follows the path: ``/portal`` reads only ``zh_portal``, ``/app`` and
``/login`` only ``zh_session``, anything else (``/api``) staff first, then portal. What
one request learned is cached in its ASGI scope, so guards, pages and templates agree
and the database is asked once.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import secrets
from typing import Any, Literal
from urllib.parse import urlsplit

from sqlalchemy import select
from starlette.requests import HTTPConnection, Request
from starlette.websockets import WebSocket

from hub.db.base import utcnow
from hub.db.engine import transaction
from hub.db.models import ApiToken, PortalUser, Staff, UserSession
from hub.errors import ApiTokenInvalid, AuthError, CsrfFailed, Forbidden
from hub.resources import Resources
from hub.security import audit, sessions
from hub.security.principal import Principal
from hub.security.sessions import SessionKind
from hub.security.tokens import token_hash
from hub.settings import Settings

ANON_CSRF_COOKIE = "zh_csrf"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_SCOPE_KEY = "zh_auth"
_MISSING = object()


@dataclasses.dataclass(frozen=True)
class Auth:
    """A valid session row and the principal it stands for (maybe before the 2nd factor)."""

    kind: SessionKind
    session: UserSession
    principal: Principal

    @property
    def complete(self) -> bool:
        return self.session.second_factor_done


def hub_of(conn: HTTPConnection) -> Resources:
    hub: Resources = conn.state.hub
    return hub


def client_ip(conn: HTTPConnection) -> str:
    return conn.client.host if conn.client else ""


def user_agent(conn: HTTPConnection) -> str:
    return conn.headers.get("user-agent", "")[:300]


def kinds_for(path: str) -> tuple[SessionKind, ...]:
    if path == "/portal" or path.startswith("/portal/"):
        return ("portal",)
    if path.startswith(("/app", "/login", "/logout", "/invite", "/password")):
        return ("staff",)
    return ("staff", "portal")


def _cache(conn: HTTPConnection) -> dict[str, Any]:
    cache: dict[str, Any] = conn.scope.setdefault(_SCOPE_KEY, {})
    return cache


def forget(conn: HTTPConnection) -> None:
    """Drop what this request cached (after login or logout changed the session)."""
    conn.scope.pop(_SCOPE_KEY, None)


def remember(conn: HTTPConnection, auth: Auth) -> None:
    """Cache a session just started in this request (so templates get its CSRF token)."""
    _cache(conn)[auth.kind] = auth


# --- sessions -----------------------------------------------------------------------


async def session_auth(conn: HTTPConnection, kind: SessionKind) -> Auth | None:
    """The valid session of ``kind`` behind this request's cookie (2nd factor or not)."""
    cache = _cache(conn)
    found = cache.get(kind, _MISSING)
    if found is _MISSING:
        found = await _load(conn, kind)
        cache[kind] = found
    return found if isinstance(found, Auth) else None


async def _load(conn: HTTPConnection, kind: SessionKind) -> Auth | None:
    raw = conn.cookies.get(sessions.cookie_name(kind))
    if not raw:
        return None
    hub = hub_of(conn)
    key = sessions.unsign_key(hub.settings, kind, raw)
    async with transaction(hub.sessions) as db:
        if key is None:
            await _record_anonymous(db, conn, f"ongeldige of vervalste {kind}-sessiecookie")
            return None
        return await _load_row(conn, db, kind, key)


async def _load_row(conn: HTTPConnection, db: Any, kind: SessionKind, key: str) -> Auth | None:
    hub = hub_of(conn)
    found = await sessions.find_with_user(db, kind, key)  # one round trip, not two
    row, user = found if found is not None else (None, None)
    if row is None or user is None or user.organisation_id != row.organisation_id:
        await _record_anonymous(db, conn, f"onbekende {kind}-sessie")
        return None
    principal = _principal(kind, row, user).at(client_ip(conn), user_agent(conn))
    now = utcnow()
    why = sessions.problem(row, hub.settings, now)
    if why is None and not user.active:
        why = "account uitgeschakeld"
    if why is not None:
        await audit.record(db, principal, audit.Event.DENIED, outcome=audit.Outcome.DENIED,
                           detail=f"sessie geweigerd: {why}")
        return None
    await sessions.touch(db, row, now)
    return Auth(kind, row, principal)


def _principal(kind: SessionKind, row: UserSession, user: Staff | PortalUser) -> Principal:
    if isinstance(user, Staff):
        return Principal("staff", user.organisation_id, user.id, user.name, user.role,
                         is_privacy_officer=user.is_privacy_officer, session_key=row.key,
                         second_factor=row.second_factor_done and bool(user.totp_secret),
                         language=user.language)
    return Principal("portal", user.organisation_id, user.id, user.name, "portal",
                     session_key=row.key, language=user.language,
                     second_factor=row.second_factor_done and bool(user.totp_secret))


# --- principals ---------------------------------------------------------------------


def bearer_token(conn: HTTPConnection) -> str | None:
    scheme, _, token = conn.headers.get("authorization", "").partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


async def _api_principal(conn: HTTPConnection, token: str) -> Principal | None:
    cache = _cache(conn)
    if "api" not in cache:
        digest = token_hash(token)
        async with hub_of(conn).sessions() as db:
            row = await db.scalar(select(ApiToken).where(ApiToken.token_hash == digest,
                                                         ApiToken.revoked_at.is_(None)))
        cache["api"] = None if row is None else Principal(
            "api", row.organisation_id, row.id, row.name, "api",
        ).at(client_ip(conn), user_agent(conn))
    found: Principal | None = cache["api"]
    return found


async def current_principal(request: HTTPConnection) -> Principal | None:
    """The signed-in principal (second factor done), or None."""
    token = bearer_token(request)
    if token is not None and request.url.path.startswith("/api/"):
        return await _api_principal(request, token)
    for kind in kinds_for(request.url.path):
        auth = await session_auth(request, kind)
        if auth is not None and auth.complete:
            return auth.principal
    return None


def cached_principal(conn: HTTPConnection) -> Principal | None:
    """What ``current_principal`` found earlier in this request (for templates)."""
    cache = _cache(conn)
    if isinstance(cache.get("api"), Principal):
        return cache["api"]
    for kind in kinds_for(conn.url.path):
        auth = cache.get(kind)
        if isinstance(auth, Auth) and auth.complete:
            return auth.principal
    return None


async def require_staff(request: Request, roles: set[str] | None = None) -> Principal:
    """The signed-in staff member, holding one of ``roles`` when given.

    ``"privacy_officer"`` in ``roles`` means the privacy officer flag *and* a second
    factor checked for this session.
    """
    who = await current_principal(request)
    if who is None or who.kind != "staff":
        pending = await session_auth(request, "staff")
        reason = "second_factor" if pending is not None else "signed_out"
        raise AuthError("Log in om verder te gaan.", login="staff", reason=reason)
    if roles and not has_role(who, roles):
        await audit_denied(request, who, f"rol vereist: {', '.join(sorted(roles))}")
        raise Forbidden("U heeft geen toegang tot deze pagina.", roles=sorted(roles))
    return who


async def require_api_token(request: Request) -> Principal:
    """An API token's principal, for routes only a token may call (the JSON API).

    No token, or one that is unknown or revoked: ``ApiTokenInvalid`` (401 with a
    ``WWW-Authenticate: Bearer`` challenge, not a login page). A signed-in staff member or
    portal user without a token is known but not allowed here: ``Forbidden``, audited.
    """
    token = bearer_token(request)
    who = await (_api_principal(request, token) if token else current_principal(request))
    if who is None:
        raise ApiTokenInvalid(given=token is not None)
    if who.kind != "api":
        await audit_denied(request, who, f"niet voor {who.kind}: alleen met een API-token")
        raise Forbidden("Deze API werkt alleen met een API-token.")
    return who


async def require_portal(request: Request) -> Principal:
    who = await current_principal(request)
    if who is None or who.kind != "portal":
        pending = await session_auth(request, "portal")
        reason = "second_factor" if pending is not None else "signed_out"
        raise AuthError("Log in om verder te gaan.", login="portal", reason=reason)
    return who


def has_role(who: Principal, roles: set[str] | frozenset[str]) -> bool:
    if who.role in roles:
        return True
    return "privacy_officer" in roles and who.is_privacy_officer and who.second_factor


async def audit_denied(conn: HTTPConnection, who: Principal, detail: str,
                       client_id: int | None = None, object_ref: str = "") -> None:
    async with transaction(hub_of(conn).sessions) as db:
        await audit.record(db, who, audit.Event.DENIED, client_id=client_id,
                           object_ref=object_ref or conn.url.path[:120],
                           outcome=audit.Outcome.DENIED, detail=detail)


async def principal_for_websocket(
    websocket: WebSocket, kind: Literal["staff", "portal"],
) -> Principal | None:
    """The principal behind a websocket handshake, or None (then close without accept).

    A browser always sends Origin; it must name this hub's host. Without Origin (a
    non-browser client) only a valid session cookie lets it in, as for any request.
    """
    origin = websocket.headers.get("origin")
    if origin is not None and not same_host(origin, hub_of(websocket).settings.base_url):
        await _audit_bad_origin(websocket, kind, origin)
        return None
    auth = await session_auth(websocket, kind)
    return auth.principal if auth is not None and auth.complete else None


def same_host(origin: str, base_url: str) -> bool:
    host = urlsplit(origin).hostname
    return host is not None and host == urlsplit(base_url).hostname


async def _audit_bad_origin(websocket: WebSocket, kind: SessionKind, origin: str) -> None:
    auth = await session_auth(websocket, kind)
    await _audit_refusal(websocket, auth.principal if auth is not None else None,
                         f"websocket van vreemde herkomst geweigerd: {origin[:200]}")


async def _audit_refusal(conn: HTTPConnection, who: Principal | None, detail: str) -> None:
    """A refusal, audited as ``who`` when signed in, else as an anonymous visitor."""
    if who is not None:
        await audit_denied(conn, who, detail)
        return
    async with transaction(hub_of(conn).sessions) as db:
        await _record_anonymous(db, conn, detail)


async def _record_anonymous(db: Any, conn: HTTPConnection, detail: str) -> None:
    await audit.record_anonymous(db, hub_of(conn).settings, None, audit.Event.DENIED,
                                 ip=client_ip(conn), user_agent=user_agent(conn), detail=detail)


# --- CSRF ---------------------------------------------------------------------------


def anon_csrf_token(settings: Settings, cookie_value: str) -> str:
    """The pre-login CSRF token that belongs to a ``zh_csrf`` cookie value."""
    secret = settings.effective_secret_key().encode()
    return hmac.new(secret, f"zh-csrf:{cookie_value}".encode(), hashlib.sha256).hexdigest()


def _anon_csrf(conn: HTTPConnection, cookie_value: str) -> str:
    return anon_csrf_token(hub_of(conn).settings, cookie_value)


def new_anon_cookie(conn: HTTPConnection) -> str | None:
    """A ``zh_csrf`` value to set on the response, when this request created one."""
    value: str | None = conn.scope.get("zh_new_csrf_cookie")
    return value


def csrf_token(request: HTTPConnection) -> str:
    """The token forms and fetch calls must send back (field ``csrf_token`` or header)."""
    cache = _cache(request)
    for kind in kinds_for(request.url.path):
        auth = cache.get(kind)
        if isinstance(auth, Auth):
            return auth.session.csrf_token
    value = request.cookies.get(ANON_CSRF_COOKIE) or new_anon_cookie(request)
    if not value:
        value = secrets.token_urlsafe(24)
        request.scope["zh_new_csrf_cookie"] = value
    return _anon_csrf(request, value)


async def _sent_tokens(request: Request) -> list[str]:
    """The header's token and the form field's (either may be the right one)."""
    sent = [request.headers.get("x-csrf-token", "")]
    content_type = request.headers.get("content-type", "")
    if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        value = (await request.form()).get("csrf_token")
        sent.append(value if isinstance(value, str) else "")
    return [token for token in sent if token]


async def _csrf_matches(request: Request, sent: str, session_only: bool) -> bool:
    for kind in kinds_for(request.url.path):
        auth = await session_auth(request, kind)
        if auth is not None and hmac.compare_digest(sent, auth.session.csrf_token):
            return True
    cookie = request.cookies.get(ANON_CSRF_COOKIE)
    if session_only or not cookie:
        return False
    return hmac.compare_digest(sent, _anon_csrf(request, cookie))


async def check_csrf(request: Request, *, session_only: bool = False) -> None:
    """Refuse a state-changing request without a valid CSRF token.

    Safe methods pass; so do requests with a bearer token (a browser never adds one on
    its own, so they cannot be forged cross-site). With ``session_only`` (every route
    that needs a signed-in user) only the session's own token counts; otherwise the
    pre-login token of a public form (login, password reset) counts too, since a form
    may have been loaded before a session existed.
    """
    if request.method in SAFE_METHODS or bearer_token(request) is not None:
        return
    for sent in await _sent_tokens(request):
        if await _csrf_matches(request, sent, session_only):
            return
    await _audit_csrf(request)
    raise CsrfFailed("Het formulier is verlopen of ongeldig. Laad de pagina opnieuw en "
                     "probeer het nog eens.")


async def _audit_csrf(request: Request) -> None:
    await _audit_refusal(request, await current_principal(request),
                         f"CSRF-token ontbreekt of klopt niet: {request.method} "
                         f"{request.url.path}")
