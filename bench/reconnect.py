"""Reconnect storm: 1,000 clients lose their sockets at once and come back within one
second (the wifi of a whole care home hiccups); each resumes with its last sequence
number and must get exactly the messages it missed. Next to the same storm against a
bare ``websockets`` server that answers a resume at once (handshake plus one round trip:
the floor of any resume), in the same run.

    python bench/reconnect.py            # 1,000 clients
    python bench/reconnect.py --quick    # 1,000 clients, fewer messages (within 45 s)

Ours: two ``hub web`` processes; every reconnect is authenticated (session cookie),
re-subscribes (rights checked), reads the gap from the database and gets ``synced``.
The figure is, per client, the time from starting to reconnect to ``synced`` with every
missed message in hand.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import random
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from websockets.asyncio.client import ClientConnection, connect

from bench.realtime_env import Env, bare_server, percentile, ws_url

CLIENT_PROCESSES = 4


async def _resume(url: str, cookie: tuple[str, str] | None, stream: str,
                  after: int) -> tuple[ClientConnection, list[int]]:
    headers = {"Cookie": f"{cookie[0]}={cookie[1]}"} if cookie else {}
    ws = await connect(url, additional_headers=headers, compression=None, open_timeout=60)
    await ws.send(json.dumps({"type": "subscribe", "stream": stream, "after": after}))
    seqs = []
    while True:
        frame = json.loads(await ws.recv())
        if frame.get("type") == "message":
            seqs.append(frame["seq"])
        if frame.get("type") == "synced":
            return ws, seqs


async def _storm(task: dict[str, Any], urls: list[str], cookies: list[Any],
                 after: list[int]) -> list[tuple[float, list[int]]]:
    """Everyone reconnects at a random moment within one second."""
    async def one(index: int) -> tuple[float, list[int]]:
        await asyncio.sleep(random.random())
        started = time.monotonic()
        ws, seqs = await _resume(urls[index % len(urls)], cookies[index], task["stream"],
                                 after[index])
        elapsed = time.monotonic() - started
        await ws.close()
        return elapsed * 1000, seqs

    return await asyncio.gather(*(one(i) for i in range(len(cookies))))


async def _client(task: dict[str, Any], pipe: Any) -> None:
    cookies = task["cookies"]
    sockets = [(await _resume(task["ours"][i % 2], c, task["stream"], 0))[0]
               for i, c in enumerate(cookies)]
    pipe.send("connected")
    pipe.recv()  # the sender has posted the first messages
    for ws in sockets:
        ws.transport.abort()  # the network drops: no closing handshake
    pipe.send("dropped")
    after = [pipe.recv()] * len(cookies)  # what everyone had seen before the drop
    ours = await _storm(task, task["ours"], cookies, after)
    bare = await _storm(task, [task["bare"]], [None] * len(cookies), after)
    pipe.send({"ours": ours, "bare": bare})


def client_process(task: dict[str, Any], pipe: Any) -> None:
    asyncio.run(_client(task, pipe))


async def _post(url: str, cookie: tuple[str, str], stream: str, first: int,
                count: int) -> None:
    ws = await connect(url, additional_headers={"Cookie": f"{cookie[0]}={cookie[1]}"},
                       compression=None)
    for number in range(first, first + count):
        await ws.send(json.dumps({"type": "send", "stream": stream,
                                  "client_message_id": f"r{number}", "body": f"bericht {number}"}))
        while json.loads(await ws.recv()).get("type") != "ack":
            pass
    await ws.close()


async def main(quick: bool) -> None:
    clients, missed = 1000, 5 if quick else 20
    context = mp.get_context("spawn")
    async with Env("reconnect") as env:
        room_id, cookies = await env.seed(clients)
        urls = [ws_url(web) for web in env.start_web(2)]
        with bare_server() as (bare_url, _):
            stream = f"room:{room_id}"
            pipes, processes = [], []
            for part in (cookies[1:][i::CLIENT_PROCESSES] for i in range(CLIENT_PROCESSES)):
                mine, theirs = context.Pipe()
                task = {"cookies": part, "ours": urls, "bare": bare_url, "stream": stream}
                processes.append(context.Process(target=client_process, args=(task, theirs),
                                                 daemon=True))
                pipes.append(mine)
            for process in processes:
                process.start()
            for pipe in pipes:
                assert pipe.recv() == "connected"
            await _post(urls[0], cookies[0], stream, 1, 3)
            for pipe in pipes:
                pipe.send("drop")
            for pipe in pipes:
                assert pipe.recv() == "dropped"
            await _post(urls[0], cookies[0], stream, 4, missed)  # while everyone is away
            for pipe in pipes:
                pipe.send(3)
            results = [pipe.recv() for pipe in pipes]
    report(results, list(range(4, 4 + missed)), clients)


def report(results: list[dict[str, Any]], expected: list[int], clients: int) -> None:
    ours = [r for part in results for r in part["ours"]]
    bare = [r for part in results for r in part["bare"]]
    complete = sum(1 for _, seqs in ours if seqs == expected)
    print(f"ours: {complete} of {clients} clients resynced with exactly the {len(expected)} "
          f"missed messages; p50 {percentile([t for t, _ in ours], 0.5):.0f} ms, "
          f"p99 {percentile([t for t, _ in ours], 0.99):.0f} ms")
    print(f"bare: {len(bare)} reconnects, p50 {percentile([t for t, _ in bare], 0.5):.0f} ms, "
          f"p99 {percentile([t for t, _ in bare], 0.99):.0f} ms")
    mine, floor = percentile([t for t, _ in ours], 0.99), percentile([t for t, _ in bare], 0.99)
    print(f"reconnect: ours={mine:.1f} baseline={floor:.1f} ratio={mine / floor:.2f} "
          "unit=ms_p99")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    asyncio.run(main(parser.parse_args().quick))
