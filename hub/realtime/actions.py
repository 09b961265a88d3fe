"""What each client frame does: subscribe, send, edit, delete, read, typing, presence.

Rights are checked by the services (``hub.chat``, ``hub.realtime.conversations``) in the
transaction that does the work; events leave after commit through ``unit_of_work``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import bindparam, delete, select, update

from hub.chat import messages as chat
from hub.db.base import utcnow
from hub.db.models import PushSubscription, ReadMarker, RoomMember, UserSession
from hub.events import unit_of_work
from hub.realtime import conversations, inbox, notify, streams, webpush
from hub.realtime import protocol as p
from hub.realtime.connection import PAGE, RATE_WINDOW_SECONDS, Connection, Subscription
from hub.realtime.fanout import Fanout
from hub.realtime.notify import Audience
from hub.realtime.protocol import FrameError, StreamRef
from hub.resources import Resources
from hub.security.principal import Principal

log = logging.getLogger(__name__)
MAX_SUBSCRIPTIONS = 200
TYPING_EVERY_SECONDS = 2.0
TOUCH_SESSION_EVERY = 60.0


class Actions:
    """The frames of one socket; a method per client frame type (``protocol.CLIENT_TYPES``)."""

    __slots__ = ("conn", "fanout", "hub", "touched")

    def __init__(self, hub: Resources, fanout: Fanout) -> None:
        self.hub = hub
        self.fanout = fanout
        self.conn: Connection = None  # type: ignore[assignment]  # set right after
        self.touched = time.monotonic()

    @property
    def who(self) -> Principal:
        return self.conn.who

    async def run(self, frame: dict[str, Any]) -> None:
        kind = frame["type"]
        if kind != "ping":
            await self._touch_session()
        # ``protocol.decode`` admits only CLIENT_TYPES, and each is a method of this class
        handler: Callable[[dict[str, Any]], Awaitable[None]] = getattr(self, kind)
        await handler(frame)

    def hello(self) -> dict[str, Any]:
        settings = self.hub.settings
        return {"type": "hello", "user": {"kind": self.who.kind, "id": self.who.user_id,
                                          "name": self.who.name},
                "heartbeat": settings.ws_heartbeat_seconds,
                "max_frame_bytes": settings.ws_max_frame_bytes,
                "rate_limit": {"frames": settings.ws_rate_limit,
                               "seconds": RATE_WINDOW_SECONDS},
                "vapid_public_key": self.fanout.vapid_public_key()}

    # --- subscriptions --------------------------------------------------------------

    async def subscribe(self, frame: dict[str, Any]) -> None:
        if frame.get("stream") == "presence":
            await self._subscribe_presence()
            return
        if frame.get("stream") == "inbox":
            await self._subscribe_inbox(frame)
            return
        ref = p.stream_of(frame)
        after = p.seq_of(frame, "after", optional=True)
        self._forget(ref.name)
        if len(self.conn.subs) >= MAX_SUBSCRIPTIONS:
            raise FrameError(p.INVALID_INPUT, "too many subscriptions", stream=ref.name)
        sub = Subscription(self.conn, ref, streams.channel_of(self.who.organisation_id, ref),
                           after or 0)
        # watch before the check: a rights change from now on re-checks this subscription
        self.conn.subs[ref.name] = sub
        await self.fanout.watch(sub)
        opened = await self._open(ref, after)
        if opened is None:
            self._forget(ref.name)
            raise FrameError(p.NOT_ALLOWED, "no access to this stream", stream=ref.name)
        start, last_seq, reads, page = opened
        sub.cursor = start
        self.conn.send({"type": "subscribed", "stream": ref.name, "after": start,
                        "last_seq": last_seq, "reads": reads})
        self.conn.begin_sync(sub, page)

    async def _open(self, ref: StreamRef, after: int | None
                    ) -> tuple[int, int, list[dict[str, Any]], streams.Page] | None:
        """One trip to the database for a subscribe: rights and first page in one
        statement (``streams.read``), the audit line, the read receipts."""
        async with self.hub.sessions() as db, db.begin():
            start = after if after is not None else max(
                0, await streams.last_seq_of(db, ref) - streams.DEFAULT_BACKLOG)
            page = await streams.read(db, self.who, ref, start, PAGE)
            await streams.audit_opened(db, self.who, ref, page)
            if page is None:
                return None
            if start > page.last_seq:  # the client claims more than there is (a backup)
                start, page = page.last_seq, streams.Page([], page.last_seq, False,
                                                          page.last_seq)
            return start, page.last_seq, await _reads(db, ref), page

    async def _subscribe_presence(self) -> None:
        if self.who.kind != "staff":
            raise FrameError(p.NOT_ALLOWED, "presence is for staff", stream="presence")
        await self.fanout.watch_presence(self.conn)
        users = await self.fanout.presence.snapshot(self.who.organisation_id)
        self.conn.send({"type": "presence_snapshot", "users": users})

    async def _subscribe_inbox(self, frame: dict[str, Any]) -> None:
        if self.who.kind != "staff":
            raise FrameError(p.NOT_ALLOWED, "the inbox is for staff", stream="inbox",
                             ref=p.ref_of(frame))
        if self.conn.inbox is None:
            await inbox.open_inbox(self.hub, self.who)
        await self.fanout.watch_inbox(self.conn)
        self.conn.send({"type": "subscribed", "stream": "inbox"})
        self.conn.send({"type": "ack", "stream": "inbox", **_ref(frame)})

    async def unsubscribe(self, frame: dict[str, Any]) -> None:
        if frame.get("stream") == "inbox":
            if not self.fanout.unwatch_inbox(self.conn):
                raise FrameError(p.NOT_SUBSCRIBED, "not subscribed", stream="inbox")
            self.conn.send({"type": "unsubscribed", "stream": "inbox", "reason": "client"})
            return
        ref = p.stream_of(frame)
        if not self._forget(ref.name):
            raise FrameError(p.NOT_SUBSCRIBED, "not subscribed", stream=ref.name)
        self.conn.send({"type": "unsubscribed", "stream": ref.name, "reason": "client"})

    def _forget(self, name: str) -> bool:
        sub = self.conn.subs.pop(name, None)
        if sub is not None:
            self.fanout.unwatch(sub)
        return sub is not None

    async def fetch(self, sub: Subscription, after: int) -> tuple[list[tuple[int, str]],
                                                                   int, bool]:
        """A page of the stream after ``after`` (``Connection.resync`` reads with this)."""
        async with self.hub.sessions() as db:
            page = await streams.read(db, self.who, sub.ref, after, PAGE)
        if page is None:  # rights gone since the subscribe: the same as a re-check finding it
            self.fanout.revoke(sub, "access_revoked")
            return [], after, False
        return page.frames, page.cursor, page.more

    # --- writing --------------------------------------------------------------------

    async def send(self, frame: dict[str, Any]) -> None:
        ref = p.stream_of(frame)
        client_message_id = p.client_message_id_of(frame)
        body = p.body_of(frame)
        async with unit_of_work(self.hub.sessions, self.hub.events) as db:
            if ref.kind == "room":
                posted = await chat.post_message(db, self.who, ref.id, client_message_id,
                                                 body, p.mentions_of(frame))
                message_id, seq, created = posted.message.id, posted.message.seq, posted.created
                recipients = Audience(staff=posted.recipients)
            else:
                message, created, recipients = await conversations.send(
                    db, self.who, ref.id, client_message_id, body)
                message_id, seq = message.id, message.seq
            if created and recipients:
                await notify.plan(db, self.hub.settings, self.fanout.presence,
                                  self.who.organisation_id, recipients, ref.name, seq)
        self.conn.send({"type": "ack", "stream": ref.name, "client_message_id": client_message_id,
                        "seq": seq, "id": message_id, "duplicate": not created,
                        **_ref(frame)})

    async def edit(self, frame: dict[str, Any]) -> None:
        await self._change(frame, lambda db, room, seq: chat.edit_message(
            db, self.who, room, seq, p.body_of(frame)))

    async def delete(self, frame: dict[str, Any]) -> None:
        await self._change(frame, lambda db, room, seq: chat.delete_message(
            db, self.who, room, seq))

    async def _change(self, frame: dict[str, Any], work: Any) -> None:
        ref = p.stream_of(frame)
        if ref.kind != "room":
            raise FrameError(p.INVALID_INPUT, "only chat messages can be changed",
                             ref=p.ref_of(frame), stream=ref.name)
        seq = p.seq_of(frame, "seq")
        async with unit_of_work(self.hub.sessions, self.hub.events) as db:
            message = await work(db, ref.id, seq)
        self.conn.send({"type": "ack", "stream": ref.name, "seq": message.changed_seq,
                        "id": message.id, **_ref(frame)})

    async def read(self, frame: dict[str, Any]) -> None:
        ref = p.stream_of(frame)
        seq = p.seq_of(frame, "seq")
        assert seq is not None and self.who.user_id is not None
        async with unit_of_work(self.hub.sessions, self.hub.events) as db:
            if ref.kind == "room":
                position = await chat.mark_read(db, self.who, ref.id, seq)
            elif self.who.kind == "portal":  # the page's path: staff replies become "read"
                position = await conversations.portal_read(db, self.who, ref.id, seq)
            else:
                position = await conversations.mark_read(db, self.who, ref.id, seq)
            await notify.cancel_read(db, self.who.kind, self.who.user_id, ref.name, position)
        self.conn.send({"type": "ack", "stream": ref.name, "seq": position, **_ref(frame)})

    # --- ephemeral ------------------------------------------------------------------

    async def typing(self, frame: dict[str, Any]) -> None:
        ref = p.stream_of(frame)
        sub = self.conn.subs.get(ref.name)
        if sub is None:
            raise FrameError(p.NOT_SUBSCRIBED, "subscribe before typing", stream=ref.name)
        now = time.monotonic()
        throttle = self.conn.throttle = self.conn.throttle or {}
        if now - throttle.get(ref.name, 0.0) < TYPING_EVERY_SECONDS:
            return  # at most one typing event per stream every two seconds
        throttle[ref.name] = now
        await self.hub.redis.publish(sub.channel, p.encode({
            "type": "typing", "stream": ref.name,
            "user": {"kind": self.who.kind, "id": self.who.user_id, "name": self.who.name}}))

    async def presence(self, frame: dict[str, Any]) -> None:
        state = frame.get("state")
        if state not in p.PRESENCE_STATES:
            raise FrameError(p.INVALID_INPUT, "state must be online or away")
        await self.set_presence(str(state))

    async def set_presence(self, state: str) -> None:
        self.conn.presence = state
        self.conn.presence_id = self.conn.presence_id or self.fanout.connection_id()
        try:
            await self.fanout.presence.update(self.who.organisation_id, self.conn.key,
                                           self.conn.presence_id, state, self.who.name)
        except Exception:  # boundary: presence is best effort; messages do not depend on it
            log.warning("presence not updated", exc_info=True)

    def forget_presence(self) -> None:
        if self.conn.presence_id:
            self.fanout.spawn(self.fanout.presence.update(
                self.who.organisation_id, self.conn.key, self.conn.presence_id, ""))

    async def ping(self, frame: dict[str, Any]) -> None:
        self.conn.send({"type": "pong", **_ref(frame)})

    async def push_subscribe(self, frame: dict[str, Any]) -> None:
        endpoint, keys = webpush.check_subscription(frame.get("subscription"))
        column = (PushSubscription.staff_id if self.who.kind == "staff"
                  else PushSubscription.portal_user_id)
        async with unit_of_work(self.hub.sessions, self.hub.events) as db:
            await db.execute(delete(PushSubscription).where(
                PushSubscription.endpoint == endpoint, column == self.who.user_id))
            db.add(PushSubscription(
                organisation_id=self.who.organisation_id, endpoint=endpoint, keys=keys,
                staff_id=self.who.user_id if self.who.kind == "staff" else None,
                portal_user_id=self.who.user_id if self.who.kind == "portal" else None))
        self.conn.send({"type": "ack", **_ref(frame)})

    async def _touch_session(self) -> None:
        """Chatting is activity: keep the session's idle timer going (once a minute)."""
        key = self.who.session_key
        if key is None or time.monotonic() - self.touched < TOUCH_SESSION_EVERY:
            return
        self.touched = time.monotonic()
        async with self.hub.sessions() as db, db.begin():
            await db.execute(update(UserSession).where(
                UserSession.key == key, UserSession.revoked_at.is_(None))
                .values(last_seen_at=utcnow()))


def _ref(frame: dict[str, Any]) -> dict[str, Any]:
    ref = p.ref_of(frame)
    return {"ref": ref} if ref is not None else {}


_ROOM_READS = select(RoomMember.staff_id, RoomMember.last_read_seq).where(
    RoomMember.room_id == bindparam("stream_id"), RoomMember.last_read_seq > 0)
_CONVERSATION_READS = select(
    ReadMarker.staff_id, ReadMarker.portal_user_id, ReadMarker.last_read_seq).where(
    ReadMarker.conversation_id == bindparam("stream_id"), ReadMarker.last_read_seq > 0)


async def _reads(db: Any, ref: StreamRef) -> list[dict[str, Any]]:
    """Everyone's read position in the stream, for read receipts after (re)subscribing.
    (The statements are built once: see ``streams._room_read``.)"""
    if ref.kind == "room":
        rows = await db.execute(_ROOM_READS, {"stream_id": ref.id})
        return [{"user": f"staff:{s}", "seq": q} for s, q in rows.all()]
    rows = await db.execute(_CONVERSATION_READS, {"stream_id": ref.id})
    return [{"user": f"staff:{s}" if s else f"portal:{u}", "seq": q} for s, u, q in rows.all()]
