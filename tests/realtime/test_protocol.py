"""The frame protocol over a real socket: bad input, rights at subscribe time, exactly-once
sends, edits and deletes as events (also after a resume), typing, receipts, floods."""

from __future__ import annotations

import asyncio
import contextlib
import json

from sqlalchemy import func, select
from websockets.exceptions import ConnectionClosed

from hub.chat import rooms
from hub.db.engine import transaction
from hub.db.models import ChatMessage, PushSubscription
from hub.events import unit_of_work
from hub.realtime.topics import room_channel
from hub.realtime.webpush import b64url
from hub.resources import Resources
from tests.conftest import LiveServer
from tests.factories import make_org, make_staff
from tests.realtime.conftest import Zorg, principal
from tests.realtime.wsclient import login


async def test_bad_frames_get_error_frames_and_the_socket_goes_on(
        hub: Resources, live: LiveServer, zorg: Zorg) -> None:
    ws = await login(hub, live.url, zorg.anouk)
    stream = f"room:{zorg.room.id}"
    cases = [
        ("{not json", "bad_frame"),
        ("[1, 2]", "bad_frame"),
        (json.dumps({"type": "explode"}), "unknown_type"),
        (json.dumps({"type": "subscribe", "stream": "room:abc"}), "bad_frame"),
        (json.dumps({"type": "subscribe", "stream": stream, "after": -1}), "bad_frame"),
        (json.dumps({"type": "send", "stream": stream, "client_message_id": "a b",
                     "body": "x"}), "bad_frame"),
        (json.dumps({"type": "send", "stream": stream, "client_message_id": "c1",
                     "body": "  "}), "invalid_input"),
        (json.dumps({"type": "typing", "stream": stream}), "not_subscribed"),
        (json.dumps({"type": "unsubscribe", "stream": stream}), "not_subscribed"),
        (json.dumps({"type": "presence", "state": "asleep"}), "invalid_input"),
        (json.dumps({"type": "push_subscribe", "subscription": {"endpoint": "ftp://x"}}),
         "invalid_input"),
        (json.dumps({"type": "ping", "pad": "x" * 5000}), "frame_too_large"),
    ]
    for text, code in cases:
        await ws.send_raw(text)
        assert (await ws.expect("error"))["code"] == code, text
    await ws.send_raw(b"\x00\x01binary")
    assert (await ws.expect("error"))["code"] == "bad_frame"
    await ws.send({"type": "ping", "ref": "nog-daar"})
    assert (await ws.expect("pong"))["ref"] == "nog-daar"
    await ws.close()


async def test_streams_one_may_not_see_are_refused_alike_and_leak_nothing(
        hub: Resources, live: LiveServer, zorg: Zorg) -> None:
    async with transaction(hub.sessions) as db:
        other_org = await make_org(db)
        outsider = await make_staff(db, other_org, role="coordinator")
        their_room = await rooms.create_group_room(db, principal(outsider), "Elders", set())
    bram = await login(hub, live.url, zorg.bram)  # same organisation, not a member
    foreign = await login(hub, live.url, outsider)
    member = await login(hub, live.url, zorg.anouk)
    stream = f"room:{zorg.room.id}"
    await member.subscribe(stream)
    for ws, target in ((bram, stream), (foreign, stream), (bram, f"room:{their_room.id}"),
                       (bram, "room:999999"), (bram, "conversation:999999")):
        refused = await ws.subscribe(target)
        assert refused["code"] == "not_allowed" and refused["message"] == (
            "no access to this stream")
    await member.post(stream, "Alleen voor leden", "m1")
    await member.expect("message")
    await asyncio.sleep(0.3)
    assert bram.of_type("message") == [] and foreign.of_type("message") == []
    for ws in (bram, foreign, member):
        await ws.close()


async def test_a_retried_send_is_stored_once_and_acknowledged_with_the_same_seq(
        hub: Resources, live: LiveServer, zorg: Zorg) -> None:
    ws = await login(hub, live.url, zorg.anouk)
    stream = f"room:{zorg.room.id}"
    first = await ws.post(stream, "Dienst overgenomen", "retry-1")
    again = await ws.post(stream, "Dienst overgenomen", "retry-1")
    assert (first["seq"], first["duplicate"]) == (1, False)
    assert (again["seq"], again["id"], again["duplicate"]) == (1, first["id"], True)
    async with hub.sessions() as db:
        assert await db.scalar(select(func.count()).select_from(ChatMessage)) == 1
    await ws.close()


