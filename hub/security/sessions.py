"""Server-side sessions behind signed cookies.

The cookie carries only a random key, signed with itsdangerous (salted per kind), so a
forged or altered cookie is refused before the database is asked. The ``UserSession`` row
decides the rest: revoked, idle longer than ``session_idle_minutes`` or past its absolute
end (``session_absolute_hours`` after login) means signed out. A new key is issued at
every login step (password, then second factor), so a key seen before login is useless
after it (session fixation).

Cookie names: ``zh_session`` (staff) and ``zh_portal`` (portal), path ``/``, HttpOnly,
SameSite=Lax (links from notification mail must arrive signed in; every state change
needs a CSRF token anyway), Secure when ``base_url`` is https.
"""

from __future__ import annotations

import datetime as dt
import functools
import secrets
from typing import Literal

from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import Executable, String, bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response

from hub.db.base import utcnow
from hub.db.models import PortalUser, Staff, UserSession
from hub.settings import Settings

SessionKind = Literal["staff", "portal"]
COOKIES: dict[SessionKind, str] = {"staff": "zh_session", "portal": "zh_portal"}
# last_seen_at is written at most this often, not on every request
_TOUCH_EVERY = dt.timedelta(seconds=60)


def cookie_name(kind: SessionKind) -> str:
    return COOKIES[kind]


def _serializer(settings: Settings, kind: SessionKind) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(settings.effective_secret_key(), salt=f"zh-session-{kind}")


def sign_key(settings: Settings, kind: SessionKind, key: str) -> str:
    return str(_serializer(settings, kind).dumps(key))


def unsign_key(settings: Settings, kind: SessionKind, value: str) -> str | None:
    """The session key in a cookie value, or None when forged, altered or too old."""
    max_age = settings.session_absolute_hours * 3600
    try:
        key = _serializer(settings, kind).loads(value, max_age=max_age)
    except BadSignature:  # SignatureExpired is a subclass
        return None
    return key if isinstance(key, str) else None


async def start(
    db: AsyncSession, settings: Settings, *, kind: SessionKind, organisation_id: int,
    user_id: int, second_factor_done: bool, ip: str = "", user_agent: str = "",
) -> UserSession:
    """A fresh session row with a new random key and CSRF token."""
    now = utcnow()
    row = UserSession(
        organisation_id=organisation_id, key=secrets.token_urlsafe(32),
        staff_id=user_id if kind == "staff" else None,
        portal_user_id=user_id if kind == "portal" else None,
        second_factor_done=second_factor_done, csrf_token=secrets.token_urlsafe(32),
        last_seen_at=now, expires_at=now + dt.timedelta(hours=settings.session_absolute_hours),
        ip=ip[:64], user_agent=user_agent[:300],
    )
    db.add(row)
    await db.flush()
    return row


def problem(row: UserSession, settings: Settings, now: dt.datetime) -> str | None:
    """Why this session is no longer valid ("revoked", "expired", "idle"), or None."""
    if row.revoked_at is not None:
        return "revoked"
    if row.expires_at <= now:
        return "expired"
    if now - row.last_seen_at > dt.timedelta(minutes=settings.session_idle_minutes):
        return "idle"
    return None


async def find(db: AsyncSession, kind: SessionKind, key: str) -> UserSession | None:
    column = UserSession.staff_id if kind == "staff" else UserSession.portal_user_id
    return await db.scalar(select(UserSession).where(UserSession.key == key,
                                                     column.is_not(None)))


@functools.cache
def _with_user(kind: SessionKind) -> Executable:
    """Built once per kind: a handshake storm runs it a thousand times a second."""
    user: type[Staff | PortalUser] = Staff if kind == "staff" else PortalUser
    column = UserSession.staff_id if kind == "staff" else UserSession.portal_user_id
    return (select(UserSession, user).join(user, user.id == column)
            .where(UserSession.key == bindparam("key", type_=String)))


async def find_with_user(db: AsyncSession, kind: SessionKind, key: str
                         ) -> tuple[UserSession, Staff | PortalUser] | None:
    """The session row and its user in one round trip (every request and handshake)."""
    found = (await db.execute(_with_user(kind), {"key": key})).first()
    return (found[0], found[1]) if found is not None else None


async def touch(db: AsyncSession, row: UserSession, now: dt.datetime) -> None:
    """Record activity (for the idle timeout), at most once a minute."""
    if now - row.last_seen_at >= _TOUCH_EVERY:
        row.last_seen_at = now
        await db.execute(update(UserSession).where(UserSession.id == row.id)
                         .values(last_seen_at=now))


async def revoke(db: AsyncSession, key: str) -> None:
    await db.execute(update(UserSession).where(UserSession.key == key,
                                               UserSession.revoked_at.is_(None))
                     .values(revoked_at=utcnow()))


async def revoke_all(db: AsyncSession, kind: SessionKind, user_id: int) -> int:
    """End every session of one user ("log out everywhere", password change, disable)."""
    column = UserSession.staff_id if kind == "staff" else UserSession.portal_user_id
    result = await db.execute(update(UserSession).where(column == user_id,
                                                        UserSession.revoked_at.is_(None))
                              .values(revoked_at=utcnow()))
    return int(getattr(result, "rowcount", 0) or 0)


def set_cookie(response: Response, settings: Settings, kind: SessionKind,
               row: UserSession) -> None:
    response.set_cookie(cookie_name(kind), sign_key(settings, kind, row.key), path="/",
                        httponly=True, secure=settings.https, samesite="lax")


def clear_cookie(response: Response, settings: Settings, kind: SessionKind) -> None:
    response.delete_cookie(cookie_name(kind), path="/", httponly=True,
                           secure=settings.https, samesite="lax")
