"""Clients that behave like ``hub/static/realtime.js``: resume with the last seq after any
close, resend an unacknowledged message with the same client message id. They record
everything they receive, so a test can assert "each message exactly once, in order"."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from tests.realtime.wsclient import ws_url

Servers = Callable[[], list[str]]
_RETRYABLE = (ConnectionClosed, InvalidHandshake, InvalidStatus, OSError, TimeoutError)


async def _connect(servers: Servers, attempt: int, cookie: tuple[str, str],
                   path: str) -> ClientConnection:
    urls = servers()
    url = urls[attempt % len(urls)]
    return await connect(ws_url(url, path), additional_headers={
        "Cookie": f"{cookie[0]}={cookie[1]}"}, compression=None, open_timeout=5)


class Receiver:
    """Subscribes to one stream and keeps every message frame it gets, across reconnects."""

    def __init__(self, servers: Servers, cookie: tuple[str, str], stream: str,
                 path: str = "/ws") -> None:
        self.servers = servers
        self.cookie = cookie
        self.stream = stream
        self.path = path
        self.seqs: list[int] = []
        self.bodies: list[str] = []
        self.connections = 0
        self.ws: ClientConnection | None = None
        self.synced = asyncio.Event()

    @property
    def last(self) -> int:
        return self.seqs[-1] if self.seqs else 0

    async def run(self, until: Callable[[Receiver], bool], within: float) -> None:
        deadline = time.monotonic() + within
        attempt = 0
        while not until(self) and time.monotonic() < deadline:
            try:
                await self._session(until, deadline, attempt)
            except _RETRYABLE:
                await asyncio.sleep(0.1)
            attempt += 1

    async def _session(self, until: Callable[[Receiver], bool], deadline: float,
                       attempt: int) -> None:
        async with await _connect(self.servers, attempt, self.cookie, self.path) as ws:
            self.ws = ws
            self.connections += 1
            await ws.send(json.dumps({"type": "subscribe", "stream": self.stream,
                                      "after": self.last}))
            while not until(self):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return
                self._take(json.loads(await asyncio.wait_for(ws.recv(), remaining)))

    def _take(self, frame: dict[str, Any]) -> None:
        if frame.get("type") == "synced":
            self.synced.set()
        if frame.get("type") == "message" and frame.get("stream") == self.stream:
            self.seqs.append(frame["seq"])
            self.bodies.append(frame["message"].get("body") or frame["message"].get("body_text"))

    def drop_socket(self) -> None:
        """Cut the TCP connection without a closing handshake (wifi to 4G)."""
        if self.ws is not None:
            self.ws.transport.abort()


class Sender:
    """Sends messages one by one; an unacknowledged one is resent with the same id."""

    def __init__(self, servers: Servers, cookie: tuple[str, str], stream: str,
                 path: str = "/ws") -> None:
        self.servers = servers
        self.cookie = cookie
        self.stream = stream
        self.path = path
        self.acks: dict[str, int] = {}
        self.attempt = 0
        self.ws: ClientConnection | None = None

    async def send(self, cmid: str, body: str, within: float = 20.0) -> int:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            try:
                return await self._try(cmid, body)
            except _RETRYABLE:
                await self._reset()
                await asyncio.sleep(0.1)
        raise AssertionError(f"{cmid} not acknowledged in {within} s")

    async def _try(self, cmid: str, body: str) -> int:
        if self.ws is None:
            self.ws = await _connect(self.servers, self.attempt, self.cookie, self.path)
            self.attempt += 1
        await self.ws.send(json.dumps({"type": "send", "stream": self.stream,
                                       "client_message_id": cmid, "body": body}))
        while True:
            frame = json.loads(await asyncio.wait_for(self.ws.recv(), 3))
            if frame.get("type") == "ack" and frame.get("client_message_id") == cmid:
                self.acks[cmid] = frame["seq"]
                return int(frame["seq"])
            if frame.get("type") == "error":
                raise AssertionError(f"send refused: {frame}")

    async def _reset(self) -> None:
        ws, self.ws = self.ws, None
        if ws is not None:
            with contextlib.suppress(Exception):
                ws.transport.abort()

    async def close(self) -> None:
        await self._reset()
