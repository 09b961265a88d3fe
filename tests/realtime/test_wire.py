"""The socket taken over from ASGI (``hub.realtime.wire``): no task per idle socket, frames
sent before the take-over, back-pressure on a long resume, the server stopping, a client
sending text that is not UTF-8, and a server without the take-over."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
from starlette.applications import Starlette
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from hub.db.base import utcnow
from hub.db.engine import transaction
from hub.db.models import ChatMessage, Room
from hub.resources import Resources
from tests.conftest import LiveServer
from tests.helpers.auth import session_cookie
from tests.helpers.waiting import eventually
from tests.realtime.conftest import Zorg
from tests.realtime.wsclient import WsClient, login, ws_url


def _server_tasks() -> list[str]:
    """Tasks of the server side of sockets (the test's clients run in the same loop):
    uvicorn's ASGI task of a socket, our reader and resumes."""
    found = []
    for task in asyncio.all_tasks():
        code = getattr(task.get_coro(), "cr_code", None)
        if code is None or task.done():
            continue
        server_side = ("uvicorn/protocols/websockets" in code.co_filename
                       or code.co_filename.endswith("hub/realtime/connection.py"))
        if server_side:
            found.append(code.co_qualname)
    return found


async def _headers(hub: Resources, zorg: Zorg) -> dict[str, str]:
    name, value = await session_cookie(hub, zorg.anouk)
    return {"Cookie": f"{name}={value}"}


async def test_an_idle_socket_holds_no_task(hub: Resources, live: LiveServer,
                                            zorg: Zorg) -> None:
    stream = f"room:{zorg.room.id}"
    clients = [await login(hub, live.url, zorg.anouk) for _ in range(12)]
    for client in clients:
        await client.subscribe(stream)
    await clients[0].post(stream, "Iedereen hoort dit", "w1")
    for client in clients:
        await client.expect("message")
    await asyncio.sleep(0.2)
    # with a coroutine per socket (plain ASGI) there would be twelve here
    assert _server_tasks() == []
    for client in clients:
        await client.close()


async def test_frames_sent_before_the_take_over_are_answered_after_hello(
        hub: Resources, live: LiveServer, zorg: Zorg) -> None:
    stream = f"room:{zorg.room.id}"
    ws = await connect(ws_url(live.url, "/ws"), additional_headers=await _headers(hub, zorg),
                       compression=None)
    # at once, without waiting for hello: these reach the server before it takes over
    await ws.send(json.dumps({"type": "ping", "ref": "vroeg"}))
    await ws.send(json.dumps({"type": "subscribe", "stream": stream}))
    kinds = []
    async with asyncio.timeout(5):
        while "synced" not in kinds:
            kinds.append(json.loads(await ws.recv())["type"])
    assert kinds == ["hello", "pong", "subscribed", "synced"]
    await ws.close()


async def test_a_long_resume_waits_for_a_slow_reader_instead_of_dropping_it(
        hub: Resources, live: LiveServer, zorg: Zorg) -> None:
    """6 MB of missed messages against a 32 KiB send buffer: the resume waits whenever
    the client falls behind (the connection's buffer is full) and goes on when it has
    read; nothing is dropped, nothing is lost."""
    count, body = 2000, "x" * 3000
    async with transaction(hub.sessions) as db:
        room = await db.get_one(Room, zorg.room.id)
        now = utcnow()
        db.add_all([ChatMessage(organisation_id=zorg.org.id, room_id=room.id, seq=seq,
                                sender_staff_id=zorg.coordinator.id,
                                client_message_id=f"bulk{seq}", body=body, mentions=[],
                                created_at=now)
                    for seq in range(1, count + 1)])
        room.last_seq = count
    ws = await connect(ws_url(live.url, "/ws"), additional_headers=await _headers(hub, zorg),
                       compression=None, max_queue=2)
    await ws.send(json.dumps({"type": "subscribe", "stream": f"room:{zorg.room.id}",
                              "after": 0}))
    seqs: list[int] = []
    async with asyncio.timeout(60):
        while True:
            frame = json.loads(await ws.recv())
            if frame["type"] == "message":
                seqs.append(frame["seq"])
                if len(seqs) % 50 == 0:
                    await asyncio.sleep(0.02)  # a phone on a slow network
            elif frame["type"] == "synced":
                break
    assert seqs == list(range(1, count + 1))
    await ws.send(json.dumps({"type": "ping", "ref": "nog-daar"}))
    async with asyncio.timeout(5):
        while json.loads(await ws.recv())["type"] != "pong":
            pass
    await ws.close()


async def test_a_stopping_server_closes_its_sockets_with_1012(
        hub: Resources, live: LiveServer, zorg: Zorg) -> None:
    client = await login(hub, live.url, zorg.anouk)
    await client.subscribe(f"room:{zorg.room.id}")
    started = time.monotonic()
    await live.stop()  # uvicorn waits for its connections: a lost socket would hang here
    assert time.monotonic() - started < 5
    await asyncio.wait_for(client.reader, 5)  # it ends when the socket is closed
    assert client.closed_code == 1012  # service restart: the client resumes elsewhere


async def test_text_that_is_not_utf8_closes_the_socket_with_1007(
        hub: Resources, live: LiveServer, zorg: Zorg) -> None:
    ws = await connect(ws_url(live.url, "/ws"), additional_headers=await _headers(hub, zorg),
                       compression=None)
    assert json.loads(await ws.recv())["type"] == "hello"
    await ws.send(b"\xff\xfe", text=True)
    with pytest.raises(ConnectionClosed):
        async with asyncio.timeout(5):
            await ws.recv()
    assert ws.close_code == 1007


async def test_under_another_asgi_server_the_endpoint_refuses(
        app: Starlette, hub: Resources, zorg: Zorg) -> None:
    server = LiveServer(app)  # uvicorn's own websockets protocol, no take-over
    await server.start()
    try:
        with pytest.raises(InvalidStatus):
            await connect(ws_url(server.url, "/ws"),
                          additional_headers=await _headers(hub, zorg), open_timeout=5)
    finally:
        await server.stop()


async def test_a_client_that_goes_away_is_forgotten(hub: Resources, live: LiveServer,
                                                    zorg: Zorg) -> None:
    client: WsClient = await login(hub, live.url, zorg.anouk)
    await client.subscribe(f"room:{zorg.room.id}")
    client.ws.transport.abort()  # the network drops: no closing handshake
    async def offline() -> bool:  # the socket's presence ends with it
        return not await hub.redis.hlen(f"hub:{zorg.org.id}:presence:state")

    await eventually(offline, seconds=5, every=0.02)
    assert _server_tasks() == []
