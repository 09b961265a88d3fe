"""The ``inbox`` stream: conversation list changes for a staff member's open inbox.

One subscription per socket instead of one per listed conversation. The organisation's
inbox channel carries every change; a socket gets only those of conversations its
principal may see (``hub.security.access``): unlinked ones, and those of clients in its
set of visible client ids. That set is read once per socket and read again when rights
change (the access channel) or after ``VISIBLE_FOR_SECONDS`` (care relationships end
by date, emergency access expires), so a busy inbox costs no query per event.

Frames carry ids and state only (no subject, preview or message text): the page fetches
the rows it shows from the server, which checks and audits as always.
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from hub.realtime.protocol import encode
from hub.security import audit
from hub.security.access import visible_client_ids
from hub.security.principal import Principal

if TYPE_CHECKING:
    from hub.realtime.connection import Connection
    from hub.resources import Resources

VISIBLE_FOR_SECONDS = 60.0
# what an inbox frame may carry: ids and state, no content
FIELDS = ("type", "change", "conversation_id", "client_id", "status", "snoozed_until",
          "assignee_staff_id", "assignee_team_id", "version", "last_seq", "seq")
FORWARDED = frozenset({"conversation_updated"})


class InboxView:
    """One socket's inbox stream: the client ids its principal may see, when read."""

    __slots__ = ("clients", "read_at")

    def __init__(self) -> None:
        self.clients: frozenset[int] | None = None
        self.read_at = 0.0

    def stale(self) -> bool:
        return self.clients is None or time.monotonic() - self.read_at > VISIBLE_FOR_SECONDS

    def forget(self) -> None:
        self.clients = None


async def open_inbox(hub: Resources, who: Principal) -> None:
    """One audit line per opened inbox stream (it names no client; rows are audited
    when the page fetches them)."""
    async with hub.sessions() as db, db.begin():
        await audit.record(db, who, audit.Event.READ, object_ref="inbox",
                           detail="live inbox geopend")


async def _refresh(hub: Resources, who: Principal, view: InboxView) -> frozenset[int]:
    async with hub.sessions() as db:
        rows = await db.scalars(select(visible_client_ids(who).subquery().c[0]))
        view.clients = frozenset(int(c) for c in rows.all() if c is not None)
    view.read_at = time.monotonic()
    return view.clients


def outgoing(text: str) -> tuple[dict[str, Any], str] | None:
    """The frame to forward (decoded, and trimmed to ``FIELDS``), or None."""
    payload = json.loads(text)
    if payload.get("type") not in FORWARDED:
        return None
    frame = {k: payload[k] for k in FIELDS if k in payload}
    frame["stream"] = "inbox"
    return payload, encode(frame)


async def forward(hub: Resources, conns: list[Connection], text: str) -> None:
    """Hand an inbox channel event to the sockets whose principal may see it."""
    decoded = outgoing(text)
    if decoded is None:
        return
    payload, frame = decoded
    client_id = payload.get("client_id")
    for conn in conns:
        view = conn.inbox
        if view is None or conn.closing is not None:
            continue
        if client_id is None and conn.who.kind == "staff":
            conn.push(frame)  # unlinked: every colleague triages them
            continue
        clients = await _refresh(hub, conn.who, view) if view.stale() else view.clients
        if clients is not None and client_id in clients:
            conn.push(frame)


def resync(conn: Connection) -> None:
    """Redis was away (changes may be lost): read rights again, and tell the page to
    reload its list (``change: resync``, no conversation)."""
    if conn.inbox is not None:
        conn.inbox.forget()
        conn.send({"type": "conversation_updated", "stream": "inbox", "change": "resync"})
