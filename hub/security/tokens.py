"""API tokens (bearer) for the JSON API: only a SHA-256 hash is stored.

A token is 32 random bytes, so a plain hash is enough (no need for a slow hash: it
cannot be guessed) and a request finds its token by index. The plaintext is shown once,
when the token is made (``hub create-token``); a leaked database leaks no working token.
``hub.security.guards`` looks tokens up by that hash for ``SecureRoute``;
``principal_from_bearer`` does the same inside a caller's own session.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from hub.db.base import utcnow
from hub.db.models import ApiToken
from hub.errors import AuthError
from hub.security.principal import Principal

PREFIX = "zh_"
# last_used_at is a hint for admins, not a log: write it at most this often per token
TOUCH_EVERY = dt.timedelta(seconds=60)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def create_token(session: AsyncSession, organisation_id: int, name: str,
                       created_by_id: int | None = None) -> str:
    """A new token for the organisation; the plaintext is returned once, never stored."""
    token = PREFIX + secrets.token_urlsafe(32)
    session.add(ApiToken(organisation_id=organisation_id, name=name[:120],
                         token_hash=token_hash(token), created_by_id=created_by_id))
    await session.flush()
    return token


async def revoke_token(session: AsyncSession, organisation_id: int, token_id: int) -> bool:
    result = await session.execute(
        update(ApiToken).where(ApiToken.id == token_id,
                               ApiToken.organisation_id == organisation_id,
                               ApiToken.revoked_at.is_(None))
        .values(revoked_at=utcnow()))
    return bool(getattr(result, "rowcount", 0))


def bearer_value(header: str | None) -> str:
    """The token in an ``Authorization: Bearer <token>`` header; AuthError otherwise."""
    scheme, _, value = (header or "").strip().partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise AuthError("API-token ontbreekt (Authorization: Bearer ...)", reason="no_token")
    return value.strip()


async def principal_from_bearer(session: AsyncSession, header: str | None) -> Principal:
    """The API principal of a valid, unrevoked token; AuthError otherwise."""
    token = await session.scalar(select(ApiToken).where(
        ApiToken.token_hash == token_hash(bearer_value(header)),
        ApiToken.revoked_at.is_(None)))
    if token is None:
        raise AuthError("ongeldig of ingetrokken API-token", reason="bad_token")
    touch(token)
    return Principal("api", token.organisation_id, token.id, token.name, "api")


def touch(token: ApiToken) -> None:
    now = utcnow()
    if token.last_used_at is None or now - token.last_used_at > TOUCH_EVERY:
        token.last_used_at = now


async def touch_token(session: AsyncSession, who: Principal) -> None:
    """Note when an API token was last used (at most once a minute per token)."""
    if who.kind != "api" or who.user_id is None:
        return
    now = utcnow()
    await session.execute(update(ApiToken).where(
        ApiToken.id == who.user_id, ApiToken.organisation_id == who.organisation_id,
        or_(ApiToken.last_used_at.is_(None),
            ApiToken.last_used_at < now - TOUCH_EVERY),
    ).values(last_used_at=now))
