"""One websocket once accepted: its subscriptions, its incoming frames, its sends and the
resume-from-database.

The socket is detached from ASGI (``hub.realtime.wire``): an idle socket holds no task.
Frames from the client are queued and handled one at a time by a reader task that
exists only while there are frames (reading pauses when too many wait). Frames to the
client are written straight to the transport; its buffer is the send queue, bounded in
bytes (``ws_send_buffer_bytes``): a client that does not read is dropped with
``CLOSE_SLOW`` instead of growing memory, and resumes with its last sequence number.

Per subscription, ``cursor`` is the last sequence number sent to the client. A live
frame is sent only when it is exactly ``cursor + 1``; anything later means a frame was
missed (pub/sub is at-most-once, publishers race after commit) and the subscription
re-reads the gap from the database (invariant 1). While it does, live frames are
dropped and noted (``dirty``), and the read repeats until nothing newer is left, so the
client gets every message once, in order.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import TYPE_CHECKING, Any

from hub.realtime.protocol import CLOSE_FLOOD, CLOSE_SLOW, StreamRef, encode
from hub.realtime.wire import Wire, text_frame

if TYPE_CHECKING:
    from hub.realtime.inbox import InboxView
    from hub.realtime.streams import Page
from hub.security.principal import Principal

log = logging.getLogger(__name__)
PAGE = 200
# how long a resume may wait for room in the send buffer before the socket counts as slow
WAIT_FOR_ROOM_SECONDS = 15.0
RATE_WINDOW_SECONDS = 10.0  # the rate limit counts frames per window of this length
# frames from the client waiting to be handled before the socket stops reading
INBOUND_PAUSE = 8

Fetcher = Callable[["Subscription", int], Awaitable[tuple[list[tuple[int, str]], int, bool]]]
FrameHandler = Callable[[str | None], Awaitable[None]]


class Subscription:
    """A socket watching one stream."""

    __slots__ = ("channel", "conn", "cursor", "dirty", "ref", "synced_once", "syncing")

    def __init__(self, conn: Connection, ref: StreamRef, channel: str, after: int) -> None:
        self.conn = conn
        self.ref = ref
        self.channel = channel
        self.cursor = after
        self.syncing = True  # the first read from the database is still to come
        self.dirty = False
        self.synced_once = False


class Connection:
    """The server side of one authenticated websocket (a ``wire.Peer``).

    Slots and lazily made containers: an idle socket should cost little beyond what
    uvicorn and ``websockets`` keep for it (``bench/conn_memory.py``).
    """

    __slots__ = ("buffer_bytes", "closing", "fetch", "frames", "inbound", "inbox", "key",
                 "last_heard", "on_end", "on_frame", "presence", "presence_id", "rate_limit",
                 "reader", "room", "subs", "tasks", "throttle", "watch_presence", "who",
                 "window", "wire")

    def __init__(self, who: Principal, *, buffer_bytes: int, rate_limit: int,
                 fetch: Fetcher, on_frame: FrameHandler, on_end: Callable[[], None]) -> None:
        self.who = who
        self.key = f"{who.kind}:{who.user_id}"
        self.wire: Wire | None = None  # set by ``attach``
        self.subs: dict[str, Subscription] = {}
        self.buffer_bytes = buffer_bytes
        self.rate_limit = rate_limit
        self.fetch = fetch
        self.on_frame = on_frame
        self.on_end: Callable[[], None] | None = on_end  # None once called
        self.inbound: collections.deque[str | None] | None = None  # made on the first frame
        self.reader: asyncio.Task[None] | None = None
        self.tasks: set[asyncio.Task[None]] | None = None
        self.room: asyncio.Future[None] | None = None  # a resume waits on it for room
        self.closing: int | None = None
        self.last_heard = time.monotonic()
        self.window = self.last_heard  # rate limit: frames since the window began
        self.frames = 0
        self.presence = "online"
        self.presence_id = ""  # this socket's entry in the presence hash, once set
        self.watch_presence = False
        self.throttle: dict[str, float] | None = None
        self.inbox: InboxView | None = None  # set while the socket follows the inbox

    def attach(self, detach: Callable[[Connection, int], Wire]) -> None:
        """Take the accepted socket over from ASGI (``wire.DETACH``); a resume may fill
        half the send buffer before it waits for the client to read."""
        self.wire = detach(self, self.buffer_bytes // 2)
        if self.closing is not None:  # dropped while the handshake finished
            self.wire.close(self.closing)

    # --- receiving (``wire.Peer``) ----------------------------------------------------

    def received(self, text: str | None) -> None:
        """A frame from the client: over the rate limit it ends the socket (``CLOSE_FLOOD``),
        otherwise it waits its turn for ``on_frame``."""
        if self.closing is not None:
            return
        if not self.heard():
            log.warning("websocket flood from %s; closing", self.key)
            self.drop(CLOSE_FLOOD)
            return
        if self.inbound is None:
            self.inbound = collections.deque()
        self.inbound.append(text)
        if len(self.inbound) >= INBOUND_PAUSE and self.wire is not None:
            self.wire.pause_reading()
        if self.reader is None:
            self.reader = asyncio.get_running_loop().create_task(self._read())

    async def _read(self) -> None:
        try:
            while self.inbound and self.closing is None:
                text = self.inbound.popleft()
                if len(self.inbound) < INBOUND_PAUSE and self.wire is not None:
                    self.wire.resume_reading()
                await self.on_frame(text)
        finally:
            self.reader = None
            if not self.inbound:
                self.inbound = None  # an idle socket keeps no queue

    def heard(self) -> bool:
        """A frame came in; False when it is one too many for the rate limit."""
        now = self.last_heard = time.monotonic()
        if now - self.window >= RATE_WINDOW_SECONDS:
            self.window, self.frames = now, 0
        self.frames += 1
        return self.frames <= self.rate_limit

    # --- sending --------------------------------------------------------------------

    def write(self, frame: bytes) -> None:
        """Send a frame made by ``wire.text_frame``; a full buffer drops the socket (it
        resumes from its cursor)."""
        wire = self.wire
        if self.closing is not None or wire is None:
            return
        # below the high-water mark (half the buffer) there is room; only above it is
        # the buffer's size worth asking for
        if wire.paused and wire.buffered + len(frame) > self.buffer_bytes:
            self.drop(CLOSE_SLOW)
            return
        wire.write(frame)

    def push(self, text: str) -> None:
        self.write(text_frame(text))

    def send(self, frame: dict[str, Any]) -> None:
        self.push(encode(frame))

    async def push_waiting(self, text: str) -> None:
        """Send a frame of a resume, waiting for the client to read instead of dropping
        the socket (up to ``WAIT_FOR_ROOM_SECONDS``)."""
        deadline = time.monotonic() + WAIT_FOR_ROOM_SECONDS
        while self.closing is None and self.wire is not None and self.wire.paused:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self.drop(CLOSE_SLOW)
                return
            self.room = self.room or asyncio.get_running_loop().create_future()
            try:
                await asyncio.wait_for(asyncio.shield(self.room), remaining)
            except TimeoutError:
                continue
        self.push(text)

    def drained(self) -> None:
        """``wire.Peer``: the send buffer has room again."""
        room, self.room = self.room, None
        if room is not None and not room.done():
            room.set_result(None)

    # --- live frames and resume -----------------------------------------------------

    def deliver(self, sub: Subscription, seq: int, frame: bytes, hidden: bool) -> None:
        """A live frame with a sequence number, serialised (``hidden``: not for this
        viewer)."""
        if seq <= sub.cursor:
            return  # already sent (from the database or an earlier publish)
        if sub.syncing:
            sub.dirty = True  # the database read under way (or a repeat) will bring it
            return
        if seq != sub.cursor + 1:
            self.resync(sub)  # a gap: something was not heard; read it from the database
            return
        sub.cursor = seq
        if not hidden:
            self.write(frame)

    def resync(self, sub: Subscription) -> None:
        """Read what came after ``sub.cursor`` from the database (again)."""
        if sub.syncing:
            sub.dirty = True  # the read under way repeats before it ends
            return
        self.begin_sync(sub)

    def begin_sync(self, sub: Subscription, first: Page | None = None) -> None:
        """Resume ``sub`` from the database; ``first``: its first page, read already."""
        sub.syncing = True
        self.spawn(self._sync(sub, first))

    def spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        if self.tasks is None:
            self.tasks = set()
        self.tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        if self.tasks is not None:
            self.tasks.discard(task)
            if not self.tasks:
                self.tasks = None

    async def _sync(self, sub: Subscription, first: Page | None) -> None:
        try:
            while self.subs.get(sub.ref.name) is sub and self.closing is None:
                sub.dirty = False
                if first is not None:
                    frames, cursor, more = first.frames, first.cursor, first.more
                    first = None
                else:
                    frames, cursor, more = await self.fetch(sub, sub.cursor)
                if self.subs.get(sub.ref.name) is not sub:
                    break  # revoked while reading: nothing of this read goes out
                for position, text in frames:
                    if position > sub.cursor:
                        sub.cursor = position
                        await self.push_waiting(text)
                sub.cursor = max(sub.cursor, cursor)
                if not more and not sub.dirty:
                    break
            self._synced(sub)
        except Exception:  # boundary: a failed read ends this socket; the client resumes
            log.exception("resume of %s failed", sub.ref.name)
            self.drop(None)

    def _synced(self, sub: Subscription) -> None:
        sub.syncing = False
        if not sub.synced_once and self.subs.get(sub.ref.name) is sub:
            sub.synced_once = True
            self.send({"type": "synced", "stream": sub.ref.name, "seq": sub.cursor})

    # --- ending ---------------------------------------------------------------------

    def drop(self, code: int | None) -> None:
        """End this socket: stop reading and sending, say goodbye with ``code``."""
        if self.closing is not None:
            return
        self.closing = code or 1011
        self._end()
        if self.wire is not None:
            self.wire.close(self.closing)

    def lost(self) -> None:
        """``wire.Peer``: the connection is gone."""
        if self.closing is None:
            self.closing = 1006
        self._end()

    def _end(self) -> None:
        self.inbound = None
        self.drained()
        for task in (self.reader, *(self.tasks or ())):
            if task is not None and task is not asyncio.current_task():
                task.cancel()
        on_end, self.on_end = self.on_end, None
        if on_end is not None:
            on_end()
