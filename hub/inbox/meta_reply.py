"""Answer a WhatsApp or Messenger conversation from the inbox.

Both vendors take a free-form answer only within 24 hours of the person's last message
(``Conversation.last_inbound_at``). What happens is decided here, and ``reply_plan``
tells staff beforehand (the reply form shows it):

- window open: the answer goes out as a normal message;
- window closed: the answer itself is put in the client's portal conversation, and the
  person gets a *notice* with a link to it: on WhatsApp the organisation's approved
  template (``ChannelAccount.notice_template``; its one parameter is the link), on
  Messenger a MESSAGE_TAG "ACCOUNT_UPDATE" message. A notice carries no client details,
  only neutral words and the link (invariant 6);
- window closed and no portal for this person (unlinked conversation, no portal
  account, or no template configured): refused with ``MessagingWindowClosed`` saying why,
  before anything is stored.

``queue_meta_reply`` stores the answer as an outbound message with status "queued" and
enqueues ``send_whatsapp`` / ``send_messenger`` (``workers.meta_send``) after commit.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from hub.channels import portal
from hub.db.base import utcnow
from hub.db.models import ChannelAccount, Conversation, Message
from hub.db.models.messaging import Channel, DeliveryStatus, Direction
from hub.errors import ChannelError, Forbidden, InvalidInput, MessagingWindowClosed
from hub.events import enqueue
from hub.inbox.actions import load_visible
from hub.inbox.meta_party import account_for
from hub.inbox.store import NewMessage, find_existing, store_message
from hub.security import audit
from hub.security.principal import Principal

WINDOW = dt.timedelta(hours=24)
# a reply planned as free text must still be inside the window when the worker sends it
SAFETY_MARGIN = dt.timedelta(minutes=15)
# WhatsApp takes 4096 characters of text, Messenger 2000
MAX_CHARS = {Channel.WHATSAPP.value: 4096, Channel.MESSENGER.value: 2000}
NAMES = {Channel.WHATSAPP.value: "WhatsApp", Channel.MESSENGER.value: "Messenger"}
# the words of a Messenger notice (the WhatsApp notice is the approved template)
NOTICE_TEXT = ("Er staat een nieuw bericht voor u klaar. U kunt het veilig lezen in het "
               "portaal: {link}")
TEXT, NOTICE, BLOCKED = "text", "notice", "blocked"


@dataclasses.dataclass(frozen=True)
class ReplyPlan:
    """What an answer typed now will do, in words for staff (Dutch)."""

    mode: str  # text, notice or blocked
    explanation: str
    window_closes_at: dt.datetime | None = None


def _window_open(conversation: Conversation, now: dt.datetime | None = None) -> bool:
    last = conversation.last_inbound_at
    return last is not None and (now or utcnow()) < last + WINDOW - SAFETY_MARGIN


def whatsapp_window_open(conversation: Conversation, now: dt.datetime | None = None) -> bool:
    """May a free-form WhatsApp answer go out now (24 hours after their last message)?"""
    return _window_open(conversation, now)


def messenger_window_open(conversation: Conversation, now: dt.datetime | None = None) -> bool:
    """May a Messenger answer go out now with messaging_type RESPONSE?"""
    return _window_open(conversation, now)


async def reply_plan(session: AsyncSession, conversation: Conversation,
                     now: dt.datetime | None = None) -> ReplyPlan:
    name = NAMES.get(conversation.channel, conversation.channel)
    closes = conversation.last_inbound_at + WINDOW if conversation.last_inbound_at else None
    account = await account_for(session, conversation)
    if account is None or not account.enabled:
        return ReplyPlan(BLOCKED, f"{name} is niet (meer) gekoppeld; antwoord via een ander "
                         "kanaal of vraag de beheerder het account te koppelen.", closes)
    if _window_open(conversation, now):
        return ReplyPlan(TEXT, f"Uw antwoord gaat als {name}-bericht.", closes)
    blocked = await _why_no_notice(session, conversation)
    if blocked:
        return ReplyPlan(BLOCKED, blocked, closes)
    return ReplyPlan(NOTICE, (
        f"Het 24-uursvenster van {name} is gesloten. Uw antwoord komt in het portaal; via "
        f"{name} gaat alleen een melding zonder inhoud met een link naar het portaal."),
        closes)


async def _why_no_notice(session: AsyncSession, conversation: Conversation) -> str:
    name = NAMES.get(conversation.channel, conversation.channel)
    closed = f"Het 24-uursvenster van {name} is gesloten (geen bericht van de afzender in " \
             "de laatste 24 uur)"
    if conversation.client_id is None:
        return f"{closed} en dit gesprek is niet aan een cliënt gekoppeld. Koppel het, of " \
               "antwoord via een ander kanaal."
    if not await portal.linked_portal_users(session, conversation):
        return f"{closed} en deze cliënt heeft geen portaaltoegang. Antwoord via een ander " \
               "kanaal, of wacht op een nieuw bericht."
    account = await account_for(session, conversation)
    if conversation.channel == Channel.WHATSAPP and account and not account.notice_template:
        return f"{closed} en er is geen goedgekeurd WhatsApp-sjabloon ingesteld voor " \
               "meldingen. Vraag de beheerder dit in te stellen."
    return ""


async def queue_meta_reply(session: AsyncSession, principal: Principal, conversation_id: int,
                           text: str, *, reply_id: str | None = None) -> Message:
    """Store a staff answer as a queued outbound message and enqueue its sending.

    ``reply_id`` (from the form) makes a double-submitted form send one message.
    """
    if not principal.is_staff:
        raise Forbidden("alleen medewerkers kunnen antwoorden")
    conversation = await load_visible(session, principal, conversation_id)
    channel = conversation.channel
    body = _checked(text, channel)
    account = await _sending_account(session, conversation)
    external_id = _external_id(channel, principal, reply_id)
    existing = await find_existing(session, conversation.organisation_id, channel, external_id)
    if existing is not None:
        return existing
    plan = await reply_plan(session, conversation)
    if plan.mode == BLOCKED:
        raise MessagingWindowClosed(plan.explanation, conversation_id=conversation.id)
    meta = {"mode": plan.mode, "account_id": account.id, "to": conversation.external_party}
    if plan.mode == NOTICE:
        meta["portal_link_path"] = await _portal_copy(session, principal, conversation,
                                                      body, external_id)
    message, created = await store_message(session, conversation, NewMessage(
        channel=channel, direction=Direction.OUTBOUND.value, external_id=external_id,
        body_text=body, full_text=body, sender_name=principal.name,
        sender_staff_id=principal.user_id, delivery_status=DeliveryStatus.QUEUED.value,
        meta=meta))
    if created:
        await audit.record(session, principal, audit.Event.CREATE,
                           client_id=conversation.client_id, object_ref=f"message:{message.id}",
                           detail=f"{NAMES[channel]}-antwoord ({plan.mode})")
        job = f"send_{channel}"
        enqueue(session, job, message.id, job_id=f"{job}:{message.id}")
    return message


def _checked(text: str, channel: str) -> str:
    if channel not in MAX_CHARS:
        raise InvalidInput("dit gesprek loopt niet via WhatsApp of Messenger", field="channel")
    body = text.strip()
    if not body:
        raise InvalidInput("het antwoord is leeg", field="text")
    if len(body) > MAX_CHARS[channel]:
        raise InvalidInput(f"{NAMES[channel]} neemt hoogstens {MAX_CHARS[channel]} tekens",
                           field="text")
    return body


async def _sending_account(session: AsyncSession,
                           conversation: Conversation) -> ChannelAccount:
    name = NAMES[conversation.channel]
    account = await account_for(session, conversation)
    if account is None or not account.enabled:
        raise ChannelError(f"{name} is nog niet gekoppeld (of uitgeschakeld) voor dit "
                           "gesprek", channel=conversation.channel)
    if not conversation.external_party:
        raise InvalidInput(f"dit gesprek heeft geen {name}-afzender om naar te antwoorden")
    return account


def _external_id(channel: str, principal: Principal, reply_id: str | None) -> str:
    if not reply_id:
        return f"{channel}-out:{uuid.uuid4().hex}"
    stable = hashlib.sha256(f"{principal.user_id}:{reply_id}".encode()).hexdigest()[:24]
    return f"{channel}-out:{stable}"


async def _portal_copy(session: AsyncSession, principal: Principal,
                       conversation: Conversation, body: str, external_id: str) -> str:
    """Put the answer in the client's portal conversation; the notice links there."""
    # imported here: dispatch (which routes replies by channel) imports this module
    from hub.inbox.dispatch import target_conversation

    target = await target_conversation(session, principal, conversation, Channel.PORTAL)
    await portal.reply(session, principal, target, body,
                       reply_id=external_id.replace("-out:", "-notice-")[:64])
    return f"/portal/conversations/{target.id}"
