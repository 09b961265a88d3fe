"""NEN 7513 audit log: append-only, hash-chained per organisation.

Every read, search, create, change, export and emergency access of client-linked data
calls ``record`` inside the transaction that does the work, so the log line and the
work commit together. Each record stores the previous record's hash and its own hash
over all fields, so changing or deleting a line breaks the chain (``verify_chain``).
``record_many`` writes a page of lines for one principal (an API list, a CSV import) for
the price of one: one chain lock, one read of the last hash, one INSERT.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import hashlib
import json
import logging
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import event as sa_event
from sqlalchemy import insert, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import ORMExecuteState, Session

from hub.db.base import utcnow
from hub.db.models import AuditRecord, Organisation
from hub.errors import Forbidden
from hub.security.principal import Principal, anonymous_principal
from hub.settings import Settings

log = logging.getLogger(__name__)


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


@dataclasses.dataclass(frozen=True)
class Line:
    """One line for ``record_many``: what ``record`` takes besides the principal."""

    event: Event | str
    client_id: int | None = None
    object_ref: str = ""
    outcome: Outcome | str = Outcome.SUCCESS
    detail: str = ""


def record_hash(row: AuditRecord) -> str:
    return values_hash({name: getattr(row, name) for name in _HASHED_FIELDS})


def values_hash(values: Mapping[str, Any]) -> str:
    """The hash of one line from its column values (``prev_hash`` included)."""
    fields = {name: values[name] for name in _HASHED_FIELDS}
    fields["at"] = values["at"].isoformat()
    blob = json.dumps(fields, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def _columns(who: Principal, line: Line, at: dt.datetime) -> dict[str, Any]:
    return {
        "organisation_id": who.organisation_id, "at": at, "event": str(line.event),
        "user_type": who.kind, "user_id": who.user_id, "user_name": who.name,
        "role": who.role, "on_behalf_of": who.on_behalf_of, "client_id": line.client_id,
        "object_ref": line.object_ref, "access_point": who.ip,
        "user_agent": who.user_agent, "outcome": str(line.outcome),
        "detail": line.detail[:2000],
    }


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
    previous = await _last_hash(session, who.organisation_id)
    line = Line(event, client_id, object_ref, outcome, detail)
    row = AuditRecord(**_columns(who, line, utcnow()), prev_hash=previous)
    row.hash = record_hash(row)
    session.add(row)
    await session.flush()
    return row


async def record_many(session: AsyncSession, who: Principal, items: Iterable[Line]) -> int:
    """Append many lines of one principal in the caller's transaction; how many.

    The chain is the same as from as many ``record`` calls: under one chain lock the
    lines are chained here, in order, after the last stored hash, and inserted at once
    with ids in the order of the lines, as ``verify_chain`` reads them.
    """
    at = utcnow()
    rows = [_columns(who, line, at) for line in items]
    if not rows:
        return 0
    await _lock_chain(session, who.organisation_id)
    previous = await _last_hash(session, who.organisation_id)
    for row in rows:
        row["prev_hash"] = previous
        row["hash"] = previous = values_hash(row)
    await _insert_in_order(session, rows)
    return len(rows)


async def _insert_in_order(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """Insert ``rows`` so that their ids ascend in list order (Core: no ORM bookkeeping).

    PostgreSQL: one multi-row INSERT per 1000 rows (SQLAlchemy's "insertmanyvalues");
    ``sort_by_parameter_order`` makes it ``INSERT ... SELECT ... ORDER BY`` the rows'
    position, and the returned ids are checked, so a chain is never committed out of
    order. SQLite: a prepared statement run per row in order inside the driver (no round
    trips there), where ordered RETURNING would fall back to one statement a row.
    """
    connection = await session.connection()
    if connection.dialect.name != "postgresql":
        await connection.execute(insert(AuditRecord), rows)
        return
    ordered = insert(AuditRecord).returning(AuditRecord.id, sort_by_parameter_order=True)
    ids = list((await connection.execute(ordered, rows)).scalars())
    if ids != sorted(ids):
        raise RuntimeError("audit lines got ids out of chain order; rolled back")


async def _last_hash(session: AsyncSession, organisation_id: int) -> str:
    previous = await session.scalar(
        select(AuditRecord.hash).where(AuditRecord.organisation_id == organisation_id)
        .order_by(AuditRecord.id.desc()).limit(1)
    )
    return previous or ""


async def _lock_chain(session: AsyncSession, organisation_id: int) -> None:
    """Serialise writers of one organisation's chain until the transaction ends.

    Two writers that read the same last hash would fork the chain. PostgreSQL: an
    advisory lock. SQLite: nothing to do, every transaction already holds the one write
    lock from its start (``BEGIN IMMEDIATE``, see ``hub.db.engine``).
    """
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


async def record_anonymous(
    session: AsyncSession, settings: Settings, organisation_id: int | None,
    event: Event | str, *, ip: str, user_agent: str, detail: str,
    outcome: Outcome | str = Outcome.DENIED,
) -> AuditRecord | None:
    """Audit someone not signed in (bad password, forged cookie) in an organisation's chain.

    When the organisation is unknown (a forged cookie names none) the line goes to the
    default organisation, the single tenant of most installations.
    """
    org = organisation_id or await session.scalar(
        select(Organisation.id).where(Organisation.slug == settings.default_org_slug))
    if org is None:
        log.warning("not audited (no organisation): %s %s from %s", event, detail, ip)
        return None
    who = anonymous_principal(org, ip, user_agent)
    return await record(session, who, event, outcome=outcome, detail=detail)


class AuditLogIsAppendOnly(Forbidden):
    code = "audit_append_only"


@sa_event.listens_for(Session, "do_orm_execute")
def _refuse_bulk_changes(state: ORMExecuteState) -> None:
    """No UPDATE or DELETE statement on the audit log through the application."""
    if (state.is_update or state.is_delete) and _targets_audit(state):
        raise AuditLogIsAppendOnly("Het auditlog kan niet worden gewijzigd.")


def _targets_audit(state: ORMExecuteState) -> bool:
    table = getattr(state.statement, "table", None)
    return getattr(table, "name", None) == AuditRecord.__tablename__


@sa_event.listens_for(AuditRecord, "before_update")
@sa_event.listens_for(AuditRecord, "before_delete")
def _refuse_row_changes(mapper: Any, connection: Any, target: AuditRecord) -> None:
    raise AuditLogIsAppendOnly("Het auditlog kan niet worden gewijzigd.")
