"""Two real uvicorn processes behind one Redis: cross-process delivery, resume after a
dropped socket and after ``kill -9``, a Redis restart, and rights revoked mid-stream.

Every receiver must end with the sequence numbers 1..N, each exactly once, in order,
and the database must hold each message once."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from hub.chat import rooms
from hub.db.models import ChatMessage
from hub.events import unit_of_work
from hub.privateredis import PrivateRedis
from hub.resources import Resources
from hub.settings import Settings
from tests.helpers.auth import session_cookie
from tests.realtime.conftest import Zorg, principal
from tests.realtime.processes import WebProcess, hub_env
from tests.realtime.resilient import Receiver, Sender
from tests.realtime.wsclient import open_client

pytestmark = pytest.mark.slow


class Pair:
    def __init__(self, env: dict[str, str], folder: Path) -> None:
        self.a = WebProcess(env, folder / "a.log")
        self.b = WebProcess(env, folder / "b.log")

    def start(self) -> None:
        for web in (self.a, self.b):
            if not web.alive:
                web.start()

    def alive(self) -> list[str]:
        return [w.url for w in (self.a, self.b) if w.alive]

    def stop(self) -> None:
        for web in (self.a, self.b):
            web.stop()


@pytest.fixture(scope="module")
def pair(database_url: str, redis_server: PrivateRedis,
         tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pair]:
    folder = tmp_path_factory.mktemp("web")
    both = Pair(hub_env(database_url, redis_server.url, folder / "data"), folder)
    both.start()
    yield both
    both.stop()


@pytest.fixture
def web(pair: Pair, hub: Resources) -> Pair:
    pair.start()  # a test may have killed one
    return pair


async def _count(hub: Resources, room_id: int) -> int:
    async with hub.sessions() as db:
        return int(await db.scalar(select(func.count()).select_from(ChatMessage).where(
            ChatMessage.room_id == room_id)) or 0)


def _exactly(receiver: Receiver, n: int) -> None:
    assert receiver.seqs == list(range(1, n + 1)), receiver.seqs
    assert receiver.bodies == [f"bericht {i}" for i in range(1, n + 1)]


async def test_a_message_sent_to_one_process_reaches_sockets_on_the_other(
        hub: Resources, web: Pair, zorg: Zorg) -> None:
    stream = f"room:{zorg.room.id}"
    on_b = await open_client(web.b.url, await session_cookie(hub, zorg.anouk))
    await on_b.subscribe(stream)
    sender = Sender(lambda: [web.a.url], await session_cookie(hub, zorg.coordinator), stream)
    for i in range(1, 21):
        assert await sender.send(f"m{i}", f"bericht {i}") == i
    for i in range(1, 21):
        assert (await on_b.expect("message"))["seq"] == i
    await sender.close()
    await on_b.close()


async def _stream_with(sender: Sender, n: int, during: int, action: Callable[[], object]) -> None:
    """Send ``n`` messages; after message ``during``, do ``action`` (without waiting)."""
    for i in range(1, n + 1):
        await sender.send(f"m{i}", f"bericht {i}")
        if i == during:
            action()
        await asyncio.sleep(0.01)


async def test_resume_after_a_dropped_socket_gets_every_message_once_in_order(
        hub: Resources, web: Pair, zorg: Zorg) -> None:
    stream, n = f"room:{zorg.room.id}", 60
    receiver = Receiver(lambda: [web.b.url], await session_cookie(hub, zorg.anouk), stream)
    watching = asyncio.create_task(receiver.run(lambda r: r.last >= n, within=40))
    await asyncio.wait_for(receiver.synced.wait(), 10)
    sender = Sender(lambda: [web.a.url], await session_cookie(hub, zorg.coordinator), stream)
    await _stream_with(sender, n, 20, receiver.drop_socket)
    await watching
    _exactly(receiver, n)
    assert receiver.connections >= 2
    await sender.close()


async def test_kill_9_of_the_process_a_client_was_on_loses_nothing(
        hub: Resources, web: Pair, zorg: Zorg) -> None:
    """Sender and one receiver are on B, which is killed mid-stream; they move to A."""
    stream, n = f"room:{zorg.room.id}", 60
    def order() -> list[str]:  # B first, A once B is gone
        return [u for u in (web.b.url, web.a.url) if u in web.alive()]

    on_b = Receiver(order, await session_cookie(hub, zorg.anouk), stream)
    on_a = Receiver(lambda: [web.a.url], await session_cookie(hub, zorg.coordinator), stream)
    tasks = [asyncio.create_task(r.run(lambda r: r.last >= n, within=60))
             for r in (on_a, on_b)]
    for receiver in (on_a, on_b):
        await asyncio.wait_for(receiver.synced.wait(), 10)
    sender = Sender(order, await session_cookie(hub, zorg.coordinator), stream)
    await _stream_with(sender, n, 25, web.b.kill9)
    await asyncio.gather(*tasks)
    _exactly(on_a, n)
    _exactly(on_b, n)
    assert on_b.connections == 2
    assert await _count(hub, zorg.room.id) == n
    await sender.close()


async def test_revoked_member_stops_receiving_at_once(
        hub: Resources, web: Pair, zorg: Zorg) -> None:
    stream = f"room:{zorg.room.id}"
    member = await open_client(web.b.url, await session_cookie(hub, zorg.anouk))
    await member.subscribe(stream)
    sender = Sender(lambda: [web.a.url], await session_cookie(hub, zorg.coordinator), stream)
    for i in range(1, 6):
        await sender.send(f"m{i}", f"bericht {i}")
    async with unit_of_work(hub.sessions, hub.events) as db:
        await rooms.remove_member(db, principal(zorg.coordinator), zorg.room.id, zorg.anouk.id)
    # the removal is committed and announced: nothing sent from now on may arrive
    for i in range(6, 16):
        await sender.send(f"m{i}", f"bericht {i}")
    revoked = await member.expect("unsubscribed")
    assert revoked == {"type": "unsubscribed", "stream": stream, "reason": "access_revoked"}
    await asyncio.sleep(0.5)
    assert max(member.message_seqs(stream)) <= 5
    await member.send({"type": "subscribe", "stream": stream, "after": 0})
    refused = await member.expect("error")
    assert refused["code"] == "not_allowed" and refused["stream"] == stream
    assert (await member.post(stream, "mag dit nog?", "x1"))["code"] == "not_allowed"
    assert await _count(hub, zorg.room.id) == 15
    await sender.close()
    await member.close()


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    server = PrivateRedis(tmp_path / "redis")
    server.start()
    yield server
    server.stop()


async def test_a_redis_restart_mid_stream_loses_nothing(
        hub: Resources, settings: Settings, own_redis: PrivateRedis, zorg: Zorg,
        tmp_path: Path) -> None:
    env = hub_env(settings.database_url, own_redis.url, tmp_path / "data")
    a, b = WebProcess(env, tmp_path / "a.log"), WebProcess(env, tmp_path / "b.log")
    try:
        await asyncio.to_thread(a.start)
        await asyncio.to_thread(b.start)
        stream, n = f"room:{zorg.room.id}", 60
        receiver = Receiver(lambda: [b.url], await session_cookie(hub, zorg.anouk), stream)
        watching = asyncio.create_task(receiver.run(lambda r: r.last >= n, within=60))
        await asyncio.wait_for(receiver.synced.wait(), 10)
        sender = Sender(lambda: [a.url], await session_cookie(hub, zorg.coordinator), stream)

        for i in range(1, n + 1):
            if i == 31:
                await asyncio.to_thread(own_redis.stop)
            # the last half is stored while Redis is down: nothing is published, and no
            # later message reveals the gap; the processes must catch up on their own
            await sender.send(f"m{i}", f"bericht {i}")
        await asyncio.to_thread(own_redis.start)
        await watching
        _exactly(receiver, n)
        assert receiver.connections == 1  # resumed by the server, not by reconnecting
        await sender.close()
    finally:
        a.stop()
        b.stop()


async def test_updates_and_the_inbox_stream_cross_processes(
        hub: Resources, web: Pair, zorg: Zorg) -> None:
    """A portal user on one process, a colleague on the other: the colleague's inbox
    stream hears of the new message, a socket read on A turns the reply "read" for B,
    and a worker's delivery update reaches a socket that already holds the message."""
    from hub.db.engine import transaction
    from hub.db.models import Conversation, Message
    from hub.inbox.store import announce_update
    from tests.factories import make_client, make_conversation, make_portal_user

    async with transaction(hub.sessions) as db:
        client = await make_client(db, zorg.org, caseload_of=zorg.anouk)
        conversation = await make_conversation(db, zorg.org, client=client, channel="portal")
        daughter = await make_portal_user(db, zorg.org, clients=(client,), name="Ingrid Bakker")
    stream = f"conversation:{conversation.id}"
    staff = await open_client(web.b.url, await session_cookie(hub, zorg.anouk))
    portal = await open_client(web.a.url, await session_cookie(hub, daughter), "/portal/ws")
    await staff.send({"type": "subscribe", "stream": "inbox", "ref": "i"})
    await staff.expect(lambda f: f.get("ref") == "i")
    await staff.subscribe(stream)
    await portal.subscribe(stream)
    await portal.post(stream, "Komt er vandaag iemand?", "p1")
    assert (await staff.expect("conversation_updated"))["stream"] == "inbox"
    reply = await staff.post(stream, "Ja, om vier uur.", "s1")
    await portal.send({"type": "read", "stream": stream, "seq": reply["seq"]})
    assert (await staff.expect("delivery"))["up_to"] == reply["seq"]
    async with unit_of_work(hub.sessions, hub.events) as db:
        message = await db.get(Message, reply["id"])
        current = await db.get(Conversation, conversation.id)
        assert message is not None and current is not None
        assert message.delivery_status == "read"
        message.delivery_error = "voorbeeld"
        await db.flush()
        announce_update(db, current, message)
    for ws in (staff, portal):
        got = await ws.expect("message_updated")
        assert (got["seq"], got["message"]["delivery_status"]) == (reply["seq"], "read")
        await ws.close()
