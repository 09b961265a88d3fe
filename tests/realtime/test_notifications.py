"""Offline notifications: planned with the message, sent after the delay by the worker
job (web push, else email), cancelled by reading first, caught up by the sweep. Push goes
to a local push endpoint that checks the request as a push service would (RFC 8030 /
8291 / 8292) and decrypts it; mail goes to a real SMTP server on loopback."""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
from collections.abc import AsyncIterator, Iterator
from typing import Any

import http_ece
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from sqlalchemy import event, select, update
from sqlalchemy.engine import Engine
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from hub.chat import rooms
from hub.db.base import utcnow
from hub.db.engine import transaction
from hub.db.models import PendingNotification, PushSubscription
from hub.events import unit_of_work
from hub.realtime import webpush
from hub.resources import Resources
from hub.settings import Settings
from tests.conftest import LiveServer
from tests.factories import make_client, make_conversation, make_portal_user, make_staff
from tests.helpers.smtp import SmtpCapture, body_of
from tests.realtime.conftest import Zorg, principal
from tests.realtime.wsclient import login
from workers.notify import send_notification, send_notifications, sweep_notifications


@pytest.fixture
def smtp() -> Iterator[SmtpCapture]:
    with SmtpCapture() as capture:
        yield capture


@pytest.fixture
def settings(settings: Settings, smtp: SmtpCapture) -> Settings:
    return settings.with_changes(**smtp.settings(), notify_delay_seconds=60)


