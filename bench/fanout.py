"""Fan-out latency: one room, 1,000 sockets on two ``hub web`` processes, 10 messages/s
of ~250 bytes, next to a bare ``websockets`` server ``broadcast()``ing to the same
clients in the same run.

    python bench/fanout.py            # 1,000 sockets, 60 s of traffic
    python bench/fanout.py --quick    # 1,000 sockets, 10 s of traffic (within 45 s)

Each client process holds its share of the 1,000 sockets to ours (alternately on process
A and B, each subscribed to the room) and as many to the bare server. A sender
alternates: every 50 ms one message, to ours (a ``send`` frame: stored with its sequence
number, committed, published to Redis, fanned out by both processes) or to the bare
server (which broadcasts it at once), so both see the same machine at the same time.
Latency is from the sender's write to each client's receipt (CLOCK_MONOTONIC is one
clock for all processes on Linux). Neither side compresses.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing as mp
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from websockets.asyncio.client import ClientConnection, connect

from bench.realtime_env import Env, bare_server, percentile, ws_url

CLIENT_PROCESSES = 4
PAD = 250


def _body(kind: str, number: int) -> str:
    head = f"{kind}:{number}:{time.monotonic_ns()}:"
    return head + "x" * max(0, PAD - len(head))


def _latency_ms(body: str, now: int) -> tuple[str, float]:
    kind, _, rest = body.partition(":")
    sent = int(rest.split(":", 2)[1])
    return kind, (now - sent) / 1e6


async def _read(ws: ClientConnection, into: dict[str, list[float]]) -> None:
    try:
        async for data in ws:
            now = time.monotonic_ns()
            raw = data if isinstance(data, str) else data.decode()
            # find the body without parsing the whole frame: the clients must not be
            # the bottleneck of what is measured (same code for ours and the baseline)
            key = raw.find('"body"')
            if key >= 0 and '"message"' in raw[:30]:
                start = raw.find('"', key + 6) + 1
                kind, ms = _latency_ms(raw[start:start + 64], now)
                into[kind].append(ms)
    except Exception:  # a closed socket ends its reader; losses are counted
        return


async def _ping(sockets: list[ClientConnection], stop: asyncio.Event) -> None:
    """What a browser client does: a ping every heartbeat, so idle sockets stay open."""
    while not stop.is_set():
        await asyncio.sleep(15)
        for ws in sockets:
            try:
                await ws.send('{"type":"ping"}')
            except Exception:  # a closed one shows up as missing frames
                continue


async def _client(task: dict[str, Any], ready: Any, done: Any, results: Any) -> None:
    into: dict[str, list[float]] = {"ours": [], "bare": []}
    ours, readers = [], []
    for index, cookie in enumerate(task["cookies"]):
        url = task["ours"][index % len(task["ours"])]
        ws = await connect(url, additional_headers={"Cookie": f"{cookie[0]}={cookie[1]}"},
                           compression=None, open_timeout=60, max_queue=None)
        await ws.send(json.dumps({"type": "subscribe", "stream": task["stream"], "after": 0}))
        while json.loads(await ws.recv()).get("type") != "synced":
            pass
        ours.append(ws)
    bare = [await connect(task["bare"], compression=None, open_timeout=60, max_queue=None)
            for _ in task["cookies"]]
    readers = [asyncio.create_task(_read(ws, into)) for ws in ours + bare]
    stop = asyncio.Event()
    pinger = asyncio.create_task(_ping(ours, stop))
    ready.put(len(ours))
    await asyncio.to_thread(done.wait)
    stop.set()
    pinger.cancel()
    for ws in ours + bare:
        await ws.close()
    await asyncio.gather(*readers, return_exceptions=True)
    results.put(into)


def client_process(task: dict[str, Any], ready: Any, done: Any, results: Any) -> None:
    asyncio.run(_client(task, ready, done, results))


async def _send(duration: float, ours_url: str, cookie: tuple[str, str], bare_url: str,
                stream: str) -> int:
    sender = await connect(ours_url, additional_headers={"Cookie": f"{cookie[0]}={cookie[1]}"},
                           compression=None)
    bare = await connect(bare_url, compression=None)
    # read what comes back on both (acks; the bare server's broadcast reaches the sender
    # too): a socket nobody reads stops answering pings and is closed after 40 s
    drains = [asyncio.create_task(_discard(ws)) for ws in (sender, bare)]
    count, start = 0, time.monotonic()
    while time.monotonic() - start < duration:
        count += 1
        await sender.send(json.dumps({"type": "send", "stream": stream,
                                      "client_message_id": f"b{count}",
                                      "body": _body("ours", count)}))
        await asyncio.sleep(0.05)
        frame = {"type": "message", "stream": stream, "seq": count,
                 "message": {"seq": count, "body": _body("bare", count)}}
        await bare.send(json.dumps({"type": "broadcast", "frame": frame}))
        await asyncio.sleep(0.05)
    await asyncio.sleep(3)  # let the last ones arrive
    for drain in drains:
        drain.cancel()
    await sender.close()
    await bare.close()
    return count


async def _discard(ws: ClientConnection) -> None:
    with contextlib.suppress(Exception):
        async for _ in ws:
            pass


async def main(quick: bool) -> None:
    sockets, duration = 1000, 10.0 if quick else 60.0
    context = mp.get_context("spawn")
    async with Env("fanout") as env:
        room_id, cookies = await env.seed(sockets)
        ws_urls = [ws_url(web) for web in env.start_web(2)]
        with bare_server() as (bare_url, _):
            stream = f"room:{room_id}"
            ready, done, results = context.Queue(), context.Event(), context.Queue()
            share = [cookies[1:][i::CLIENT_PROCESSES] for i in range(CLIENT_PROCESSES)]
            clients = [context.Process(target=client_process, daemon=True, args=(
                {"cookies": part, "ours": ws_urls, "bare": bare_url, "stream": stream},
                ready, done, results)) for part in share]
            for process in clients:
                process.start()
            connected = sum(ready.get(timeout=240) for _ in clients)
            print(f"{connected} sockets to ours (2 processes) and {connected} to the bare "
                  "server", flush=True)
            sent = await _send(duration, ws_urls[0], cookies[0], bare_url, stream)
            done.set()
            measured: dict[str, list[float]] = {"ours": [], "bare": []}
            for _ in clients:
                part = results.get(timeout=120)
                for kind in measured:
                    measured[kind].extend(part[kind])
            for process in clients:
                process.join(30)
        report(measured, sent, connected)


def report(measured: dict[str, list[float]], sent: int, sockets: int) -> None:
    for kind in ("ours", "bare"):
        values = measured[kind]
        print(f"{kind}: {len(values)} of {sent * sockets} deliveries, "
              f"p50 {percentile(values, 0.5):.1f} ms, p99 {percentile(values, 0.99):.1f} ms, "
              f"max {max(values, default=float('nan')):.1f} ms")
    ours, bare = percentile(measured["ours"], 0.99), percentile(measured["bare"], 0.99)
    print(f"fanout: ours={ours:.2f} baseline={bare:.2f} ratio={ours / bare:.2f} unit=ms_p99")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    asyncio.run(main(parser.parse_args().quick))
