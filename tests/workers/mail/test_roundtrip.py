"""A conversation by mail end to end, on real servers: a client writes (Dovecot), staff
answer from the inbox (job -> aiosmtpd), the client's mail programs answer back in every
way they really do, a bounce comes back. Threading, matching and headers all checked."""

from __future__ import annotations

import dataclasses
from email.message import EmailMessage

import pytest
from sqlalchemy import select, update

from hub.db.models import Conversation, Mailbox, Message, Organisation
from hub.db.models.messaging import DeliveryStatus
from hub.events import unit_of_work
from hub.inbox.attachments import AttachmentStore, FileData
from hub.inbox.reply import queue_reply
from hub.security.principal import Principal
from tests.channels import mailgen
from tests.factories import make_client, make_contact, make_staff
from tests.helpers.smtp import SmtpCapture
from tests.workers.mail.conftest import MailEnv
from workers.mail import sync_once
from workers.outbound import send_email

DAUGHTER = "ingrid.bakker@familie.test"


@dataclasses.dataclass
class Scene:
    env: MailEnv
    smtp: SmtpCapture
    staff: Principal
    client_id: int


@pytest.fixture
async def scene(mail_env: MailEnv, smtp_server: SmtpCapture) -> Scene:
    async with mail_env.hub.sessions() as session, session.begin():
        org = await session.get(Organisation, mail_env.organisation_id)
        assert org is not None
        nurse = await make_staff(session, org, name="Sanne de Vries")
        client = await make_client(session, org, caseload_of=nurse, given_name="Truus",
                                   family_name="Bakker")
        await make_contact(session, client, name="Ingrid Bakker", relation="family",
                           email="Ingrid.Bakker@Familie.test")
        await session.execute(update(Mailbox).values(
            smtp_host="127.0.0.1", smtp_port=smtp_server.port, smtp_security="none"))
    staff = Principal("staff", org.id, nurse.id, nurse.name, "staff")
    return Scene(mail_env, smtp_server, staff, client.id)


async def conversation_of(scene: Scene, external_id: str) -> int:
    async with scene.env.hub.sessions() as session:
        message = await session.scalar(select(Message).where(
            Message.external_id == external_id))
        assert message is not None, external_id
        return message.conversation_id


async def answer(scene: Scene, conversation_id: int, text: str,
                 files: tuple[FileData, ...] = ()) -> Message:
    hub = scene.env.hub
    async with unit_of_work(hub.sessions, hub.events) as session:
        return await queue_reply(session, scene.staff, conversation_id, text, files,
                                 store=AttachmentStore(hub.settings.attachments_dir))


def client_reply(message_id: str, subject: str, in_reply_to: str | None,
                 references: list[str] | None, sender: str = "Ingrid Bakker",
                 address: str = DAUGHTER) -> bytes:
    return mailgen.plain(sender, subject=subject, message_id=message_id,
                         in_reply_to=in_reply_to, references=references,
                         sender_address=address,
                         body="Dank u wel.\n\nOp 4 mrt. 2024 schreef Zorgteam:\n> eerder")


