"""What differs between the staff and the portal login: paths, table, second-factor rule."""

from __future__ import annotations

import dataclasses

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import HTTPConnection
from starlette.responses import RedirectResponse

from hub.db.engine import transaction
from hub.db.models import PortalUser, Staff
from hub.security import audit, sessions
from hub.security.guards import Auth, client_ip, hub_of, remember, user_agent
from hub.security.principal import Principal
from hub.security.sessions import SessionKind
from hub.settings import Settings

User = Staff | PortalUser


@dataclasses.dataclass(frozen=True)
class Flow:
    kind: SessionKind
    model: type[Staff] | type[PortalUser]
    # "" for staff, "/portal" for the portal
    prefix: str
    home: str

    @property
    def login_path(self) -> str:
        return f"{self.prefix}/login"

    def second_factor_required(self, user: User, settings: Settings) -> bool:
        """Staff always (unless switched off); portal users when they chose one."""
        if user.totp_secret:
            return True
        return self.kind == "staff" and settings.require_staff_2fa


async def get_user(db: AsyncSession, flow: Flow, user_id: int | None) -> User | None:
    """The staff member or portal user of this flow with that id."""
    if user_id is None:
        return None
    user = await db.get(flow.model, user_id)
    return user if isinstance(user, Staff | PortalUser) else None


async def users_by_email(db: AsyncSession, flow: Flow, email: str,
                         active_only: bool = False) -> list[User]:
    """Accounts with this address, any case (one per organisation that has it)."""
    if not email:
        return []
    query = select(flow.model).where(func.lower(flow.model.email) == email)
    if active_only:
        query = query.where(flow.model.active.is_(True))
    rows = await db.scalars(query.order_by(flow.model.id))
    return [u for u in rows if isinstance(u, Staff | PortalUser)]


STAFF_FLOW = Flow("staff", Staff, "", "/app/")
PORTAL_FLOW = Flow("portal", PortalUser, "/portal", "/portal/")


def principal_for(flow: Flow, user: User, conn: HTTPConnection, second_factor: bool = False,
                  session_key: str | None = None) -> Principal:
    """The principal of ``user`` for audit lines written during login."""
    if isinstance(user, Staff):
        who = Principal("staff", user.organisation_id, user.id, user.name, user.role,
                        is_privacy_officer=user.is_privacy_officer, session_key=session_key,
                        second_factor=second_factor, language=user.language)
    else:
        who = Principal("portal", user.organisation_id, user.id, user.name, "portal",
                        session_key=session_key, second_factor=second_factor,
                        language=user.language)
    return who.at(client_ip(conn), user_agent(conn))


async def start_session(conn: HTTPConnection, db: AsyncSession, flow: Flow, user: User, *,
                        complete: bool) -> Auth:
    """A new session (new key: rotation) for ``user``; the old cookie's session ends."""
    hub = hub_of(conn)
    old = conn.cookies.get(sessions.cookie_name(flow.kind))
    old_key = sessions.unsign_key(hub.settings, flow.kind, old) if old else None
    if old_key:
        await sessions.revoke(db, old_key)
    row = await sessions.start(db, hub.settings, kind=flow.kind,
                               organisation_id=user.organisation_id, user_id=user.id,
                               second_factor_done=complete, ip=client_ip(conn),
                               user_agent=user_agent(conn))
    who = principal_for(flow, user, conn, complete and bool(user.totp_secret), row.key)
    auth = Auth(flow.kind, row, who)
    remember(conn, auth)
    return auth


def redirect_with_session(conn: HTTPConnection, target: str, flow: Flow,
                          auth: Auth) -> RedirectResponse:
    response = RedirectResponse(target, status_code=303)
    sessions.set_cookie(response, hub_of(conn).settings, flow.kind, auth.session)
    return response


async def end_session(conn: HTTPConnection, flow: Flow, *, everywhere: bool) -> RedirectResponse:
    """Log out here (or on every device); the cookie is cleared either way."""
    hub = hub_of(conn)
    raw = conn.cookies.get(sessions.cookie_name(flow.kind))
    key = sessions.unsign_key(hub.settings, flow.kind, raw) if raw else None
    async with transaction(hub.sessions) as db:
        row = await sessions.find(db, flow.kind, key) if key else None
        user = await get_user(db, flow, row.staff_id or row.portal_user_id) if row else None
        if row is not None and user is not None:
            await _revoke(db, flow, row.key, user.id, everywhere)
            detail = "overal uitgelogd" if everywhere else "uitgelogd"
            await audit.record(db, principal_for(flow, user, conn), audit.Event.LOGOUT,
                               object_ref=f"session:{row.id}", detail=detail)
    response = RedirectResponse(flow.login_path, status_code=303)
    sessions.clear_cookie(response, hub.settings, flow.kind)
    return response


async def _revoke(db: AsyncSession, flow: Flow, key: str, user_id: int, everywhere: bool) -> None:
    if everywhere:
        await sessions.revoke_all(db, flow.kind, user_id)
    else:
        await sessions.revoke(db, key)
