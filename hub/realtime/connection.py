"""One websocket: its subscriptions, its bounded send queue and the resume-from-database.

Frames for a socket go through one queue, written by a writer task that exists only
while the socket is busy (an idle socket holds no task of its own). The queue is bounded in
bytes (``ws_send_buffer_bytes``): a client that does not read is dropped with
``CLOSE_SLOW`` instead of growing memory, and resumes with its last sequence number.

Per subscription, ``cursor`` is the last sequence number queued for the client. A live
frame is queued only when it is exactly ``cursor + 1``; anything later means a frame was
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

from starlette.websockets import WebSocket

from hub.realtime.protocol import CLOSE_SLOW, StreamRef, encode

if TYPE_CHECKING:
    from hub.realtime.inbox import InboxView
    from hub.realtime.streams import Page
from hub.security.principal import Principal

log = logging.getLogger(__name__)
PAGE = 200
# how long a resume may wait for room in the send queue before the socket counts as slow
WAIT_FOR_ROOM_SECONDS = 15.0
# a writer task with nothing to send ends after this long (an idle socket holds no task)
WRITER_LINGER = 1.0

Fetcher = Callable[["Subscription", int], Awaitable[tuple[list[tuple[int, str]], int, bool]]]


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
    """The server side of one authenticated websocket.

    Slots and lazily made containers: an idle socket should cost little beyond what
    uvicorn and ``websockets`` keep for it (``bench/conn_memory.py``).
    """

    __slots__ = ("buffer_bytes", "closing", "fetch", "frames", "handler", "idle_since", "inbox",
                 "key",
                 "last_heard", "presence", "presence_id", "queue", "queued", "room_for_more",
                 "subs", "tasks", "throttle", "wake", "watch_presence", "websocket", "who",
                 "window", "writer")

    def __init__(self, websocket: WebSocket, who: Principal, *, buffer_bytes: int,
                 fetch: Fetcher) -> None:
        self.websocket = websocket
        self.who = who
        self.key = f"{who.kind}:{who.user_id}"
        self.subs: dict[str, Subscription] = {}
        self.queue: collections.deque[str] | None = None  # made on the first frame
        self.queued = 0
        self.buffer_bytes = buffer_bytes
        self.fetch = fetch
        self.writer: asyncio.Task[None] | None = None
        self.wake: asyncio.Event | None = None  # the writer waits on it while idle
        self.idle_since = 0.0
        self.tasks: set[asyncio.Task[None]] | None = None
        self.room_for_more: asyncio.Event | None = None
        self.closing: int | None = None
        self.handler: asyncio.Task[Any] | None = None
        self.last_heard = time.monotonic()
        self.window = self.last_heard  # rate limit: frames since the window began
        self.frames = 0
        self.presence = "online"
        self.presence_id = ""  # this socket's entry in the presence hash, once set
        self.watch_presence = False
        self.throttle: dict[str, float] | None = None
        self.inbox: InboxView | None = None  # set while the socket follows the inbox

    def heard(self, limit: int, window: float) -> bool:
        """A frame came in; False when it is one too many for the rate limit."""
        now = self.last_heard = time.monotonic()
        if now - self.window >= window:
            self.window, self.frames = now, 0
        self.frames += 1
        return self.frames <= limit

    # --- sending --------------------------------------------------------------------

    def push(self, text: str) -> None:
        """Queue a frame; a full queue drops the socket (it resumes from its cursor)."""
        if self.closing is not None:
            return
        if self.queue is None:
            self.queue = collections.deque()
        if self.queued + len(text) > self.buffer_bytes and self.queue:
            self.drop(CLOSE_SLOW)
            return
        self.queue.append(text)
        self.queued += len(text)
        if self.writer is None:
            self.writer = asyncio.get_running_loop().create_task(self._write())
        elif self.wake is not None:
            self.wake.set()

    def send(self, frame: dict[str, Any]) -> None:
        self.push(encode(frame))

    async def push_waiting(self, text: str) -> None:
        """Queue a frame of a resume, waiting for room instead of dropping the socket."""
        deadline = time.monotonic() + WAIT_FOR_ROOM_SECONDS
        while self.closing is None and self.queued + len(text) > self.buffer_bytes // 2:
            self.room_for_more = self.room_for_more or asyncio.Event()
            self.room_for_more.clear()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self.drop(CLOSE_SLOW)
                return
            try:
                await asyncio.wait_for(self.room_for_more.wait(), remaining)
            except TimeoutError:
                continue
        self.push(text)

    async def _write(self) -> None:
        """Write queued frames, then wait for more: a busy socket keeps its writer (a
        wake-up per frame is cheaper than a task per frame, and leaves far less garbage
        for the cycle collector); ``retire_writer`` ends it when idle."""
        self.wake = asyncio.Event()
        try:
            while self.closing is None:
                while self.queue and self.closing is None:
                    text = self.queue.popleft()
                    self.queued -= len(text)
                    if self.room_for_more is not None and self.queued <= self.buffer_bytes // 2:
                        self.room_for_more.set()
                    await self.websocket.send_text(text)
                self.wake.clear()
                self.idle_since = time.monotonic()
                await self.wake.wait()
        except Exception:  # boundary: a socket that cannot be written to is gone
            self.drop(None)
        finally:
            self.writer = self.wake = None
            if self.queue and self.closing is None:  # pushed while being retired
                self.writer = asyncio.get_running_loop().create_task(self._write())
            elif not self.queue:
                self.queue = None  # an idle socket keeps no buffer

    def retire_writer(self, now: float) -> None:
        """End the writer of a socket that had nothing to send for ``WRITER_LINGER``
        (housekeeping calls this every second; an idle socket holds no task)."""
        if (self.writer is not None and not self.queue and self.wake is not None
                and not self.wake.is_set() and now - self.idle_since > WRITER_LINGER):
            self.writer.cancel()

    # --- live frames and resume -----------------------------------------------------

    def deliver(self, sub: Subscription, seq: int, text: str, hidden: bool) -> None:
        """A live frame with a sequence number (``hidden``: not for this viewer)."""
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
            self.push(text)

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
        """End this socket soon: stop sending, free the queue, wake the handler."""
        if self.closing is not None:
            return
        self.closing = code or 1011
        self.queue = None
        self.queued = 0
        for task in list(self.tasks or ()):
            task.cancel()
        if self.handler is not None and self.handler is not asyncio.current_task():
            self.handler.cancel()

    async def close_quietly(self) -> None:
        """Say goodbye with the close code, unless the client is not reading at all."""
        for task in list(self.tasks or ()):
            task.cancel()
        if self.writer is not None:
            self.writer.cancel()
        try:
            await asyncio.wait_for(self.websocket.close(self.closing or 1000), 1.0)
        except Exception:  # boundary: the socket may already be gone or stuck
            log.debug("close of a websocket failed", exc_info=True)
