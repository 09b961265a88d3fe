"""IMAP in: one connection to one folder of a shared mailbox, with aioimaplib.

The adapter knows IMAP, nothing about the inbox: it lists new UIDs with their sizes,
fetches raw bytes with ``BODY.PEEK[]`` (so nothing is marked read), and waits for new
mail with IDLE where the server offers it. It changes mail on the server only when asked
(``mark_seen``, ``delete``), which the poller does only if the mailbox is configured so.

aioimaplib does not notice a dropped connection on its own (a command would wait for its
timeout), so every command races a "connection lost" event; it has no STARTTLS either,
which is done here by upgrading the transport in place (RFC 3501 6.2.1).
"""

from __future__ import annotations

import asyncio
import dataclasses
import ssl
from collections.abc import Awaitable, Sequence
from typing import TypeVar

import aioimaplib
from aioimaplib import STOP_WAIT_SERVER_PUSH, Command

from hub.channels.email_responses import (
    SIZE,
    UID,
    FolderState,
    expect_ok,
    folder_state,
    literals_by_uid,
    quote,
    search_uids,
    uid_set,
)
from hub.errors import ChannelError

T = TypeVar("T")
SIZE_CHUNK = 500  # UIDs per size listing, so no single answer is huge


@dataclasses.dataclass(frozen=True)
class ImapConfig:
    host: str
    port: int
    security: str  # tls, starttls or none
    user: str
    password: str
    folder: str = "INBOX"
    timeout: float = 30.0
    # trust anchors for the server's certificate; None means the system's
    ssl_context: ssl.SSLContext | None = None


