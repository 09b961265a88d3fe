"""Housekeeping: expired sessions and used one-time links are removed daily."""

from __future__ import annotations

import datetime as dt
from typing import Any

from arq import cron
from sqlalchemy import delete, or_

from hub.db.base import utcnow
from hub.db.models import OneTimeLink, UserSession
from hub.events import unit_of_work


async def purge_expired(ctx: dict[str, Any]) -> int:
    """Delete sessions and links that can no longer be used. Safe to re-run."""
    hub = ctx["hub"]
    now = utcnow()
    async with unit_of_work(hub.sessions, hub.events) as session:
        a = await session.execute(delete(UserSession).where(
            or_(UserSession.expires_at < now, UserSession.revoked_at.is_not(None))))
        b = await session.execute(delete(OneTimeLink).where(
            OneTimeLink.expires_at < now - dt.timedelta(days=30)))
    return int(a.rowcount or 0) + int(b.rowcount or 0)  # type: ignore[attr-defined]


FUNCTIONS = [purge_expired]
CRON_JOBS = [cron(purge_expired, hour={3}, minute={15}, run_at_startup=True)]
