"""The fan-out's periodic work, one task per process (no timer per socket):

- close sockets that have been silent for three heartbeats (``CLOSE_HEARTBEAT``);
- refresh the presence of live sockets and expire the entries of dead processes;
- unsubscribe Redis channels no local socket watches any more;
- the watchdog: a subscriber still behind a stream's last sequence number as the
  database showed it one heartbeat ago missed a publish; it resyncs;
- every minute, re-check the sessions of all sockets (expired, revoked, disabled).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING

from sqlalchemy import select

from hub.db.models import Conversation, Room
from hub.realtime.protocol import CLOSE_HEARTBEAT
from hub.realtime.recheck import check_sessions

if TYPE_CHECKING:
    from hub.realtime.fanout import Fanout

log = logging.getLogger(__name__)
SESSION_CHECK_SECONDS = 60.0


class Schedule:
    def __init__(self, heartbeat: float) -> None:
        self.heartbeat = heartbeat
        self.last: dict[str, float] = {}

    def due(self, name: str, every: float) -> bool:
        now = time.monotonic()
        if now - self.last.get(name, now - every) < every:
            return False
        self.last[name] = now
        return True


async def run(fanout: Fanout) -> None:
    heartbeat = fanout.settings.ws_heartbeat_seconds
    schedule = Schedule(heartbeat)
    marks: dict[str, int] = {}
    while True:
        await asyncio.sleep(max(0.1, min(heartbeat / 2, 1.0)))
        try:
            await tick(fanout, schedule, marks)
        except asyncio.CancelledError:
            raise
        except Exception:  # boundary: housekeeping must outlive a Redis or database hiccup
            log.warning("realtime housekeeping failed", exc_info=True)


async def tick(fanout: Fanout, schedule: Schedule, marks: dict[str, int]) -> None:
    close_silent(fanout, schedule.heartbeat)
    await fanout.drop_unwanted()
    if schedule.due("presence", schedule.heartbeat):
        await fanout.presence.refresh(
            (c.who.organisation_id, c.key, c.presence_id) for c in fanout.all_connections()
            if c.presence_id)
        await fanout.presence.expire()
    if schedule.due("watchdog", schedule.heartbeat):
        await watchdog(fanout, marks)
    if schedule.due("sessions", SESSION_CHECK_SECONDS):
        await check_all_sessions(fanout)


def close_silent(fanout: Fanout, heartbeat: float) -> None:
    limit = time.monotonic() - 3 * heartbeat
    for conn in fanout.all_connections():
        if conn.last_heard < limit:
            conn.drop(CLOSE_HEARTBEAT)


async def watchdog(fanout: Fanout, marks: dict[str, int]) -> None:
    """Resync subscribers behind what the database showed a heartbeat ago."""
    subs = [s for c in fanout.all_connections() for s in c.subs.values()]
    for sub in subs:
        mark = marks.get(sub.channel)
        if mark is not None and sub.cursor < mark and not sub.syncing:
            log.info("watchdog: %s behind (%d < %d); resyncing", sub.ref.name, sub.cursor,
                     mark)
            sub.conn.resync(sub)
    marks.clear()
    marks.update(await last_seqs(fanout, {s.channel: s for s in subs}))


async def last_seqs(fanout: Fanout, by_channel: dict[str, object]) -> dict[str, int]:
    from hub.realtime.connection import Subscription

    rooms: dict[int, str] = {}
    conversations: dict[int, str] = {}
    for channel, sub in by_channel.items():
        assert isinstance(sub, Subscription)
        (rooms if sub.ref.kind == "room" else conversations)[sub.ref.id] = channel
    found: dict[str, int] = {}
    async with fanout.hub.sessions() as db:
        for model, ids in ((Room, rooms), (Conversation, conversations)):
            if ids:
                rows = await db.execute(select(model.id, model.last_seq).where(
                    model.id.in_(list(ids))))
                found.update({ids[i]: int(s) for i, s in rows.all()})
    return found


async def check_all_sessions(fanout: Fanout) -> None:
    async with fanout.hub.sessions() as db:
        await check_sessions(db, fanout, fanout.all_connections())
