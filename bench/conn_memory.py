"""Idle memory per websocket: an authenticated socket on ``hub web``, subscribed to one
room, next to a bare ``websockets`` connection, measured in the same run.

    python bench/conn_memory.py            # 1,000 sockets each
    python bench/conn_memory.py --quick    # 500 sockets each (within 45 s)

For each server (each in its own process): open a few sockets first (first-use
allocations), read the process RSS, open N more, let them go idle (5 s), read RSS
again; the difference over N is the figure. Neither side negotiates compression:
``hub web`` runs without permessage-deflate (``hub.realtime.app.uvicorn_options``), the
bare server is started with ``compression=None``, and the client offers none.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from websockets.asyncio.client import ClientConnection, connect

from bench.realtime_env import Env, bare_server, rss, ws_url

WARM = 50
# idle: some seconds without traffic, so what the handshake and the subscribe left
# behind (a resume's task, the handshake's buffers) is gone on both sides
IDLE_AFTER = 5.0


async def _ours(url: str, cookie: tuple[str, str], stream: str) -> ClientConnection:
    ws = await connect(url, additional_headers={"Cookie": f"{cookie[0]}={cookie[1]}"},
                       compression=None, open_timeout=60)
    await ws.send(json.dumps({"type": "subscribe", "stream": stream, "after": 0}))
    while json.loads(await ws.recv()).get("type") != "synced":
        pass
    return ws


async def _bare(url: str) -> ClientConnection:
    return await connect(url, compression=None, open_timeout=60)


async def _per_connection(pid: int, open_one: object, count: int) -> float:
    """KiB of server RSS per socket, after ``WARM`` sockets that are not counted."""
    opened: list[ClientConnection] = []
    for _ in range(WARM):
        opened.append(await open_one())  # type: ignore[operator]
    await asyncio.sleep(1.5)
    before = rss(pid)
    for _ in range(count):
        opened.append(await open_one())  # type: ignore[operator]
    await asyncio.sleep(IDLE_AFTER)
    after = rss(pid)
    for ws in opened:
        await ws.close()
    return (after - before) / count / 1024


async def main(quick: bool) -> None:
    count = 500 if quick else 1000
    async with Env("memory") as env:
        room_id, cookies = await env.seed(count + WARM)
        (web,) = env.start_web(1)
        assert web.process is not None
        stream, url = f"room:{room_id}", ws_url(web)
        remaining = iter(cookies)
        ours = await _per_connection(
            web.process.pid, lambda: _ours(url, next(remaining), stream), count)
        with bare_server() as (bare_url, bare_pid):
            bare = await _per_connection(bare_pid, lambda: _bare(bare_url), count)
    print(f"ours: {ours:.1f} KiB per idle authenticated socket (subscribed to a room), "
          f"bare websockets: {bare:.1f} KiB per idle socket; {count} each, no compression")
    print(f"conn_memory: ours={ours:.2f} baseline={bare:.2f} ratio={ours / bare:.2f} "
          "unit=kib_per_conn")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    asyncio.run(main(parser.parse_args().quick))
