"""``send_email``: retries on temporary failures, a visible outcome on permanent ones,
STARTTLS with a login, announcements on each status change, and the real arq worker."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from arq import Retry
from sqlalchemy import select, update

from hub.db.models import Conversation, Mailbox, Message, Organisation
from hub.db.models.messaging import DeliveryStatus
from hub.errors import InvalidInput, NotFound
from hub.events import unit_of_work
from hub.inbox.reply import queue_reply
from hub.realtime.topics import conversation_channel
from hub.resources import Resources
from hub.security.principal import Principal
from tests.conftest import free_port
from tests.factories import make_conversation, make_mailbox, make_org, make_staff
from tests.helpers.smtp import SmtpCapture, server_tls_context
from workers.main import build_worker
from workers.outbound import RETRY_DELAYS, SEND_TRIES, send_email

RECIPIENT = "kees.vandijk@familie.test"


async def queued_reply(hub: Resources, smtp_port: int, **mailbox: Any) -> tuple[int, int]:
    """An unlinked email conversation with a queued reply; (message id, conversation id)."""
    async with hub.sessions() as session, session.begin():
        org = await make_org(session, signature="Groet, Zorg Oost")
        staff = await make_staff(session, org)
        box = await make_mailbox(session, org, address="zorg@oost.test",
                                 smtp_host="127.0.0.1", smtp_port=smtp_port,
                                 smtp_security=mailbox.pop("smtp_security", "none"), **mailbox)
        conversation = await make_conversation(session, org, external_party=RECIPIENT,
                                               mailbox_id=box.id, subject="Rooster")
    who = Principal("staff", org.id, staff.id, staff.name, "staff")
    async with unit_of_work(hub.sessions, hub.events) as session:
        message = await queue_reply(session, who, conversation.id, "Klopt, tot morgen.")
    return message.id, conversation.id


async def load(hub: Resources, message_id: int) -> Message:
    async with hub.sessions() as session:
        message = await session.get(Message, message_id)
        assert message is not None
        return message


async def test_temporary_refusal_is_retried_then_given_up(hub: Resources,
                                                          smtp_server: SmtpCapture) -> None:
    smtp_server.refuse[RECIPIENT] = "451 4.7.1 Greylisted, try later"
    message_id, _ = await queued_reply(hub, smtp_server.port)
    for attempt in range(1, SEND_TRIES):
        with pytest.raises(Retry) as retry:
            await send_email({"hub": hub, "job_try": attempt}, message_id)
        assert retry.value.defer_score == RETRY_DELAYS[attempt - 1] * 1000
        message = await load(hub, message_id)
        assert message.delivery_status == DeliveryStatus.QUEUED
        assert message.send_attempts == attempt and "451" in (message.delivery_error or "")
    assert await send_email({"hub": hub, "job_try": SEND_TRIES}, message_id) == "failed"
    message = await load(hub, message_id)
    assert message.delivery_status == DeliveryStatus.FAILED
    assert "gave up after 6 tries" in (message.delivery_error or "")
    assert smtp_server.envelopes == []


async def test_permanent_refusal_fails_at_once_and_is_announced(
        hub: Resources, smtp_server: SmtpCapture) -> None:
    smtp_server.refuse[RECIPIENT] = "550 5.1.1 No such user"
    message_id, conversation_id = await queued_reply(hub, smtp_server.port)
    message = await load(hub, message_id)
    pubsub = hub.redis.pubsub()
    await pubsub.subscribe(conversation_channel(message.organisation_id, conversation_id))
    try:
        assert await send_email({"hub": hub, "job_try": 1}, message_id) == "failed"
        frame = await _next_frame(pubsub)
    finally:
        await pubsub.aclose()
    message = await load(hub, message_id)
    assert message.delivery_status == DeliveryStatus.FAILED
    assert "550" in (message.delivery_error or "") and message.send_attempts == 1
    assert frame["type"] == "message_updated" and frame["seq"] == message.seq
    assert frame["message"]["delivery_status"] == "failed"
    assert "550" in frame["message"]["delivery_error"]


async def test_no_server_listening_is_temporary(hub: Resources) -> None:
    message_id, _ = await queued_reply(hub, free_port())
    with pytest.raises(Retry):
        await send_email({"hub": hub, "job_try": 1}, message_id)
    assert (await load(hub, message_id)).delivery_status == DeliveryStatus.QUEUED


async def test_starttls_with_login(hub: Resources, dovecot: Any) -> None:
    # the test certificate of the Dovecot fixture serves for SMTP too
    context = server_tls_context(dovecot.dir / "cert.pem", dovecot.dir / "key.pem")
    server = SmtpCapture(tls_context=context, auth=("zorg@oost.test", "smtp-geheim"))
    server.start()
    try:
        hub.settings = hub.settings.with_changes(mail_ca_file=str(dovecot.cert))
        message_id, _ = await queued_reply(hub, server.port, smtp_security="starttls",
                                           smtp_user="zorg@oost.test",
                                           smtp_password="smtp-geheim")
        assert await send_email({"hub": hub, "job_try": 1}, message_id) == "sent"
        assert len(server.envelopes) == 1
        async with hub.sessions() as session, session.begin():
            await session.execute(update(Mailbox).values(smtp_password="fout"))
            await session.execute(update(Message).values(delivery_status="queued"))
        with pytest.raises(Retry):  # a wrong password may be fixed by an admin: retried
            await send_email({"hub": hub, "job_try": 1}, message_id)
        assert "535" in ((await load(hub, message_id)).delivery_error or "")
    finally:
        server.stop()


async def test_the_worker_sends_what_the_inbox_queued(hub: Resources,
                                                      smtp_server: SmtpCapture) -> None:
    message_id, _ = await queued_reply(hub, smtp_server.port, enabled=False)
    worker = build_worker(hub.settings, burst=True, poll_delay=0.05, handle_signals=False)
    try:
        await asyncio.wait_for(worker.async_run(), 30)
    finally:
        await worker.close()
    assert (await load(hub, message_id)).delivery_status == DeliveryStatus.SENT
    [envelope] = smtp_server.envelopes
    assert envelope.rcpt_tos == [RECIPIENT]


async def test_replying_needs_an_email_conversation_the_staff_may_see(hub: Resources) -> None:
    async with hub.sessions() as session, session.begin():
        org = await make_org(session)
        staff = await make_staff(session, org)
        portal = await make_conversation(session, org, channel="portal")
        other_org = await make_org(session)
        foreign = await make_conversation(session, other_org, external_party=RECIPIENT)
    who = Principal("staff", org.id, staff.id, staff.name, "staff")
    async with hub.sessions() as session, session.begin():
        with pytest.raises(InvalidInput):
            await queue_reply(session, who, portal.id, "Hallo")
        with pytest.raises(NotFound):
            await queue_reply(session, who, foreign.id, "Hallo")
        assert await session.scalar(select(Message.id)) is None
    async with hub.sessions() as session:
        assert await session.get(Conversation, foreign.id) is not None
        assert await session.get(Organisation, other_org.id) is not None


async def _next_frame(pubsub: Any) -> dict[str, Any]:
    deadline = asyncio.get_running_loop().time() + 5
    while asyncio.get_running_loop().time() < deadline:
        item = await pubsub.get_message(ignore_subscribe_messages=True, timeout=0.5)
        if item is not None:
            return dict(json.loads(item["data"]))
    raise AssertionError("no frame published")