async def test_reply_chain_threads_and_headers_are_right(scene: Scene) -> None:
    env, hub = scene.env, scene.env.hub
    env.append(mailgen.plain("Ingrid Bakker", subject="Medicatie van mijn moeder",
                             message_id="a1@familie.test", sender_address=DAUGHTER))
    await sync_once(hub, env.mailbox_id)
    conversation_id = await conversation_of(scene, "a1@familie.test")
    async with hub.sessions() as session:
        conversation = await session.get(Conversation, conversation_id)
        assert conversation is not None
        assert conversation.client_id == scene.client_id  # matched case-insensitively
        token = conversation.thread_token

    scan = FileData("zorgplan.pdf", "application/pdf", b"%PDF-1.4 zorgplan")
    reply = await answer(scene, conversation_id, "Beste Ingrid,\n\nDe apotheek levert "
                         "morgen.", (scan,))
    assert reply.delivery_status == DeliveryStatus.QUEUED
    assert reply.external_id.startswith(f"zh.{token}.") and reply.external_id.endswith(
        "@zorg.test")
    assert await send_email({"hub": hub, "job_try": 1}, reply.id) == "sent"
    assert await send_email({"hub": hub, "job_try": 2}, reply.id) == "nothing to send (sent)"
    assert len(scene.smtp.envelopes) == 1

    sent: EmailMessage = scene.smtp.messages[-1]
    envelope = scene.smtp.envelopes[0]
    assert envelope.mail_from == "zorgteam@zorg.test" and envelope.rcpt_tos == [DAUGHTER]
    assert sent["Message-ID"] == f"<{reply.external_id}>"
    assert sent["In-Reply-To"] == "<a1@familie.test>"
    assert sent["References"] == "<a1@familie.test>"
    assert sent["Subject"] == "Re: Medicatie van mijn moeder"
    assert sent["To"] == DAUGHTER
    text = sent.get_body(("plain",))
    markup = sent.get_body(("html",))
    assert text is not None and markup is not None
    assert "De apotheek levert morgen." in text.get_content()
    assert "Thuiszorg De Linde" in text.get_content()
    assert "Thuiszorg De Linde" in markup.get_content()
    [attachment] = list(sent.iter_attachments())
    assert attachment.get_filename() == "zorgplan.pdf"
    assert attachment.get_content() == b"%PDF-1.4 zorgplan"
    async with hub.sessions() as session:
        stored = await session.get(Message, reply.id)
        assert stored is not None and stored.delivery_status == DeliveryStatus.SENT

    subject = "Re: Medicatie van mijn moeder"
    env.append(
        # a full reply: In-Reply-To and References
        client_reply("b1@familie.test", subject, reply.external_id,
                     ["a1@familie.test", reply.external_id]),
        # a mail program that drops References, answering the previous mail (with a
        # subject of its own, so nothing but In-Reply-To can place it)
        client_reply("b2@familie.test", "Aanvulling", "b1@familie.test", None),
        # a new subject, answering a mail of ours we no longer have: only our token
        # in its Message-ID can place it
        client_reply("b3@familie.test", "Nog een vraag",
                     f"zh.{token}.0000000000000000@zorg.test", None),
        # no threading headers at all: subject and the same sender
        client_reply("b4@familie.test", subject, None, None),
        # the same subject from someone else: never joined on the subject alone
        client_reply("c1@elders.test", subject, None, None, "Piet Stranger",
                     "piet@elders.test"),
    )
    report = await sync_once(hub, env.mailbox_id)
    assert report.result.stored == 5
    for external_id in ("b1@familie.test", "b2@familie.test", "b3@familie.test",
                        "b4@familie.test"):
        assert await conversation_of(scene, external_id) == conversation_id, external_id
    stranger = await conversation_of(scene, "c1@elders.test")
    assert stranger != conversation_id
    async with hub.sessions() as session:
        other = await session.get(Conversation, stranger)
        assert other is not None and other.client_id is None
        b1 = await session.scalar(select(Message).where(
            Message.external_id == "b1@familie.test"))
        assert b1 is not None and b1.body_text == "Dank u wel."
        assert "> eerder" in b1.full_text

    # answering again references the whole chain, newest last
    second = await answer(scene, conversation_id, "Graag gedaan.")
    assert second.meta["in_reply_to"] == ["b4@familie.test"]
    assert second.meta["references"][-1] == "b4@familie.test"


async def test_a_bounce_marks_the_reply_failed(scene: Scene) -> None:
    env, hub = scene.env, scene.env.hub
    env.append(mailgen.plain("Ingrid Bakker", subject="Afspraak", message_id="x1@familie.test",
                             sender_address=DAUGHTER))
    await sync_once(hub, env.mailbox_id)
    conversation_id = await conversation_of(scene, "x1@familie.test")
    reply = await answer(scene, conversation_id, "Prima, tot dinsdag.")
    assert await send_email({"hub": hub, "job_try": 1}, reply.id) == "sent"

    env.append(dsn_for(reply.external_id, DAUGHTER))
    report = await sync_once(hub, env.mailbox_id)
    assert report.result.stored == 1
    async with hub.sessions() as session:
        stored = await session.get(Message, reply.id)
        assert stored is not None and stored.delivery_status == DeliveryStatus.FAILED
        assert "5.1.1" in (stored.delivery_error or "")
        assert DAUGHTER in (stored.delivery_error or "")
        bounce = await session.scalar(select(Message).where(
            Message.external_id == "dsn1@mail.familie.test"))
        assert bounce is not None and bounce.conversation_id == conversation_id


def dsn_for(original_id: str, recipient: str) -> bytes:
    return (
        "From: Mail Delivery System <MAILER-DAEMON@mail.familie.test>\r\n"
        "To: zorgteam@zorg.test\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\n"
        "Message-ID: <dsn1@mail.familie.test>\r\n"
        "Auto-Submitted: auto-replied\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n\r\n'
        "--B\r\nContent-Type: text/plain\r\n\r\nYour message could not be delivered.\r\n"
        "--B\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mail.familie.test\r\n\r\n"
        f"Final-Recipient: rfc822; {recipient}\r\nAction: failed\r\nStatus: 5.1.1\r\n"
        "Diagnostic-Code: smtp; 550 5.1.1 <ingrid.bakker@familie.test>: user unknown\r\n"
        "--B\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        f"From: Zorgteam <zorgteam@zorg.test>\r\nMessage-ID: <{original_id}>\r\n"
        "Subject: Re: Afspraak\r\n"
        "--B--\r\n").encode()
