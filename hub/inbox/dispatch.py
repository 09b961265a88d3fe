"""Answer a conversation in the channel the client used, or in another of theirs.

By default the answer goes back the way the message came. Staff may choose another
channel of the same client (say, a portal answer to an email): the answer then lands in
that client's conversation on that channel, which for the portal is made when needed.
Each channel's own module does the sending:

- email -> ``hub.inbox.reply.queue_reply`` (queued; the worker sends it)
- portal -> ``hub.channels.portal.reply`` (stored is delivered) and an offline
  notification for linked portal users who are not online (no client details in it)
- WhatsApp / Messenger -> ``hub.inbox.meta_reply.queue_meta_reply`` (queued; inside the
  24-hour window as a message, after it as a portal copy plus a contentless notice;
  ``ChannelError`` "nog niet gekoppeld" when no account is connected)
"""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.channels import portal
from hub.db.models import Conversation, Message
from hub.db.models.messaging import Channel
from hub.errors import ChannelError, Forbidden, InvalidInput
from hub.inbox import actions
from hub.inbox.attachments import AttachmentStore, FileData
from hub.inbox.meta_reply import queue_meta_reply
from hub.inbox.reply import queue_reply
from hub.realtime import notify
from hub.realtime.presence import Presence
from hub.security.access import conversation_visibility
from hub.security.principal import Principal
from hub.settings import Settings

META_CHANNELS = (Channel.WHATSAPP.value, Channel.MESSENGER.value)
REPLY_CHANNELS = (Channel.EMAIL.value, Channel.PORTAL.value, *META_CHANNELS)


@dataclasses.dataclass(frozen=True)
class ReplyContext:
    settings: Settings
    store: AttachmentStore
    # to plan offline notifications for portal users; None: do not plan any
    presence: Presence | None = None


async def send_reply(session: AsyncSession, who: Principal, ctx: ReplyContext,
                     conversation_id: int, text: str, *, reply_id: str,
                     channel: str | None = None, files: Sequence[FileData] = ()) -> Message:
    """Send ``text`` (and ``files``) as staff; returns the stored outbound message."""
    if not who.is_staff:
        raise Forbidden("alleen medewerkers kunnen antwoorden")
    conversation = await actions.load_visible(session, who, conversation_id)
    target = await target_conversation(session, who, conversation, channel)
    if target.channel == Channel.EMAIL:
        message = await queue_reply(session, who, target.id, text, files, store=ctx.store,
                                    reply_id=reply_id)
    elif target.channel == Channel.PORTAL:
        message = await portal.reply(session, who, target, text, reply_id=reply_id,
                                     files=files, store=ctx.store)
        await _notify_portal(session, ctx, target, message)
    elif target.channel in META_CHANNELS:
        if files:
            raise InvalidInput(f"Bijlagen kunnen niet via {target.channel} worden verstuurd; "
                               "kies het portaal of e-mail.", field="attachment")
        message = await queue_meta_reply(session, who, target.id, text, reply_id=reply_id)
    else:
        raise ChannelError(f"kanaal nog niet gekoppeld: {target.channel}",
                           channel=target.channel)
    await actions.mark_read(session, who, target.id, message.seq)
    return message


async def target_conversation(session: AsyncSession, who: Principal,
                              conversation: Conversation, channel: str | None) -> Conversation:
    """The conversation an answer on ``channel`` goes to (the same one by default)."""
    wanted = channel or conversation.channel
    if wanted not in REPLY_CHANNELS:
        raise InvalidInput("op dit kanaal kan niet worden geantwoord", field="channel")
    if wanted == conversation.channel:
        return conversation
    if conversation.client_id is None:
        raise InvalidInput("koppel het gesprek eerst aan een cliënt om via een ander "
                           "kanaal te antwoorden", field="channel")
    sibling = await session.scalar(
        select(Conversation).where(conversation_visibility(who),
                                   Conversation.client_id == conversation.client_id,
                                   Conversation.channel == wanted)
        .order_by(Conversation.last_message_at.desc(), Conversation.id.desc()).limit(1))
    if sibling is not None:
        return sibling
    if wanted == Channel.PORTAL:
        return await _new_portal_conversation(session, conversation)
    raise InvalidInput(f"deze cliënt heeft nog geen gesprek via {wanted}", field="channel")


async def _new_portal_conversation(session: AsyncSession,
                                   conversation: Conversation) -> Conversation:
    if not await portal.linked_portal_users(session, conversation):
        raise InvalidInput("deze cliënt heeft geen portaaltoegang", field="channel")
    assert conversation.client_id is not None
    started = Conversation(
        organisation_id=conversation.organisation_id, client_id=conversation.client_id,
        channel=Channel.PORTAL.value, subject=conversation.subject or portal.DEFAULT_SUBJECT,
        thread_token=secrets.token_hex(16), assignee_staff_id=conversation.assignee_staff_id,
        assignee_team_id=conversation.assignee_team_id)
    session.add(started)
    await session.flush()
    return started


async def reply_channels(session: AsyncSession, who: Principal,
                         conversation: Conversation) -> list[str]:
    """The channels an answer to ``conversation`` can go out on (its own first)."""
    choices = [conversation.channel]
    if conversation.client_id is None:
        return choices
    rows = await session.scalars(select(Conversation.channel).where(
        conversation_visibility(who), Conversation.client_id == conversation.client_id
    ).distinct())
    choices += sorted(set(rows.all()) - {conversation.channel})
    if Channel.PORTAL.value not in choices and await portal.linked_portal_users(
            session, conversation):
        choices.append(Channel.PORTAL.value)
    return [c for c in choices if c in REPLY_CHANNELS]


async def _notify_portal(session: AsyncSession, ctx: ReplyContext, conversation: Conversation,
                         message: Message) -> None:
    if ctx.presence is None:
        return
    users = await portal.linked_portal_users(session, conversation)
    await notify.plan(session, ctx.settings, ctx.presence, conversation.organisation_id,
                      notify.Audience(portal=users), f"conversation:{conversation.id}",
                      message.seq)
