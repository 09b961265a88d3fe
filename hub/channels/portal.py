"""The client portal as a channel: portal users write in, staff answer, both see receipts.

A portal message is idempotent by ``portal:{portal_user_id}:{client_msg_id}`` (the id the
browser chose before sending, so a retried send is stored once, invariant 2) and lands in
the client's portal conversation, which is made when there is none. Staff replies are
stored as outbound with delivery status ``sent``; they become ``read`` when a portal user
linked to the client reads past them (their ``ReadMarker``), and staff see that live.

Nothing is sent anywhere: the portal is our own page, so storing the message is
delivering it (``hub.inbox.store`` announces it to open sockets after commit).
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Sequence

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from hub.db.models import Conversation, Message, PortalLink, PortalUser
from hub.db.models.messaging import Channel, DeliveryStatus, Direction
from hub.errors import Forbidden, InvalidInput, NotFound
from hub.inbox import actions
from hub.inbox.attachments import AttachmentStore, FileData, attach_files
from hub.inbox.store import NewMessage, find_existing, store_message
from hub.security import audit
from hub.security.access import can_see_client
from hub.security.principal import Principal

PORTAL = Channel.PORTAL.value
MAX_TEXT = 8000
DEFAULT_SUBJECT = "Bericht via het portaal"
_CLIENT_MSG_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")


def external_id(portal_user_id: int, client_msg_id: str) -> str:
    return f"portal:{portal_user_id}:{client_msg_id}"


def _check_text(text: str, files: Sequence[FileData]) -> str:
    body = text.strip()
    if not body and not files:
        raise InvalidInput("Het bericht is leeg.", field="text")
    if len(body) > MAX_TEXT:
        raise InvalidInput(f"Een bericht mag hoogstens {MAX_TEXT} tekens hebben.",
                           field="text")
    return body


def _check_msg_id(client_msg_id: str) -> None:
    if not _CLIENT_MSG_ID.match(client_msg_id):
        raise InvalidInput("ongeldig bericht-id", field="client_msg_id")


async def conversation_for(session: AsyncSession, who: Principal, client_id: int, *,
                           subject: str = "", new: bool = False) -> Conversation:
    """The client's latest portal conversation, or a new one (``new`` or none yet)."""
    if not who.is_portal or not await can_see_client(session, who, client_id):
        raise NotFound("cliënt niet gevonden", client_id=client_id)
    if not new:
        latest = await session.scalar(
            select(Conversation).where(
                Conversation.organisation_id == who.organisation_id,
                Conversation.client_id == client_id, Conversation.channel == PORTAL)
            .order_by(Conversation.last_message_at.desc(), Conversation.id.desc()).limit(1))
        if latest is not None:
            return latest
    conversation = Conversation(
        organisation_id=who.organisation_id, client_id=client_id, channel=PORTAL,
        subject=(subject.strip() or DEFAULT_SUBJECT)[:500],
        thread_token=secrets.token_hex(16), external_party=f"portal:{who.user_id}")
    session.add(conversation)
    await session.flush()
    return conversation


async def receive(session: AsyncSession, who: Principal, *, text: str, client_msg_id: str,
                  conversation_id: int | None = None, client_id: int | None = None,
                  subject: str = "", new: bool = False, files: Sequence[FileData] = (),
                  store: AttachmentStore | None = None) -> Message:
    """A portal user's message, stored once however often the browser sends it."""
    if not who.is_portal:
        raise Forbidden("alleen voor portaalgebruikers")
    body = _check_text(text, files)
    _check_msg_id(client_msg_id)
    existing = await find_existing(session, who.organisation_id, PORTAL,
                                   external_id(who.user_id or 0, client_msg_id))
    if existing is not None:
        return existing
    conversation = await _target(session, who, conversation_id, client_id, subject, new)
    message, created = await store_message(session, conversation, NewMessage(
        channel=PORTAL, direction=Direction.INBOUND.value,
        external_id=external_id(who.user_id or 0, client_msg_id), body_text=body,
        full_text=body, subject=subject.strip()[:500], sender_name=who.name,
        sender_portal_user_id=who.user_id))
    if created:
        await _stored(session, who, conversation, message, store, files, "portaalbericht")
    return message


async def _target(session: AsyncSession, who: Principal, conversation_id: int | None,
                  client_id: int | None, subject: str, new: bool) -> Conversation:
    if conversation_id is not None:
        return await actions.load_visible(session, who, conversation_id)
    if client_id is None:
        client_id = await only_client(session, who)
    return await conversation_for(session, who, client_id, subject=subject, new=new)


