"""Re-check open sockets when rights change (an event on ``access_channel``).

The payload may name what changed, to keep the work small:

- ``room_id``: only subscriptions to that room are checked;
- ``conversation_id`` / ``client_id``: only conversation subscriptions;
- ``staff_ids`` / ``portal_user_ids``: only those users' sockets, and their sessions too
  (logged out everywhere, account disabled);
- nothing: every socket of the organisation, sessions included.

A socket whose session ended is closed with ``CLOSE_SESSION_ENDED``; a subscription the
user may no longer read ends with an ``unsubscribed`` frame (reason ``access_revoked``).
The fan-out awaits this before it delivers the next frame from Redis, so a message
published after the change never reaches a removed member.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.chat.access import member_ids_of_rooms
from hub.db.base import utcnow
from hub.db.models import PortalUser, Staff, UserSession
from hub.realtime.connection import Connection, Subscription
from hub.realtime.protocol import CLOSE_SESSION_ENDED
from hub.security import sessions
from hub.security.access import can_see_conversation

if TYPE_CHECKING:
    from hub.realtime.fanout import Fanout


def _ids(payload: dict[str, Any], key: str) -> set[int]:
    value = payload.get(key)
    if not isinstance(value, list):
        return set()
    return {v for v in value if isinstance(v, int)}


def _concerned(conns: list[Connection], payload: dict[str, Any]) -> list[Connection]:
    staff, portal = _ids(payload, "staff_ids"), _ids(payload, "portal_user_ids")
    if not staff and not portal:
        return conns
    return [c for c in conns if c.who.user_id in (staff if c.who.kind == "staff" else portal)]


def _stream_filter(payload: dict[str, Any]) -> str | None:
    """``room:ID``, ``conversation`` or None (all streams) from what the payload names."""
    if isinstance(payload.get("room_id"), int):
        return f"room:{payload['room_id']}"
    if "conversation_id" in payload or "client_id" in payload:
        return "conversation"
    return None


async def recheck_access(fanout: Fanout, org: int, payload: dict[str, Any]) -> None:
    conns = _concerned(list(fanout.orgs.get(org, ())), payload)
    if not conns:
        return
    only = _stream_filter(payload)
    async with fanout.hub.sessions() as db:
        if only is None or _ids(payload, "staff_ids") or _ids(payload, "portal_user_ids"):
            await check_sessions(db, fanout, conns)
        subs = [s for c in conns if c.closing is None for s in c.subs.values()
                if only is None or s.ref.name == only or s.ref.kind == only]
        for sub in await _refused(db, org, subs):
            fanout.revoke(sub, "access_revoked")


async def _refused(db: AsyncSession, org: int, subs: list[Subscription]) -> list[Subscription]:
    rooms = {s.ref.id for s in subs if s.ref.kind == "room"}
    members = await member_ids_of_rooms(db, org, rooms) if rooms else {}
    refused: list[Subscription] = []
    verdicts: dict[tuple[str, int | None, int], bool] = {}
    for sub in subs:
        who = sub.conn.who
        if sub.ref.kind == "room":
            ok = who.kind == "staff" and who.user_id in members.get(sub.ref.id, set())
        else:
            key = (who.kind, who.user_id, sub.ref.id)
            if key not in verdicts:
                verdicts[key] = await can_see_conversation(db, who, sub.ref.id)
            ok = verdicts[key]
        if not ok:
            refused.append(sub)
    return refused


async def check_sessions(db: AsyncSession, fanout: Fanout, conns: list[Connection]) -> None:
    """Close sockets whose session was revoked, expired or whose account was disabled."""
    keys = {c.who.session_key for c in conns if c.who.session_key}
    if not keys:
        return
    rows = {r.key: r for r in (await db.scalars(
        select(UserSession).where(UserSession.key.in_(keys)))).all()}
    inactive = await _inactive_users(db, list(rows.values()))
    now = utcnow()
    for conn in conns:
        row = rows.get(conn.who.session_key or "")
        if (row is None or sessions.problem(row, fanout.settings, now) is not None
                or (row.staff_id or row.portal_user_id) in inactive.get(conn.who.kind, set())):
            conn.drop(CLOSE_SESSION_ENDED)


async def _inactive_users(db: AsyncSession, rows: list[UserSession]) -> dict[str, set[int]]:
    staff_ids = {r.staff_id for r in rows if r.staff_id}
    portal_ids = {r.portal_user_id for r in rows if r.portal_user_id}
    found: dict[str, set[int]] = {"staff": set(), "portal": set()}
    if staff_ids:
        found["staff"] = set((await db.scalars(select(Staff.id).where(
            Staff.id.in_(staff_ids), Staff.active.is_(False)))).all())
    if portal_ids:
        found["portal"] = set((await db.scalars(select(PortalUser.id).where(
            PortalUser.id.in_(portal_ids), PortalUser.active.is_(False)))).all())
    return found