class PushService:
    """A push service on loopback: checks VAPID and encryption, answers ``status``."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.status = 201
        self.app = Starlette(routes=[Route("/push/{token}", self.push, methods=["POST"])])

    async def push(self, request: Request) -> Response:
        self.received.append({"headers": dict(request.headers), "body": await request.body(),
                              "url": str(request.url)})
        return Response(status_code=self.status)


@pytest.fixture
async def push_service() -> AsyncIterator[tuple[PushService, str]]:
    service = PushService()
    server = LiveServer(service.app)
    await server.start()
    yield service, server.url
    await server.stop()


def _browser_keys() -> tuple[ec.EllipticCurvePrivateKey, bytes, dict[str, str]]:
    """What a browser makes when it subscribes: a P-256 key pair and an auth secret."""
    key = ec.generate_private_key(ec.SECP256R1())
    auth = os.urandom(16)
    public = key.public_key().public_bytes(serialization.Encoding.X962,
                                           serialization.PublicFormat.UncompressedPoint)
    return key, auth, {"p256dh": webpush.b64url(public), "auth": webpush.b64url(auth)}


def _check_vapid(header: str, endpoint_origin: str, expected_key: str) -> None:
    assert header.startswith("vapid t=")
    token, _, k = header[len("vapid t="):].partition(", k=")
    assert k == expected_key
    head, claims, signature = token.split(".")
    public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), webpush.unb64url(k))
    raw = webpush.unb64url(signature)
    der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    public.verify(der, f"{head}.{claims}".encode(), ec.ECDSA(hashes.SHA256()))  # raises if bad
    body = json.loads(base64.urlsafe_b64decode(claims + "=="))
    assert body["aud"] == endpoint_origin and body["exp"] > utcnow().timestamp()
    assert body["sub"].startswith("mailto:")


async def _make_due(hub: Resources) -> list[PendingNotification]:
    async with transaction(hub.sessions) as db:
        await db.execute(update(PendingNotification).values(
            due_at=utcnow() - dt.timedelta(seconds=1)))
        return list((await db.scalars(select(PendingNotification))).all())


async def _add_to_room(hub: Resources, zorg: Zorg, staff_ids: set[int]) -> None:
    async with unit_of_work(hub.sessions, hub.events) as db:
        await rooms.add_members(db, principal(zorg.coordinator), zorg.room.id, staff_ids)


async def test_an_offline_member_is_mailed_a_link_not_the_message(
        hub: Resources, live: LiveServer, zorg: Zorg, smtp: SmtpCapture) -> None:
    await _add_to_room(hub, zorg, {zorg.bram.id})
    stream = f"room:{zorg.room.id}"
    bram = await login(hub, live.url, zorg.bram)  # online: no notification for him
    carla = await login(hub, live.url, zorg.coordinator)
    await carla.post(stream, "Mevrouw Jansen is gevallen", "c1")
    async with hub.sessions() as db:
        planned = (await db.scalars(select(PendingNotification))).all()
    assert [(n.staff_id, n.stream, n.seq) for n in planned] == [(zorg.anouk.id, stream, 1)]
    assert await hub.jobs.exists(f"arq:job:notify:{stream}:seq:1")  # one job per message
    ctx = {"hub": hub}
    assert await send_notification(ctx, planned[0].id) == "not_due"
    await _make_due(hub)
    assert await send_notification(ctx, planned[0].id) == "email"
    assert await send_notification(ctx, planned[0].id) == "taken"
    mail = (await smtp.wait_for(1))[0]
    assert mail["To"] == zorg.anouk.email
    text = body_of(mail)
    assert f"http://127.0.0.1:8000/app/chat/{zorg.room.id}" in text
    assert "Jansen" not in text and "gevallen" not in text and "Jansen" not in mail["Subject"]
    assert len(smtp.messages) == 1
    await bram.close()
    await carla.close()


async def test_a_room_of_many_off_duty_colleagues_is_planned_in_a_few_statements(
        hub: Resources, live: LiveServer, zorg: Zorg, smtp: SmtpCapture) -> None:
    """Twelve offline members: their notifications cost the send a handful of statements
    (not four each), and one job per message sends them all."""
    async with unit_of_work(hub.sessions, hub.events) as db:
        off_duty = [await make_staff(db, zorg.org) for _ in range(12)]
    await _add_to_room(hub, zorg, {s.id for s in off_duty})
    stream = f"room:{zorg.room.id}"
    carla = await login(hub, live.url, zorg.coordinator)
    await carla.subscribe(stream)
    statements: list[str] = []

    def count(conn: Any, cursor: Any, sql: str, *args: Any) -> None:
        statements.append(sql)

    event.listen(Engine, "before_cursor_execute", count)
    try:
        await carla.post(stream, "Wie kan zaterdag de late dienst doen?", "c1")
    finally:
        event.remove(Engine, "before_cursor_execute", count)
    async with hub.sessions() as db:
        planned = (await db.scalars(select(PendingNotification))).all()
    wanted = {zorg.anouk.id, *(s.id for s in off_duty)}
    assert {n.staff_id for n in planned} == wanted
    touching = [s for s in statements if "pending_notifications" in s]
    assert len(touching) == 2, touching  # what is pending, then one insert for all
    assert len(statements) < 16, statements  # the whole send, with its own statements
    await _make_due(hub)
    outcomes = await send_notifications({"hub": hub}, [n.id for n in planned])
    assert outcomes == {"email": len(wanted)}
    await smtp.wait_for(len(wanted))
    # a second message while those are unread plans nothing more for them
    async with transaction(hub.sessions) as db:
        await db.execute(update(PendingNotification).values(sent_at=None, via=None))
    await carla.post(stream, "Nog iemand?", "c2")
    async with hub.sessions() as db:
        assert len((await db.scalars(select(PendingNotification))).all()) == len(wanted)
    await carla.close()


async def test_reading_first_cancels_the_notification(
        hub: Resources, live: LiveServer, zorg: Zorg, smtp: SmtpCapture) -> None:
    stream = f"room:{zorg.room.id}"
    carla = await login(hub, live.url, zorg.coordinator)
    await carla.post(stream, "Even bellen?", "c1")
    anouk = await login(hub, live.url, zorg.anouk)
    await anouk.send({"type": "read", "stream": stream, "seq": 1, "ref": "r"})
    await anouk.expect("ack")
    (row,) = await _make_due(hub)
    assert row.cancelled_at is not None
    assert await send_notification({"hub": hub}, row.id) == "cancelled"
    assert smtp.messages == []
    await carla.close()
    await anouk.close()


async def test_web_push_is_encrypted_signed_and_gone_subscriptions_fall_back_to_mail(
        hub: Resources, live: LiveServer, zorg: Zorg, smtp: SmtpCapture,
        push_service: tuple[PushService, str]) -> None:
    service, base = push_service
    key, auth, keys = _browser_keys()
    async with transaction(hub.sessions) as db:
        db.add(PushSubscription(organisation_id=zorg.org.id, staff_id=zorg.anouk.id,
                                endpoint=f"{base}/push/abc", keys=keys))
    stream = f"room:{zorg.room.id}"
    carla = await login(hub, live.url, zorg.coordinator)
    await carla.post(stream, "Cliënt Pietersen wil terugbellen", "c1")
    (first,) = await _make_due(hub)
    assert await send_notification({"hub": hub}, first.id) == "push"
    (push,) = service.received
    headers = push["headers"]
    assert headers["content-encoding"] == "aes128gcm" and int(headers["ttl"]) > 0
    _check_vapid(headers["authorization"], base, webpush.public_key(hub.settings))
    plain = http_ece.decrypt(push["body"], private_key=key, auth_secret=auth,
                             version="aes128gcm")
    payload = json.loads(plain)
    assert payload["url"] == f"http://127.0.0.1:8000/app/chat/{zorg.room.id}"
    assert "Pietersen" not in plain.decode()
    service.status = 410  # the browser unsubscribed
    await carla.post(stream, "Nog een", "c2")  # the first is sent: a new one is planned
    rows = await _make_due(hub)
    second = next(r for r in rows if r.sent_at is None)
    assert await send_notification({"hub": hub}, second.id) == "email"
    async with hub.sessions() as db:
        assert (await db.scalars(select(PushSubscription))).all() == []
    await carla.close()


async def test_the_sweep_sends_what_a_lost_job_did_not(
        hub: Resources, zorg: Zorg, smtp: SmtpCapture) -> None:
    async with transaction(hub.sessions) as db:
        db.add(PendingNotification(
            organisation_id=zorg.org.id, staff_id=zorg.anouk.id, stream=f"room:{zorg.room.id}",
            seq=1, dedupe_key="lost", link="http://127.0.0.1:8000/app/chat/1",
            due_at=utcnow() - dt.timedelta(minutes=5)))
    assert await sweep_notifications({"hub": hub}) == 1
    assert await sweep_notifications({"hub": hub}) == 0
    assert len(await smtp.wait_for(1)) == 1


async def test_a_portal_user_is_told_of_a_staff_reply(
        hub: Resources, live: LiveServer, zorg: Zorg, smtp: SmtpCapture) -> None:
    async with transaction(hub.sessions) as db:
        client = await make_client(db, zorg.org, caseload_of=zorg.anouk)
        conversation = await make_conversation(db, zorg.org, client=client, channel="portal")
        daughter = await make_portal_user(db, zorg.org, clients=(client,),
                                          email="ingrid@familie.test")
    anouk = await login(hub, live.url, zorg.anouk)
    await anouk.post(f"conversation:{conversation.id}", "Uw vader heeft goed gegeten", "s1")
    (row,) = await _make_due(hub)
    assert (row.portal_user_id, row.link) == (
        daughter.id, f"http://127.0.0.1:8000/portal/conversations/{conversation.id}")
    assert await send_notification({"hub": hub}, row.id) == "email"
    mail = (await smtp.wait_for(1))[0]
    assert mail["To"] == "ingrid@familie.test" and "gegeten" not in body_of(mail)
    await anouk.close()