class ImapMailbox:
    def __init__(self, config: ImapConfig) -> None:
        self.config = config
        self._imap: aioimaplib.IMAP4 | None = None
        self._lost = asyncio.Event()

    @property
    def imap(self) -> aioimaplib.IMAP4:
        if self._imap is None:
            raise ChannelError("IMAP connection not open", host=self.config.host)
        return self._imap

    @property
    def supports_idle(self) -> bool:
        return self.imap.has_capability("IDLE")

    async def open(self) -> FolderState:
        """Connect, secure, log in and select the folder."""
        cfg = self.config
        context = (cfg.ssl_context or ssl.create_default_context()) \
            if cfg.security in ("tls", "starttls") else None
        self._lost.clear()
        self._imap = aioimaplib.IMAP4(
            host=cfg.host, port=cfg.port, timeout=cfg.timeout,
            conn_lost_cb=lambda _exc: self._lost.set(),
            ssl_context=context if cfg.security == "tls" else None)
        await self._call(self.imap.wait_hello_from_server(), "connect")
        if cfg.security == "starttls":
            assert context is not None
            await self._starttls(context)
        response = await self._call(self.imap.login(cfg.user, cfg.password), "login")
        expect_ok(response, "login", cfg.host)
        response = await self._call(self.imap.select(quote(cfg.folder)), "select")
        expect_ok(response, "select", cfg.host)
        return folder_state(response.lines)

    async def _starttls(self, context: ssl.SSLContext) -> None:
        protocol = self.imap.protocol
        command = Command("STARTTLS", protocol.new_tag(), loop=protocol.loop)
        response = await self._call(protocol.execute(command), "starttls")
        expect_ok(response, "starttls", self.config.host)
        loop = asyncio.get_running_loop()
        protocol.transport = await self._call(loop.start_tls(
            protocol.transport, protocol, context, server_hostname=self.config.host),
            "tls handshake")
        # capabilities learned before TLS must be forgotten (RFC 3501 6.2.1)
        await self._call(protocol.capability(), "capability")

    async def close(self) -> None:
        if self._imap is None:
            return
        imap, self._imap = self._imap, None
        try:
            if not self._lost.is_set():
                await asyncio.wait_for(imap.logout(), 5)
        except Exception:  # boundary: closing a broken connection may fail any way
            pass
        finally:
            transport = imap.protocol.transport
            if transport is not None:
                transport.close()

    async def __aenter__(self) -> ImapMailbox:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def list_new(self, after_uid: int) -> list[tuple[int, int]]:
        """(uid, size) of every message with a UID above ``after_uid``, ascending."""
        response = await self._call(
            self.imap.uid_search("UID", f"{after_uid + 1}:*", charset=None), "search")
        expect_ok(response, "search", self.config.host)
        uids = sorted(u for u in search_uids(response.lines) if u > after_uid)
        sizes: list[tuple[int, int]] = []
        for start in range(0, len(uids), SIZE_CHUNK):
            sizes.extend(await self._sizes(uids[start:start + SIZE_CHUNK]))
        return sizes

    async def _sizes(self, uids: Sequence[int]) -> list[tuple[int, int]]:
        response = await self._call(
            self.imap.uid("fetch", uid_set(uids), "(UID RFC822.SIZE)"), "fetch sizes")
        expect_ok(response, "fetch sizes", self.config.host)
        found = {}
        for line in response.lines:
            uid, size = UID.search(bytes(line)), SIZE.search(bytes(line))
            if uid and size:
                found[int(uid.group(1))] = int(size.group(1))
        return sorted((u, found[u]) for u in uids if u in found)

    async def fetch(self, uids: Sequence[int]) -> dict[int, bytes]:
        """Raw bytes of each UID (a message deleted meanwhile is simply absent)."""
        response = await self._call(
            self.imap.uid("fetch", uid_set(uids), "(UID BODY.PEEK[])"), "fetch")
        expect_ok(response, "fetch", self.config.host)
        return literals_by_uid(response.lines)

    async def fetch_prefix(self, uid: int, size: int) -> bytes:
        """The first ``size`` bytes of a message (for one over the size cap)."""
        response = await self._call(
            self.imap.uid("fetch", str(uid), f"(UID BODY.PEEK[]<0.{size}>)"), "fetch part")
        expect_ok(response, "fetch part", self.config.host)
        return literals_by_uid(response.lines).get(uid, b"")

    async def mark_seen(self, uids: Sequence[int]) -> None:
        await self._store(uids, "+FLAGS.SILENT (\\Seen)")

    async def delete(self, uids: Sequence[int]) -> None:
        """Flag as deleted and expunge exactly these UIDs (needs UIDPLUS to be exact)."""
        await self._store(uids, "+FLAGS.SILENT (\\Deleted)")
        if self.imap.has_capability("UIDPLUS"):
            await self._call(self.imap.uid("expunge", uid_set(uids)), "expunge")
        else:
            await self._call(self.imap.expunge(), "expunge")

    async def _store(self, uids: Sequence[int], flags: str) -> None:
        if uids:
            response = await self._call(self.imap.uid("store", uid_set(uids), flags), "store")
            expect_ok(response, "store", self.config.host)

    async def wait_for_change(self, seconds: float) -> bool:
        """IDLE until the server reports new mail (True) or ``seconds`` pass (False).
        Without IDLE this just waits; the caller polls either way afterwards."""
        if not self.supports_idle:
            await self._call(asyncio.sleep(seconds), "poll wait")
            return True
        idle = await self._call(self.imap.idle_start(timeout=seconds), "idle")
        changed = False
        try:
            while not changed:
                lines = await self._call(
                    self.imap.wait_server_push(timeout=seconds + 30), "idle wait")
                if lines == STOP_WAIT_SERVER_PUSH:
                    break
                changed = any(b"EXISTS" in bytes(line) for line in lines)
        finally:
            if not self._lost.is_set():
                self.imap.idle_done()
                await self._call(asyncio.wait_for(idle, self.config.timeout), "idle done")
        return changed

    async def append(self, raw: bytes, folder: str | None = None) -> None:
        response = await self._call(
            self.imap.append(raw, mailbox=quote(folder or self.config.folder)), "append")
        expect_ok(response, "append", self.config.host)

    async def _call(self, awaitable: Awaitable[T], step: str) -> T:
        """Run one IMAP step; a dropped connection or timeout becomes a ChannelError."""
        work = asyncio.ensure_future(awaitable)
        lost = asyncio.ensure_future(self._lost.wait())
        try:
            await asyncio.wait({work, lost}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            lost.cancel()
        if not work.done():
            work.cancel()
            raise ChannelError("IMAP connection lost", host=self.config.host, step=step)
        try:
            return work.result()
        except ChannelError:
            raise
        except (aioimaplib.AioImapException, OSError, TimeoutError, ssl.SSLError) as exc:
            raise ChannelError(f"IMAP {step} failed: {exc!r}", host=self.config.host) from exc
