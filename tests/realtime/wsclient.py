"""A small protocol client for the tests: the real ``websockets`` library, frames kept in
arrival order, helpers that wait (with a deadline) for the frame a test expects."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from hub.db.models import PortalUser, Staff
from hub.resources import Resources
from tests.helpers.auth import session_cookie

Frame = dict[str, Any]


class WsClient:
    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.frames: list[Frame] = []
        self.taken: set[int] = set()  # indexes of frames handed out by ``expect``
        self.closed_code: int | None = None
        self.reader = asyncio.get_running_loop().create_task(self._read())

    async def _read(self) -> None:
        try:
            async for raw in self.ws:
                self.frames.append(json.loads(raw))
        except ConnectionClosed:
            pass
        finally:
            self.closed_code = self.ws.close_code or 1006

    async def send(self, frame: Frame) -> None:
        await self.ws.send(json.dumps(frame))

    async def send_raw(self, text: str | bytes) -> None:
        await self.ws.send(text)

    async def expect(self, match: Callable[[Frame], bool] | str, within: float = 5.0) -> Frame:
        """The first frame not handed out yet that matches (a type name or a predicate)."""
        test = (lambda f: f.get("type") == match) if isinstance(match, str) else match
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            for index in range(len(self.frames)):
                if index not in self.taken and test(self.frames[index]):
                    self.taken.add(index)
                    return self.frames[index]
            if self.reader.done():
                break
            await asyncio.sleep(0.01)
        rest = [f for i, f in enumerate(self.frames) if i not in self.taken]
        raise AssertionError(f"no frame matching {match!r}; got {rest}")

    def of_type(self, kind: str, stream: str | None = None) -> list[Frame]:
        return [f for f in self.frames if f.get("type") == kind
                and (stream is None or f.get("stream") == stream)]

    def message_seqs(self, stream: str) -> list[int]:
        return [f["seq"] for f in self.of_type("message", stream)]

    async def wait_closed(self, within: float = 5.0) -> int:
        await asyncio.wait_for(asyncio.shield(self.reader), within)
        assert self.closed_code is not None
        return self.closed_code

    async def close(self) -> None:
        await self.ws.close()
        await asyncio.wait_for(asyncio.shield(self.reader), 5)

    async def subscribe(self, stream: str, after: int | None = 0) -> Frame:
        frame: Frame = {"type": "subscribe", "stream": stream}
        if after is not None:
            frame["after"] = after
        await self.send(frame)
        return await self.expect(lambda f: f.get("stream") == stream
                                 and f.get("type") in {"synced", "error"})

    async def post(self, stream: str, body: str, cmid: str, **extra: Any) -> Frame:
        await self.send({"type": "send", "stream": stream, "client_message_id": cmid,
                         "body": body, **extra})
        return await self.expect(lambda f: f.get("client_message_id") == cmid
                                 or (f.get("type") == "error" and f.get("stream") == stream))


def ws_url(http_url: str, path: str) -> str:
    return http_url.replace("http://", "ws://", 1) + path


async def open_client(base_url: str, cookie: tuple[str, str], path: str = "/ws",
                      **options: Any) -> WsClient:
    name, value = cookie
    ws = await connect(ws_url(base_url, path), additional_headers={"Cookie": f"{name}={value}"},
                       compression=None, open_timeout=10, **options)
    client = WsClient(ws)
    await client.expect("hello")
    return client


async def login(hub: Resources, base_url: str, user: Staff | PortalUser) -> WsClient:
    path = "/ws" if isinstance(user, Staff) else "/portal/ws"
    return await open_client(base_url, await session_cookie(hub, user), path)
