"""Login failures: counted per account in the database and per address in Redis.

After ``login_max_failures`` failed passwords or codes an account is locked for
``login_lockout_minutes`` (``locked_until``), and so is an address that failed that
often within that time (a Redis counter that expires), however many accounts it tried.
The account counter is in the database because it must survive a Redis restart and is
what an admin unlocks; the address counter is in Redis because it is shared by every
web process and must expire by itself.
"""

from __future__ import annotations

import datetime as dt

from redis.asyncio import Redis

from hub.db.base import utcnow
from hub.db.models import PortalUser, Staff
from hub.settings import Settings

User = Staff | PortalUser


def _address_key(ip: str) -> str:
    return f"hub:loginfail:{ip}"


async def address_locked(redis: Redis, settings: Settings, ip: str) -> bool:
    count = await redis.get(_address_key(ip))
    return count is not None and int(count) >= settings.login_max_failures


async def note_address_failure(redis: Redis, settings: Settings, ip: str) -> bool:
    """Count one failure from ``ip``; True when this one locks the address."""
    key = _address_key(ip)
    async with redis.pipeline(transaction=True) as pipe:
        pipe.incr(key)
        pipe.expire(key, settings.login_lockout_minutes * 60)
        count, _ = await pipe.execute()
    return int(count) == settings.login_max_failures


async def within_limit(redis: Redis, settings: Settings, what: str, ip: str) -> bool:
    """Count one ``what`` (e.g. a reset mail) from ``ip``; False past the limit."""
    key = f"hub:limit:{what}:{ip}"
    async with redis.pipeline(transaction=True) as pipe:
        pipe.incr(key)
        pipe.expire(key, settings.login_lockout_minutes * 60)
        count, _ = await pipe.execute()
    return int(count) <= settings.login_max_failures


def account_locked(user: User, now: dt.datetime | None = None) -> bool:
    return user.locked_until is not None and user.locked_until > (now or utcnow())


def lock_expired(user: User, now: dt.datetime | None = None) -> bool:
    """A lockout that has run out and was not yet cleared (to log the unlock)."""
    return user.locked_until is not None and user.locked_until <= (now or utcnow())


def note_account_failure(user: User, settings: Settings) -> bool:
    """Count one failure on the account; True when this one locks it."""
    user.failed_logins = (user.failed_logins or 0) + 1
    if user.failed_logins >= settings.login_max_failures:
        user.locked_until = utcnow() + dt.timedelta(minutes=settings.login_lockout_minutes)
        user.failed_logins = 0
        return True
    return False


def clear_account(user: User) -> None:
    user.failed_logins = 0
    user.locked_until = None
