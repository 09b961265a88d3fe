"""NEN 7513 audit log: append-only, hash-chained per organisation.

Every read, search, create, change, export and emergency access of client-linked data
calls ``record`` inside the transaction that does the work, so the log line and the
work commit together. Each record stores the previous record's hash and its own hash
over all fields, so changing or deleting a line breaks the chain (``verify_chain``).
"""

from __future__ import annotations

import enum
import hashlib
import json

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from hub.db.base import utcnow
from hub.db.models import AuditRecord
from hub.security.principal import Principal


class Event(enum.StrEnum):
    READ = "read"
    SEARCH = "search"
    CREATE = "create"
    CHANGE = "change"
    DELETE = "delete"
    EXPORT = "export"
    EMERGENCY_ACCESS = "emergency_access"
    LOGIN = "login"
    LOGOUT = "logout"
    LOCKOUT = "lockout"
    UNLOCK = "unlock"
    DENIED = "denied"


class Outcome(enum.StrEnum):
    SUCCESS = "success"
    DENIED = "denied"
    FAILED = "failed"


_HASHED_FIELDS = (
    "organisation_id", "at", "event", "user_type", "user_id", "user_name", "role",
    "on_behalf_of", "client_id", "object_ref", "access_point", "user_agent", "outcome",
    "detail", "prev_hash",
)


def record_hash(row: AuditRecord) -> str:
    values = {name: getattr(row, name) for name in _HASHED_FIELDS}
    values["at"] = row.at.isoformat()
    blob = json.dumps(values, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


async def record(
    session: AsyncSession,
    who: Principal,
    event: Event | str,
    *,
    client_id: int | None = None,
    object_ref: str = "",
    outcome: Outcome | str = Outcome.SUCCESS,
    detail: str = "",
) -> AuditRecord:
    """Append one audit line in the caller's transaction."""
    await _lock_chain(session, who.organisation_id)
    previous = await session.scalar(
        select(AuditRecord.hash).where(AuditRecord.organisation_id == who.organisation_id)
        .order_by(AuditRecord.id.desc()).limit(1)
    )
    row = AuditRecord(
        organisation_id=who.organisation_id, at=utcnow(), event=str(event),
        user_type=who.kind, user_id=who.user_id, user_name=who.name, role=who.role,
        on_behalf_of=who.on_behalf_of, client_id=client_id, object_ref=object_ref,
        access_point=who.ip, user_agent=who.user_agent, outcome=str(outcome),
        detail=detail[:2000], prev_hash=previous or "",
    )
    row.hash = record_hash(row)
    session.add(row)
    await session.flush()
    return row


async def _lock_chain(session: AsyncSession, organisation_id: int) -> None:
    """Serialise writers of one organisation's chain (SQLite serialises writers anyway)."""
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(text("SELECT pg_advisory_xact_lock(7513, :org)"),
                              {"org": organisation_id})


async def verify_chain(session: AsyncSession, organisation_id: int) -> int | None:
    """The id of the first record whose hash or link is wrong, or None when intact."""
    previous = ""
    rows = await session.stream_scalars(
        select(AuditRecord).where(AuditRecord.organisation_id == organisation_id)
        .order_by(AuditRecord.id)
    )
    async for row in rows:
        if row.prev_hash != previous or row.hash != record_hash(row):
            return row.id
        previous = row.hash
    return None
