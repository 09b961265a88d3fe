"""WhatsApp and Messenger answers out: ``send_whatsapp`` / ``send_messenger``.

``hub.inbox.meta_reply.queue_meta_reply`` stored the answer as a "queued" outbound
message with its plan in ``meta["mode"]``: ``text`` (a free-form message, inside the
24-hour window) or ``notice`` (outside it: the WhatsApp template / a Messenger
ACCOUNT_UPDATE message with only a portal link; the words themselves went to the portal).

The jobs are idempotent (invariant 3): they send only a message that is still "queued"
and has no ``remote_id``; after Meta accepted it, one conditional update stores Meta's
id and moves it to "sent", so a re-run after success sends nothing. (Should the worker
die between Meta's answer and that commit, the re-run sends again: at least once, like
every channel; Meta offers no idempotency key for sends.)

Network errors, timeouts, 5xx, 429 and Meta's throttling codes are retried with a
growing delay (arq ``Retry``); the message shows the last error meanwhile. A refusal
(any other 4xx) or the last try marks it "failed" with Meta's message and code, on the
message for staff to see. A status webhook that overtakes the commit is no problem: our
message id travels along with the send (``hub.inbox.meta_status``).

``sweep_meta_sends`` (cron, every minute) re-enqueues answers whose job was lost and
marks those still unsent after a day as failed.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from typing import Any

from arq import Retry, cron
from sqlalchemy import select

from hub.channels.graph import GraphClient, describe
from hub.channels.messenger import MESSAGE_TAG, RESPONSE, MessengerSender
from hub.channels.whatsapp import WhatsAppSender
from hub.db.base import utcnow
from hub.db.models import ChannelAccount, Conversation, Message
from hub.db.models.messaging import Channel, DeliveryStatus
from hub.errors import ChannelError, DeliveryFailed
from hub.inbox.meta_party import account_for
from hub.inbox.meta_reply import NOTICE, NOTICE_TEXT
from hub.inbox.meta_status import reference
from hub.resources import Resources
from workers.delivery import finish, note_attempt
from workers.webhooks import meta_http

log = logging.getLogger(__name__)
# seconds before try 2, 3, ...; after the last one the message is marked failed
RETRY_DELAYS = (10, 30, 120, 600, 1800)
SEND_TRIES = len(RETRY_DELAYS) + 1
# Meta: more than 24 hours since the person's last message (WhatsApp 131047; Messenger
# 10 with subcode 2018278, "sent outside of allowed window")
REENGAGEMENT = frozenset({(131047, None), (10, 2018278)})
NOTICE_TAG = "ACCOUNT_UPDATE"
SEND_JOBS = {Channel.WHATSAPP.value: "send_whatsapp", Channel.MESSENGER.value: "send_messenger"}
# the sweep looks at answers queued longer than this without being sent or retried
STALE_AFTER = dt.timedelta(minutes=2)
GIVE_UP_AFTER = dt.timedelta(hours=24)
SWEEP_BATCH = 500


@dataclasses.dataclass(frozen=True)
class Outgoing:
    """A plain snapshot of what one send needs (no ORM objects across awaits)."""

    message_id: int
    channel: str
    text: str
    mode: str
    to: str
    account_id: str
    token: str
    notice_template: str
    notice_language: str
    link: str


async def send_whatsapp(ctx: dict[str, Any], message_id: int) -> str:
    return await _send(ctx, message_id, Channel.WHATSAPP.value)


async def send_messenger(ctx: dict[str, Any], message_id: int) -> str:
    return await _send(ctx, message_id, Channel.MESSENGER.value)


async def _send(ctx: dict[str, Any], message_id: int, channel: str) -> str:
    hub: Resources = ctx["hub"]
    attempt = int(ctx.get("job_try") or 1)
    job = await _load(hub, message_id, channel)
    if isinstance(job, Unsendable):
        await finish(hub, message_id, DeliveryStatus.FAILED, job.reason)
        return "failed"
    if isinstance(job, str):
        return job
    graph = GraphClient(meta_http(ctx), job.token, base_url=hub.settings.graph_api_url,
                        timeout=hub.settings.graph_timeout_seconds)
    try:
        remote_id = await _deliver(graph, job)
    except DeliveryFailed as exc:
        await finish(hub, message_id, DeliveryStatus.FAILED, _refusal(exc, job))
        return "failed"
    except ChannelError as exc:
        if attempt >= SEND_TRIES:
            await finish(hub, message_id, DeliveryStatus.FAILED,
                          f"na {attempt} pogingen opgegeven: {describe(exc)}")
            return "failed"
        await note_attempt(hub, message_id, describe(exc))
        raise Retry(defer=RETRY_DELAYS[attempt - 1]) from exc
    await finish(hub, message_id, DeliveryStatus.SENT, None, remote_id=remote_id)
    return "sent"


@dataclasses.dataclass(frozen=True)
class Unsendable:
    reason: str


async def _load(hub: Resources, message_id: int, channel: str) -> Outgoing | Unsendable | str:
    async with hub.sessions() as session:
        message = await session.get(Message, message_id)
        if message is None or message.channel != channel:
            return "gone"
        if message.delivery_status != DeliveryStatus.QUEUED or message.remote_id:
            return f"nothing to send ({message.delivery_status})"
        conversation = await session.get(Conversation, message.conversation_id)
        account = await account_for(session, conversation) if conversation else None
        problem = _unsendable(conversation, account)
        if problem or conversation is None or account is None:
            return Unsendable(problem)
        return _outgoing(hub, message, conversation, account)


def _unsendable(conversation: Conversation | None, account: ChannelAccount | None) -> str:
    if conversation is None or not conversation.external_party:
        return "het gesprek heeft geen ontvanger (meer)"
    if account is None:
        return "er is geen account (meer) gekoppeld om dit bericht mee te versturen"
    if not account.enabled:
        return f"het account {account.name!r} is uitgeschakeld"
    return ""


def _outgoing(hub: Resources, message: Message, conversation: Conversation,
              account: ChannelAccount) -> Outgoing:
    meta = message.meta or {}
    path = str(meta.get("portal_link_path") or "/portal/")
    return Outgoing(
        message_id=message.id, channel=message.channel, text=message.body_text,
        mode=str(meta.get("mode") or "text"), to=str(conversation.external_party),
        account_id=account.external_account_id, token=account.access_token,
        notice_template=account.notice_template or "",
        notice_language=account.notice_language or "nl",
        link=hub.settings.base_url.rstrip("/") + path)


async def _deliver(graph: GraphClient, job: Outgoing) -> str:
    ref = reference(job.message_id)
    if job.channel == Channel.WHATSAPP:
        sender = WhatsAppSender(graph, job.account_id)
        if job.mode != NOTICE:
            return await sender.send_text(job.to, job.text, reference=ref)
        if not job.notice_template:
            raise DeliveryFailed("buiten het 24-uursvenster en geen WhatsApp-sjabloon "
                                 "ingesteld voor meldingen")
        return await sender.send_template(job.to, job.notice_template, job.notice_language,
                                          job.link, reference=ref)
    page = MessengerSender(graph, job.account_id)
    if job.mode != NOTICE:
        return await page.send_text(job.to, job.text, messaging_type=RESPONSE, metadata=ref)
    return await page.send_text(job.to, NOTICE_TEXT.format(link=job.link),
                                messaging_type=MESSAGE_TAG, tag=NOTICE_TAG, metadata=ref)


def _refusal(exc: DeliveryFailed, job: Outgoing) -> str:
    text = describe(exc)
    code, subcode = exc.fields.get("meta_code"), exc.fields.get("subcode")
    closed = (code, None) in REENGAGEMENT or (code, subcode) in REENGAGEMENT
    if closed and job.mode != NOTICE:
        # the plan said "inside the window" but Meta says it closed meanwhile
        return ("Het 24-uursvenster was al gesloten toen het bericht werd verstuurd. "
                f"Stuur het opnieuw: dan gaat er een melding met een portaallink. ({text})")
    return text


async def sweep_meta_sends(ctx: dict[str, Any]) -> int:
    """Enqueue answers still "queued" whose job got lost (Redis down at commit, a worker
    crash, a database error mid-job); after ``GIVE_UP_AFTER`` they are marked failed
    instead, so nothing waits unseen. A job still queued or deferred keeps its id, so
    this never runs a send twice at once."""
    hub: Resources = ctx["hub"]
    now = utcnow()
    async with hub.sessions() as session:
        rows = (await session.execute(select(Message.id, Message.channel, Message.created_at)
                .where(Message.channel.in_(SEND_JOBS), Message.remote_id.is_(None),
                       Message.delivery_status == DeliveryStatus.QUEUED,
                       Message.created_at < now - STALE_AFTER)
                .order_by(Message.id).limit(SWEEP_BATCH))).all()
    enqueued = 0
    for message_id, channel, created_at in rows:
        if created_at < now - GIVE_UP_AFTER:
            await finish(hub, message_id, DeliveryStatus.FAILED,
                          "niet verstuurd binnen 24 uur; stuur het opnieuw")
            continue
        job = SEND_JOBS[channel]
        enqueued += await hub.jobs.enqueue_job(job, message_id,
                                               _job_id=f"{job}:{message_id}") is not None
    return enqueued


FUNCTIONS = [send_whatsapp, send_messenger, sweep_meta_sends]
CRON_JOBS = [cron(sweep_meta_sends, second={45}, run_at_startup=True)]
