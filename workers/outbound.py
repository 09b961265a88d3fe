"""Email replies out: the ``send_email`` job, with retries and a visible outcome.

The job is idempotent (invariant 3): it sends only a message still "queued", and marks it
"sent" in a conditional update afterwards, so a re-run after success sends nothing. The
Message-ID was fixed when the reply was queued; should a worker die between the SMTP
server's "250" and the commit, the re-run sends the same mail with the same Message-ID,
which mail programs show once (at-least-once delivery; nothing is ever lost).

Temporary failures (4xx, timeouts, a refused connection, a bad SMTP password) are retried
with a growing delay; the message shows the last error meanwhile. A permanent refusal
(5xx) or the last try marks it "failed" with the reason. Each status change is announced
on the conversation's stream (``message_updated``). Bounces that arrive later by IMAP
mark the message failed too (``hub.inbox.bounces``).
"""

from __future__ import annotations

import logging
from typing import Any

from arq import Retry
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.channels.email_smtp import SmtpSender
from hub.db.models import Attachment, Mailbox, Message
from hub.db.models.messaging import DeliveryStatus
from hub.errors import ChannelError, DeliveryFailed
from hub.inbox.attachments import AttachmentStore
from hub.inbox.mailboxes import smtp_config
from hub.inbox.reply import build_email
from hub.resources import Resources
from workers.delivery import finish, note_attempt

log = logging.getLogger(__name__)
# seconds before try 2, 3, ...; after the last one the message is marked failed
RETRY_DELAYS = (10, 30, 120, 600, 1800)
SEND_TRIES = len(RETRY_DELAYS) + 1


async def send_email(ctx: dict[str, Any], message_id: int) -> str:
    hub: Resources = ctx["hub"]
    attempt = int(ctx.get("job_try") or 1)
    async with hub.sessions() as session:
        message = await session.get(Message, message_id)
        if message is None or message.delivery_status != DeliveryStatus.QUEUED:
            return f"nothing to send ({message.delivery_status if message else 'gone'})"
        mailbox = await session.get(Mailbox, (message.meta or {}).get("mailbox_id"))
        if mailbox is None:
            await finish(hub, message_id, DeliveryStatus.FAILED, "mailbox no longer exists")
            return "failed"
        mail = build_email(message, mailbox, await _files(session, hub, message_id))
        recipients = [str(a) for a in (message.meta or {}).get("to", [])]
    config = smtp_config(mailbox, hub.settings)
    if not config.host:
        await finish(hub, message_id, DeliveryStatus.FAILED, "no SMTP server configured")
        return "failed"
    try:
        receipt = await SmtpSender(config).send(mail, mailbox.address, recipients)
    except DeliveryFailed as exc:
        await finish(hub, message_id, DeliveryStatus.FAILED, str(exc))
        return "failed"
    except ChannelError as exc:
        if attempt >= SEND_TRIES:
            await finish(hub, message_id, DeliveryStatus.FAILED,
                          f"gave up after {attempt} tries: {exc}")
            return "failed"
        await note_attempt(hub, message_id, str(exc))
        raise Retry(defer=RETRY_DELAYS[attempt - 1]) from exc
    refused = "; ".join(f"{a}: {why}" for a, why in receipt.refused.items())
    await finish(hub, message_id, DeliveryStatus.SENT, refused or None)
    return "sent"


async def _files(session: AsyncSession, hub: Resources,
                 message_id: int) -> list[tuple[Attachment, bytes]]:
    store = AttachmentStore(hub.settings.attachments_dir)
    rows = (await session.scalars(select(Attachment).where(
        Attachment.message_id == message_id).order_by(Attachment.id))).all()
    return [(row, store.get(row.sha256)) for row in rows]


FUNCTIONS = [send_email]
