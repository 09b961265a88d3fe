"""Per-process fan-out: one Redis pub/sub connection, subscribed only to what local
sockets watch, delivering each published frame to the local subscribers.

Every process subscribes to the stream channels its sockets watch, to the access channel
of every organisation it has sockets of, and to the presence channel when a staff socket
asked for presence. A frame from Redis is decoded once and handed to every subscriber
(``Connection.deliver`` decides per socket: duplicate, next in line, or a gap).

Pub/sub is at-most-once, so losing Redis loses frames: after a reconnect every
subscription re-reads its gap from the database and every socket's rights are checked
again (the access events of the outage are lost too). A watchdog compares each watched
stream's last sequence number in the database with the subscribers' cursors, which
also catches a publish that failed after a commit on another process.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import time
import uuid
from typing import Any

from redis.asyncio.client import PubSub

from hub.realtime import housekeeping, inbox, webpush
from hub.realtime.connection import Connection, Subscription
from hub.realtime.presence import Presence
from hub.realtime.recheck import recheck_access
from hub.realtime.streams import hidden_for
from hub.realtime.topics import access_channel, inbox_channel, presence_channel
from hub.realtime.wire import text_frame
from hub.resources import Resources

log = logging.getLogger(__name__)
# how long a subscribe waits for Redis to confirm before it goes on regardless
CONFIRM_SECONDS = 2.0
READ_TIMEOUT = 1.0
# frames that take a place in a stream's sequence (the rest, typing and read, do not)
SEQUENCED = frozenset({"message", "message_edited", "message_deleted"})


class Fanout:
    def __init__(self, hub: Resources) -> None:
        self.hub = hub
        self.settings = hub.settings
        self.process_id = uuid.uuid4().hex[:12]
        self.control = f"hub:process:{self.process_id}"
        self.channels: dict[str, set[Subscription]] = {}
        self.orgs: dict[int, set[Connection]] = {}
        self.presence_watchers: dict[int, set[Connection]] = {}
        self.inbox_watchers: dict[int, set[Connection]] = {}
        self.wanted: set[str] = {self.control}
        self.confirmed: set[str] = set()
        self.waiters: dict[str, asyncio.Future[bool]] = {}
        self.pubsub: PubSub | None = None
        self.lock = asyncio.Lock()
        self.connected = False
        self.sessions_seen = 0
        self.presence = Presence(hub.redis, hub.settings.ws_heartbeat_seconds)
        self.tasks: list[asyncio.Task[None]] = []
        self._ids = itertools.count(1)
        self._vapid: str | None = None
        self.background: set[asyncio.Task[Any]] = set()

    # --- lifecycle ------------------------------------------------------------------

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self.tasks = [loop.create_task(self._run_reader()),
                      loop.create_task(housekeeping.run(self))]

    async def stop(self) -> None:
        for conns in list(self.orgs.values()):
            for conn in list(conns):
                conn.drop(1001)
        for task in self.tasks:
            task.cancel()
        for task in self.tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await self._close_pubsub()

    def spawn(self, work: Any) -> None:
        """Run ``work`` in the background, kept referenced until done."""
        task = asyncio.get_running_loop().create_task(work)
        self.background.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[Any]) -> None:
        self.background.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("realtime background work failed: %s", task.exception())

    def vapid_public_key(self) -> str:
        if self._vapid is None:
            self._vapid = webpush.public_key(self.settings)
        return self._vapid

    def connection_id(self) -> str:
        return f"{self.process_id}-{next(self._ids)}"

    def all_connections(self) -> list[Connection]:
        return [c for conns in self.orgs.values() for c in conns]

    # --- registry -------------------------------------------------------------------

    async def add_connection(self, conn: Connection) -> None:
        org = conn.who.organisation_id
        self.orgs.setdefault(org, set()).add(conn)
        await self._want(access_channel(org))

    def remove_connection(self, conn: Connection) -> None:
        org = conn.who.organisation_id
        for sub in list(conn.subs.values()):
            self.unwatch(sub)
        conn.subs.clear()
        self.presence_watchers.get(org, set()).discard(conn)
        members = self.orgs.get(org, set())
        members.discard(conn)
        if not members:
            self.orgs.pop(org, None)
            self.wanted.discard(access_channel(org))
        if not self.presence_watchers.get(org):
            self.presence_watchers.pop(org, None)
            self.wanted.discard(presence_channel(org))
        self.unwatch_inbox(conn)

    async def watch(self, sub: Subscription) -> None:
        self.channels.setdefault(sub.channel, set()).add(sub)
        await self._want(sub.channel)  # also waits when another socket's subscribe is pending

    def unwatch(self, sub: Subscription) -> None:
        subs = self.channels.get(sub.channel)
        if subs is None:
            return
        subs.discard(sub)
        if not subs:
            del self.channels[sub.channel]
            self.wanted.discard(sub.channel)  # unsubscribed lazily by housekeeping

    async def watch_presence(self, conn: Connection) -> None:
        org = conn.who.organisation_id
        self.presence_watchers.setdefault(org, set()).add(conn)
        await self._want(presence_channel(org))

    async def watch_inbox(self, conn: Connection) -> None:
        org = conn.who.organisation_id
        conn.inbox = conn.inbox or inbox.InboxView()
        self.inbox_watchers.setdefault(org, set()).add(conn)
        await self._want(inbox_channel(org))

    def unwatch_inbox(self, conn: Connection) -> bool:
        """Stop ``conn`` following the inbox; False when it did not."""
        org = conn.who.organisation_id
        followed, conn.inbox = conn.inbox is not None, None
        self.inbox_watchers.get(org, set()).discard(conn)
        if not self.inbox_watchers.get(org):
            self.inbox_watchers.pop(org, None)
            self.wanted.discard(inbox_channel(org))
        return followed

    # --- Redis subscriptions ----------------------------------------------------------

    async def _want(self, channel: str) -> None:
        """Subscribe (when not yet) and wait until Redis confirmed, so nothing published
        after this returns can be missed; without Redis, the reconnect catches up.

        One SUBSCRIBE per channel is in flight at a time: a thousand sockets arriving
        at once for one room wait for the same confirmation."""
        self.wanted.add(channel)
        if channel in self.confirmed or not self.connected or self.pubsub is None:
            return
        waiter = self.waiters.get(channel)
        try:
            if waiter is None:
                waiter = self.waiters[channel] = asyncio.get_running_loop().create_future()
                async with self.lock:
                    await self.pubsub.subscribe(channel)
            await asyncio.wait_for(asyncio.shield(waiter), CONFIRM_SECONDS)
        except Exception:  # boundary: the reader notices a broken connection and resyncs
            log.warning("subscribe to %s not confirmed", channel, exc_info=True)

    async def drop_unwanted(self) -> None:
        """Unsubscribe channels no local socket watches any more."""
        async with self.lock:
            stale = sorted(self.confirmed - self.wanted)
            if stale and self.pubsub is not None and self.connected:
                await self.pubsub.unsubscribe(*stale)

    async def _run_reader(self) -> None:
        delay = 0.05
        while True:
            started = time.monotonic()
            try:
                await self._read_session()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # boundary: reconnect, then resync from the database
                log.warning("realtime: Redis pub/sub lost (%s); reconnecting", exc)
            self._disconnected()
            await self._close_pubsub()
            delay = 0.05 if time.monotonic() - started > 10 else min(delay * 2, 2.0)
            await asyncio.sleep(delay)

    def _disconnected(self) -> None:
        self.connected = False
        self.confirmed.clear()
        for waiter in self.waiters.values():
            if not waiter.done():
                waiter.set_result(False)
        self.waiters.clear()

    async def _close_pubsub(self) -> None:
        pubsub, self.pubsub = self.pubsub, None
        if pubsub is not None:
            with contextlib.suppress(Exception):
                await pubsub.aclose()

    async def _read_session(self) -> None:
        self.pubsub = self.hub.redis.pubsub()
        async with self.lock:
            initial = sorted(self.wanted)
            await self.pubsub.subscribe(*initial)
        pending = set(initial)
        last_heard = time.monotonic()
        while True:
            message = await self.pubsub.get_message(timeout=READ_TIMEOUT)
            if message is None:
                last_heard = await self._check_alive(last_heard)
                continue
            last_heard = time.monotonic()
            await self._handle(message)
            if pending and pending <= self.confirmed:
                pending = set()
                self._connected()

    async def _check_alive(self, last_heard: float) -> float:
        quiet = time.monotonic() - last_heard
        if quiet > 6 * READ_TIMEOUT:
            raise ConnectionError("no answer from Redis")
        if quiet > 2 * READ_TIMEOUT and self.pubsub is not None:
            async with self.lock:
                await self.pubsub.ping()
        return last_heard

    def _connected(self) -> None:
        self.connected = True
        self.sessions_seen += 1
        if self.sessions_seen > 1:
            self.catch_up()

    def catch_up(self) -> None:
        """After an outage: every subscription re-reads its gap, every right is re-checked."""
        log.info("realtime: Redis back; resyncing %d sockets", len(self.all_connections()))
        for conn in self.all_connections():
            for sub in list(conn.subs.values()):
                conn.resync(sub)
        for org in list(self.orgs):
            asyncio.get_running_loop().create_task(self.recheck(org, {}))
        for conns in self.inbox_watchers.values():
            for conn in conns:
                inbox.resync(conn)

    async def _handle(self, message: dict[str, Any]) -> None:
        kind = message.get("type")
        raw = message.get("channel")
        if not isinstance(raw, bytes):
            return  # a pong to our health ping
        channel = raw.decode()
        if kind == "message":
            await self.dispatch(channel, message["data"])
        elif kind == "subscribe":
            self.confirmed.add(channel)
            waiter = self.waiters.pop(channel, None)
            if waiter is not None and not waiter.done():
                waiter.set_result(True)
        elif kind == "unsubscribe":
            self.confirmed.discard(channel)

    # --- delivery -------------------------------------------------------------------

    async def dispatch(self, channel: str, data: bytes) -> None:
        text = data.decode()
        if channel.endswith(":access"):
            org = int(channel.split(":")[1])
            for conn in self.inbox_watchers.get(org, ()):
                if conn.inbox is not None:
                    conn.inbox.forget()  # rights changed: read the visible clients again
            await self.recheck(org, json.loads(text))
        elif channel.endswith(":inbox"):
            watchers = list(self.inbox_watchers.get(int(channel.split(":")[1]), ()))
            await inbox.forward(self.hub, watchers, text)
        elif channel.endswith(":presence"):
            frame = text_frame(text)
            for conn in list(self.presence_watchers.get(int(channel.split(":")[1]), ())):
                conn.write(frame)
        elif channel in self.channels:
            self.fan_out(self.channels[channel], text, json.loads(text))

    def fan_out(self, subs: set[Subscription], text: str, payload: dict[str, Any]) -> None:
        """Hand a published frame to every local subscriber, serialised once for all."""
        frame = text_frame(text)
        seq = payload.get("seq")
        if payload.get("type") not in SEQUENCED or not isinstance(seq, int):
            # updates and events (message_updated, delivery, read, typing) pass through:
            # their ``seq`` names the message they are about, not a new place in the stream
            self._pass_through(subs, frame, payload)
            return
        hidden_from_portal: bool | None = None
        for sub in list(subs):
            hidden = False
            if sub.conn.who.kind == "portal":
                if hidden_from_portal is None:
                    hidden_from_portal = hidden_for(sub.conn.who, payload)
                hidden = hidden_from_portal
            sub.conn.deliver(sub, seq, frame, hidden)

    def _pass_through(self, subs: set[Subscription], frame: bytes,
                      payload: dict[str, Any]) -> None:
        for sub in list(subs):
            if sub.conn.who.kind == "portal" and hidden_for(sub.conn.who, payload):
                continue  # an update of an internal note
            sub.conn.write(frame)

    async def recheck(self, org: int, payload: dict[str, Any]) -> None:
        """Rights changed: re-check the sockets concerned before the next frame goes out."""
        try:
            await asyncio.wait_for(recheck_access(self, org, payload), 10)
        except Exception:  # boundary: fail closed; the sockets resume and are checked anew
            log.exception("access re-check failed; dropping the sockets of org %s", org)
            for conn in list(self.orgs.get(org, ())):
                conn.drop(1011)

    def revoke(self, sub: Subscription, reason: str) -> None:
        conn = sub.conn
        if conn.subs.get(sub.ref.name) is sub:
            del conn.subs[sub.ref.name]
        self.unwatch(sub)
        conn.send({"type": "unsubscribed", "stream": sub.ref.name, "reason": reason})