async def test_edits_and_deletes_are_events_live_and_after_a_resume(
        hub: Resources, live: LiveServer, zorg: Zorg) -> None:
    stream = f"room:{zorg.room.id}"
    author = await login(hub, live.url, zorg.anouk)
    watcher = await login(hub, live.url, zorg.coordinator)
    await author.subscribe(stream)
    await watcher.subscribe(stream)
    await author.post(stream, "Medicatie om 8 uur", "m1")
    await author.post(stream, "Klopt niet", "m2")
    await author.send({"type": "edit", "stream": stream, "seq": 1, "body": "Medicatie om 9 uur",
                       "ref": "e1"})
    assert (await author.expect(lambda f: f.get("ref") == "e1"))["seq"] == 3
    await author.send({"type": "delete", "stream": stream, "seq": 2, "ref": "d1"})
    assert (await author.expect(lambda f: f.get("ref") == "d1"))["seq"] == 4
    edited = await watcher.expect("message_edited")
    assert (edited["seq"], edited["message"]["seq"]) == (3, 1)
    assert edited["message"]["body"] == "Medicatie om 9 uur"
    deleted = await watcher.expect("message_deleted")
    assert deleted["message"]["deleted"] is True and deleted["message"]["body"] == ""
    # someone who had seen seq 2 resumes: the changes come from the database
    late = await login(hub, live.url, zorg.coordinator)
    await late.subscribe(stream, after=2)
    assert [(f["type"], f["seq"]) for f in late.frames if "seq" in f and f["type"] != "synced"
            ] == [("message_edited", 3), ("message_deleted", 4)]
    fresh = await login(hub, live.url, zorg.coordinator)
    await fresh.subscribe(stream, after=0)
    assert [f["message"]["body"] for f in fresh.of_type("message")] == [
        "Medicatie om 9 uur", ""]
    await author.send({"type": "edit", "stream": stream, "seq": 1, "body": "x"})
    assert (await watcher.expect("message_edited"))["seq"] == 5
    await watcher.send({"type": "edit", "stream": stream, "seq": 1, "body": "van mij"})
    assert (await watcher.expect("error"))["code"] == "not_allowed"
    for ws in (author, watcher, late, fresh):
        await ws.close()


async def test_typing_and_read_receipts_reach_the_others(
        hub: Resources, live: LiveServer, zorg: Zorg) -> None:
    stream = f"room:{zorg.room.id}"
    anouk = await login(hub, live.url, zorg.anouk)
    carla = await login(hub, live.url, zorg.coordinator)
    await anouk.subscribe(stream)
    await carla.subscribe(stream)
    await anouk.send({"type": "typing", "stream": stream})
    await anouk.send({"type": "typing", "stream": stream})  # within 2 s: not sent again
    typing = await carla.expect("typing")
    assert typing["user"] == {"kind": "staff", "id": zorg.anouk.id, "name": "Anouk Visser"}
    await carla.post(stream, "Lees je mee?", "c1")
    await anouk.send({"type": "read", "stream": stream, "seq": 1, "ref": "r1"})
    assert (await anouk.expect(lambda f: f.get("ref") == "r1"))["seq"] == 1
    receipt = await carla.expect("read")
    assert (receipt["user"]["id"], receipt["seq"]) == (zorg.anouk.id, 1)
    await asyncio.sleep(0.2)
    assert len(carla.of_type("typing")) == 1
    again = await login(hub, live.url, zorg.coordinator)
    await again.send({"type": "subscribe", "stream": stream, "after": 1})
    subscribed = await again.expect("subscribed")
    assert {"user": f"staff:{zorg.anouk.id}", "seq": 1} in subscribed["reads"]
    for ws in (anouk, carla, again):
        await ws.close()


