"""Offline notifications: planned when a message is stored, sent later by a job.

When a recipient has no open socket, a ``PendingNotification`` is stored in the same
transaction as the message and one arq job per message is enqueued after commit,
deferred by ``notify_delay_seconds``; ``workers.notify`` sends each (web push, else
email) unless the recipient read the message first. A recipient with a notification
still pending for the same stream gets no second one. The text never carries client
details (invariant 6): only that there is something new, and a link.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections.abc import Collection
from typing import Any, NamedTuple

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from hub.db.base import utcnow
from hub.db.models import PendingNotification
from hub.events import enqueue
from hub.realtime.presence import Presence
from hub.settings import Settings

log = logging.getLogger(__name__)
JOB = "send_notifications"
# rows per INSERT (8 parameters each, well under either database's limit)
INSERT_BATCH = 500


class Recipient(NamedTuple):
    """Someone to notify."""

    kind: str  # staff or portal
    id: int

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.id}"


def link_for(settings: Settings, kind: str, stream: str) -> str:
    """Where a notification leads: the room, or the conversation in the app or portal."""
    base = settings.base_url.rstrip("/")
    stream_kind, _, stream_id = stream.partition(":")
    if kind == "portal":
        return f"{base}/portal/conversations/{stream_id}"
    if stream_kind == "room":
        return f"{base}/app/chat/{stream_id}"
    return f"{base}/app/conversations/{stream_id}"


def _column(kind: str) -> str:
    return "staff_id" if kind == "staff" else "portal_user_id"


@dataclasses.dataclass(frozen=True)
class Audience:
    """Who a new message is for, by id (a room's are all its members but the sender:
    they become ``Recipient``s only when offline)."""

    staff: Collection[int] = ()
    portal: Collection[int] = ()

    def __bool__(self) -> bool:
        return bool(self.staff) or bool(self.portal)


async def _offline(presence: Presence, org: int, audience: Audience) -> list[Recipient]:
    offline: list[Recipient] = []
    for kind, ids in (("staff", audience.staff), ("portal", audience.portal)):
        if not ids:
            continue
        try:
            online = await presence.online_ids(org, kind, ids)
        except Exception:  # boundary: without Redis, plan for everyone; the job checks reads
            log.warning("presence unknown; planning notifications for all", exc_info=True)
            online = set()
        offline += [Recipient(kind, i) for i in ids if i not in online]
    return offline


async def plan(db: AsyncSession, settings: Settings, presence: Presence, org: int,
               audience: Audience, stream: str, seq: int) -> list[int]:
    """Plan notifications for the offline part of ``audience`` of message ``seq``.

    A bounded number of statements, however many are offline (a room of a hundred
    colleagues, most of them off duty): one read of what is still pending for the
    stream (who has one gets no second), one insert of the new rows, and one deferred
    job that sends them all."""
    offline = await _offline(presence, org, audience)
    if not offline:
        return []
    pending = await db.execute(select(
        PendingNotification.staff_id, PendingNotification.portal_user_id).where(
        PendingNotification.stream == stream, PendingNotification.sent_at.is_(None),
        PendingNotification.cancelled_at.is_(None)))
    waiting = {Recipient("staff" if s else "portal", s or p or 0) for s, p in pending}
    due = utcnow() + dt.timedelta(seconds=settings.notify_delay_seconds)
    rows = [{"organisation_id": org, "dedupe_key": f"{stream}:seq:{seq}:{r.key}",
             "stream": stream, "seq": seq, "link": link_for(settings, r.kind, stream),
             "due_at": due, "staff_id": r.id if r.kind == "staff" else None,
             "portal_user_id": r.id if r.kind == "portal" else None}
            for r in offline if r not in waiting]
    planned: list[int] = []
    for start in range(0, len(rows), INSERT_BATCH):
        planned += await _insert(db, rows[start:start + INSERT_BATCH])
    if planned:
        enqueue(db, JOB, planned, job_id=f"notify:{stream}:seq:{seq}",
                defer_by=float(settings.notify_delay_seconds))
    return planned


async def _insert(db: AsyncSession, rows: list[dict[str, Any]]) -> list[int]:
    """Insert ``rows``; one planned already (same message and recipient) is left out."""
    connection = await db.connection()
    dialect_insert = pg_insert if connection.dialect.name == "postgresql" else sqlite_insert
    statement = (dialect_insert(PendingNotification).values(rows)
                 .on_conflict_do_nothing(index_elements=["dedupe_key"])
                 .returning(PendingNotification.id))
    return [int(i) for i in (await db.scalars(statement)).all()]


async def cancel_read(db: AsyncSession, kind: str, user_id: int, stream: str,
                      seq: int) -> int:
    """The recipient read up to ``seq``: what is pending for it is not sent."""
    column = getattr(PendingNotification, _column(kind))
    result = await db.execute(update(PendingNotification).where(
        PendingNotification.stream == stream, column == user_id,
        PendingNotification.seq <= seq, PendingNotification.sent_at.is_(None),
        PendingNotification.cancelled_at.is_(None)).values(cancelled_at=utcnow()))
    return int(getattr(result, "rowcount", 0) or 0)
