"""Answer an email conversation from the inbox, so the thread goes on in the client's
mail program.

``queue_reply`` stores the outbound message at once (status "queued", visible in the
conversation) with everything the mail needs: its own Message-ID (carrying the
conversation's token, see ``hub.inbox.thread``), In-Reply-To and References pointing at
the message answered, the subject, plain text plus an HTML alternative with the
organisation's signature, and the attachments. Sending happens in the worker job
``send_email`` (``workers.outbound``), after the commit; ``build_email`` turns the stored
message into MIME there, so a retry sends exactly the same mail.
"""

from __future__ import annotations

import hashlib
import html
from collections.abc import Sequence
from email.message import EmailMessage
from email.utils import format_datetime, formataddr

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.db.models import Attachment, Conversation, Mailbox, Message, Organisation
from hub.db.models.messaging import Channel, DeliveryStatus, Direction
from hub.errors import Forbidden, InvalidInput
from hub.events import enqueue
from hub.inbox.actions import load_visible
from hub.inbox.attachments import AttachmentStore, FileData, attach_files
from hub.inbox.store import NewMessage, store_message
from hub.inbox.thread import base_subject, is_reply_subject, make_message_id
from hub.security import audit
from hub.security.principal import Principal

MAX_REPLY_CHARS = 50_000
MAX_REFERENCES = 20
SIGNATURE_SEPARATOR = "\n\n-- \n"


async def queue_reply(session: AsyncSession, principal: Principal, conversation_id: int,
                      text: str, attachments: Sequence[FileData] = (), *,
                      store: AttachmentStore | None = None,
                      reply_id: str | None = None) -> Message:
    """Store a reply as a queued outbound message and enqueue its sending.

    ``reply_id`` (from the form) makes a double-submitted form send one mail: the
    Message-ID is derived from it, and the store keeps one message per Message-ID.
    """
    if not principal.is_staff:
        raise Forbidden("alleen medewerkers kunnen antwoorden")
    body = text.strip()
    if not body:
        raise InvalidInput("het antwoord is leeg", field="text")
    if len(body) > MAX_REPLY_CHARS:
        raise InvalidInput("het antwoord is te lang", field="text")
    if attachments and store is None:
        raise InvalidInput("bijlagen vragen een opslag", field="attachments")
    conversation = await load_visible(session, principal, conversation_id)
    mailbox = await _mailbox_of(session, conversation)
    organisation = await session.get(Organisation, conversation.organisation_id)
    signature = organisation.signature.strip() if organisation else ""
    new = await _new_reply(session, conversation, mailbox, principal, body, signature, reply_id)
    message, created = await store_message(session, conversation, new)
    if created:
        if attachments and store is not None:
            attach_files(session, store, conversation.organisation_id, message.id, attachments)
        await audit.record(session, principal, audit.Event.CREATE,
                           client_id=conversation.client_id, object_ref=f"message:{message.id}",
                           detail="email reply")
        enqueue(session, "send_email", message.id, job_id=f"send_email:{message.id}")
    return message


async def _mailbox_of(session: AsyncSession, conversation: Conversation) -> Mailbox:
    if conversation.channel != Channel.EMAIL or not conversation.external_party:
        raise InvalidInput("dit gesprek heeft geen e-mailadres om naar te antwoorden")
    mailbox = await session.get(Mailbox, conversation.mailbox_id) \
        if conversation.mailbox_id else None
    if mailbox is None or mailbox.organisation_id != conversation.organisation_id:
        raise InvalidInput("dit gesprek hoort bij geen mailbox meer")
    return mailbox


async def _new_reply(session: AsyncSession, conversation: Conversation, mailbox: Mailbox,
                     principal: Principal, body: str, signature: str,
                     reply_id: str | None) -> NewMessage:
    answered = await _last_email(session, conversation.id)
    in_reply_to, references = _thread_headers(answered)
    domain = mailbox.address.rpartition("@")[2]
    message_id = make_message_id(conversation.thread_token, domain)
    if reply_id:
        stable = hashlib.sha256(f"{principal.user_id}:{reply_id}".encode()).hexdigest()[:16]
        message_id = f"zh.{conversation.thread_token}.{stable}@{domain}"
    text = body + (SIGNATURE_SEPARATOR + signature if signature else "")
    return NewMessage(
        channel=Channel.EMAIL.value, direction=Direction.OUTBOUND.value,
        external_id=message_id, body_text=text, full_text=text,
        body_html=text_to_html(body, signature), subject=reply_subject(conversation.subject),
        sender_name=principal.name, sender_address=mailbox.address,
        sender_staff_id=principal.user_id, delivery_status=DeliveryStatus.QUEUED.value,
        meta={"message_id": message_id, "in_reply_to": in_reply_to,
              "references": references, "to": [conversation.external_party],
              "mailbox_id": mailbox.id},
    )


async def _last_email(session: AsyncSession, conversation_id: int) -> Message | None:
    """The newest message of the conversation that has a real Message-ID."""
    rows = await session.scalars(select(Message).where(
        Message.conversation_id == conversation_id, Message.channel == Channel.EMAIL.value,
    ).order_by(Message.seq.desc()).limit(20))
    return next((m for m in rows if (m.meta or {}).get("message_id")), None)


def _thread_headers(answered: Message | None) -> tuple[list[str], list[str]]:
    if answered is None:
        return [], []
    answered_id = str(answered.meta["message_id"])
    earlier = [str(r) for r in (answered.meta or {}).get("references", [])]
    references = [r for r in earlier if r != answered_id] + [answered_id]
    # keep the root and the newest ones (RFC 5322 3.6.4 allows trimming the middle)
    if len(references) > MAX_REFERENCES:
        references = references[:1] + references[-(MAX_REFERENCES - 1):]
    return [answered_id], references


def reply_subject(subject: str) -> str:
    subject = " ".join(subject.split())
    if not subject:
        return "Re: (geen onderwerp)"
    return subject if is_reply_subject(subject) or not base_subject(subject) else f"Re: {subject}"


def text_to_html(body: str, signature: str = "") -> str:
    """The HTML alternative: paragraphs and line breaks, every character escaped."""
    def paragraphs(text: str) -> str:
        blocks = [b for b in text.replace("\r\n", "\n").split("\n\n") if b.strip()]
        return "".join(
            "<p>" + "<br>".join(html.escape(line) for line in b.split("\n")) + "</p>"
            for b in blocks)

    signed = f'<div class="signature">{paragraphs(signature)}</div>' if signature else ""
    return f"<div>{paragraphs(body)}</div>{signed}"


def build_email(message: Message, mailbox: Mailbox,
                files: Sequence[tuple[Attachment, bytes]]) -> EmailMessage:
    """The MIME message for a stored outbound message (the same on every retry)."""
    meta = message.meta or {}
    mail = EmailMessage()
    mail["From"] = formataddr((mailbox.name, mailbox.address))
    mail["To"] = ", ".join(meta.get("to", []))
    mail["Subject"] = message.subject
    mail["Date"] = format_datetime(message.created_at)
    mail["Message-ID"] = f"<{message.external_id}>"
    if meta.get("in_reply_to"):
        mail["In-Reply-To"] = " ".join(f"<{i}>" for i in meta["in_reply_to"])
    if meta.get("references"):
        mail["References"] = " ".join(f"<{i}>" for i in meta["references"])
    mail.set_content(message.body_text)
    mail.add_alternative(message.body_html, subtype="html")
    for row, data in files:
        maintype, _, subtype = row.content_type.partition("/")
        mail.add_attachment(data, maintype=maintype or "application",
                            subtype=subtype or "octet-stream", filename=row.filename)
    return mail