async def test_presence_online_away_offline(
        hub: Resources, live: LiveServer, zorg: Zorg) -> None:
    carla = await login(hub, live.url, zorg.coordinator)
    await carla.send({"type": "subscribe", "stream": "presence"})
    snapshot = await carla.expect("presence_snapshot")
    assert snapshot["users"] == {f"staff:{zorg.coordinator.id}": "online"}
    anouk = await login(hub, live.url, zorg.anouk)
    key = f"staff:{zorg.anouk.id}"
    online = await carla.expect(lambda f: f.get("type") == "presence" and f["user"] == key)
    assert (online["state"], online["name"]) == ("online", "Anouk Visser")
    await anouk.send({"type": "presence", "state": "away"})
    assert (await carla.expect("presence"))["state"] == "away"
    await anouk.close()
    assert (await carla.expect("presence"))["state"] == "offline"
    await carla.close()


async def test_a_flood_closes_the_socket_with_the_documented_code(
        hub: Resources, live: LiveServer, zorg: Zorg) -> None:
    ws = await login(hub, live.url, zorg.anouk)
    for _ in range(61):
        await ws.send({"type": "ping"})
    assert await ws.wait_closed() == 4029


async def test_a_client_that_does_not_read_is_dropped_and_can_resume(
        hub: Resources, live: LiveServer, zorg: Zorg) -> None:
    stream = f"room:{zorg.room.id}"
    slow = await login(hub, live.url, zorg.anouk)
    await slow.subscribe(stream)
    slow.reader.cancel()  # stop reading: the kernel buffers fill, then our queue
    async with transaction(hub.sessions) as db:
        room = await rooms.room_for(db, principal(zorg.anouk), zorg.room.id)
        start = room.last_seq
    body = "x" * 3000
    for seq in range(start + 1, start + 2001):
        frame = {"type": "message", "stream": stream, "seq": seq, "message": {"body": body}}
        await hub.redis.publish(room_channel(zorg.org.id, zorg.room.id), json.dumps(frame))
    other = await login(hub, live.url, zorg.coordinator)  # the server goes on for others
    await other.send({"type": "ping"})
    await other.expect("pong")
    seqs = []
    with contextlib.suppress(ConnectionClosed, TimeoutError):
        async with asyncio.timeout(15):
            async for raw in slow.ws:  # reading again: what was queued, then the end
                seqs.append(json.loads(raw).get("seq"))
    got = [s for s in seqs if isinstance(s, int) and s > start]
    assert got == list(range(start + 1, start + 1 + len(got)))  # in order, no holes
    assert len(got) < 2000  # dropped long before the end, instead of queueing 6 MB
    assert slow.ws.close_code in {4008, 1006}
    await other.close()


async def test_push_subscriptions_are_stored_once_per_endpoint(
        hub: Resources, live: LiveServer, zorg: Zorg) -> None:
    ws = await login(hub, live.url, zorg.anouk)
    subscription = {"endpoint": "https://push.example.nl/abc",
                    "keys": {"p256dh": b64url(b"\x04" + b"k" * 64), "auth": b64url(b"a" * 16)}}
    for ref in ("p1", "p2"):
        await ws.send({"type": "push_subscribe", "subscription": subscription, "ref": ref})
        await ws.expect(lambda f, r=ref: f.get("ref") == r)  # type: ignore[misc]
    async with hub.sessions() as db:
        rows = (await db.scalars(select(PushSubscription))).all()
    assert [(r.staff_id, r.endpoint) for r in rows] == [(zorg.anouk.id, subscription["endpoint"])]
    await ws.close()


async def test_a_removed_member_is_told_and_gets_nothing_more(
        hub: Resources, live: LiveServer, zorg: Zorg) -> None:
    stream = f"room:{zorg.room.id}"
    anouk = await login(hub, live.url, zorg.anouk)
    carla = await login(hub, live.url, zorg.coordinator)
    await anouk.subscribe(stream)
    await carla.subscribe(stream)
    async with unit_of_work(hub.sessions, hub.events) as db:
        await rooms.remove_member(db, principal(zorg.coordinator), zorg.room.id, zorg.anouk.id)
    assert (await anouk.expect("unsubscribed"))["reason"] == "access_revoked"
    await carla.post(stream, "Na het vertrek", "c1")
    await carla.expect("message")
    await asyncio.sleep(0.2)
    assert anouk.of_type("message") == []
    await anouk.close()
    await carla.close()