async def only_client(session: AsyncSession, who: Principal) -> int:
    """The one client a portal user acts for; asking which is the page's job otherwise."""
    ids = (await session.scalars(select(PortalLink.client_id).where(
        PortalLink.organisation_id == who.organisation_id,
        PortalLink.portal_user_id == who.user_id).limit(2))).all()
    if len(ids) != 1:
        raise InvalidInput("kies voor welke cliënt het bericht is", field="client_id")
    return int(ids[0])


async def _stored(session: AsyncSession, who: Principal, conversation: Conversation,
                  message: Message, store: AttachmentStore | None, files: Sequence[FileData],
                  detail: str) -> None:
    """A new portal message: its files, the writer's read position, the audit line."""
    await _attach(session, store, message, files)
    await actions.mark_read(session, who, conversation.id, message.seq)
    await audit.record(session, who, audit.Event.CREATE, client_id=conversation.client_id,
                       object_ref=f"message:{message.id}", detail=detail)


async def _attach(session: AsyncSession, store: AttachmentStore | None, message: Message,
                  files: Sequence[FileData]) -> None:
    if not files:
        return
    if store is None:
        raise InvalidInput("bijlagen zijn hier niet mogelijk", field="attachment")
    attach_files(session, store, message.organisation_id, message.id, files)
    await session.flush()


async def reply(session: AsyncSession, who: Principal, conversation: Conversation, text: str,
                *, reply_id: str, files: Sequence[FileData] = (),
                store: AttachmentStore | None = None) -> Message:
    """A staff answer in a portal conversation: stored as sent; read when they read it."""
    if not who.is_staff:
        raise Forbidden("alleen medewerkers beantwoorden portaalberichten")
    if conversation.channel != PORTAL:
        raise InvalidInput("dit gesprek loopt niet via het portaal", field="channel")
    body = _check_text(text, files)
    _check_msg_id(reply_id)
    message, created = await store_message(session, conversation, NewMessage(
        channel=PORTAL, direction=Direction.OUTBOUND.value,
        external_id=f"portal-reply:{who.user_id}:{reply_id}", body_text=body, full_text=body,
        sender_name=who.name, sender_staff_id=who.user_id,
        delivery_status=DeliveryStatus.SENT.value))
    if created:
        await _stored(session, who, conversation, message, store, files, "antwoord via portaal")
    return message


async def mark_read(session: AsyncSession, who: Principal, conversation_id: int,
                    seq: int) -> list[int]:
    """A portal user read up to ``seq``: staff replies up to there become ``read``.

    Returns the ids of the messages that changed; staff views hear of it through the
    ``delivery`` frame ``hub.inbox.actions.mark_read`` sends when the marker moves.
    """
    if not who.is_portal:
        raise Forbidden("alleen voor portaalgebruikers")
    conversation = await actions.load_visible(session, who, conversation_id)
    marker = await actions.mark_read(session, who, conversation.id,
                                     min(seq, conversation.last_seq))
    result = await session.execute(
        update(Message)
        .where(Message.conversation_id == conversation.id,
               Message.direction == Direction.OUTBOUND.value, Message.seq <= marker,
               Message.delivery_status.in_((DeliveryStatus.SENT.value,
                                            DeliveryStatus.DELIVERED.value)))
        .values(delivery_status=DeliveryStatus.READ.value)
        .returning(Message.id, Message.seq).execution_options(synchronize_session=False))
    return [row[0] for row in sorted(result.all(), key=lambda row: row[1])]


async def read_up_to(session: AsyncSession, who: Principal, conversation_id: int,
                     seq: int) -> int:
    """``mark_read``, returning the reader's marker: the one way a portal user reads,
    from the page (HTTP) and over the socket, so staff replies turn "read" either way."""
    await mark_read(session, who, conversation_id, seq)
    return await actions.mark_read(session, who, conversation_id, 0)


async def linked_portal_users(session: AsyncSession, conversation: Conversation) -> list[int]:
    """Portal users who act for the conversation's client (who get its replies)."""
    if conversation.client_id is None:
        return []
    rows = await session.scalars(select(PortalLink.portal_user_id).join(
        PortalUser, PortalUser.id == PortalLink.portal_user_id).where(
        PortalLink.client_id == conversation.client_id,
        PortalLink.organisation_id == conversation.organisation_id,
        PortalUser.active.is_(True)))
    return sorted(set(rows.all()))
