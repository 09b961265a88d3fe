"""Invitation and password-reset links: a random token in the URL, its hash in the table.

A link works once and until ``invite_valid_hours`` after it was made. Using it is one
conditional UPDATE (``used_at IS NULL``), so two clicks racing cannot both succeed. A new
link for the same person and purpose retires the older ones.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import secrets
from typing import Literal

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from hub.db.base import utcnow
from hub.db.models import OneTimeLink
from hub.settings import Settings

Purpose = Literal["invite", "reset"]


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclasses.dataclass(frozen=True)
class Holder:
    """Whose link: a staff member or a portal user."""

    kind: Literal["staff", "portal"]
    user_id: int
    organisation_id: int


async def create(db: AsyncSession, settings: Settings, holder: Holder,
                 purpose: Purpose) -> str:
    """A new link token (shown once, in the mail); older unused ones stop working."""
    await _retire(db, holder, purpose)
    token = secrets.token_urlsafe(32)
    db.add(OneTimeLink(
        organisation_id=holder.organisation_id, purpose=purpose, token_hash=_hash(token),
        staff_id=holder.user_id if holder.kind == "staff" else None,
        portal_user_id=holder.user_id if holder.kind == "portal" else None,
        expires_at=utcnow() + dt.timedelta(hours=settings.invite_valid_hours),
    ))
    await db.flush()
    return token


async def _retire(db: AsyncSession, holder: Holder, purpose: Purpose) -> None:
    column = OneTimeLink.staff_id if holder.kind == "staff" else OneTimeLink.portal_user_id
    await db.execute(update(OneTimeLink).where(
        column == holder.user_id, OneTimeLink.purpose == purpose,
        OneTimeLink.used_at.is_(None)).values(used_at=utcnow()))


@dataclasses.dataclass(frozen=True)
class Found:
    link: OneTimeLink | None
    # "", "unknown", "used" or "expired"
    problem: str

    @property
    def holder(self) -> Holder | None:
        link = self.link
        if link is None:
            return None
        if link.staff_id is not None:
            return Holder("staff", link.staff_id, link.organisation_id)
        assert link.portal_user_id is not None
        return Holder("portal", link.portal_user_id, link.organisation_id)


async def find(db: AsyncSession, token: str, purpose: Purpose,
               kind: Literal["staff", "portal"]) -> Found:
    link = await db.scalar(select(OneTimeLink).where(
        OneTimeLink.token_hash == _hash(token), OneTimeLink.purpose == purpose))
    if link is None or (link.staff_id is None) == (kind == "staff"):
        return Found(None, "unknown")
    if link.used_at is not None:
        return Found(link, "used")
    if link.expires_at <= utcnow():
        return Found(link, "expired")
    return Found(link, "")


async def use(db: AsyncSession, link: OneTimeLink) -> bool:
    """Mark the link used; False when another request used it first."""
    result = await db.execute(update(OneTimeLink).where(
        OneTimeLink.id == link.id, OneTimeLink.used_at.is_(None)).values(used_at=utcnow()))
    return bool(getattr(result, "rowcount", 0))
