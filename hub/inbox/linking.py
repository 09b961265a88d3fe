"""Link a conversation to a client in one step, and remember the sender's address.

Mail from an unknown address lands as an unlinked conversation (``client_id=None``).
When staff link it, the address is added to the client's contacts (relation "other",
unverified unless staff say they checked it), so the next mail from that address is
linked on arrival. Linking goes through ``hub.inbox.actions.link_client`` (access check,
conditional update, audit line, realtime announcement); remembering the address writes
an audit line of its own.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.db.models import ClientContact, Conversation, Message
from hub.db.models.clients import Relation
from hub.db.models.messaging import Direction
from hub.inbox.actions import link_client, load_visible
from hub.security import audit
from hub.security.principal import Principal


async def link_conversation(session: AsyncSession, principal: Principal, conversation_id: int,
                            client_id: int, *, verified: bool = False,
                            seen_version: int | None = None) -> Conversation:
    """Link ``conversation_id`` to ``client_id`` and remember its outside address.

    ``seen_version`` (from the form) guards against overwriting a colleague's change;
    without it the current version is taken (one-click linking from a list).
    """
    current = await load_visible(session, principal, conversation_id)
    version = seen_version if seen_version is not None else current.version
    conversation = await link_client(session, principal, conversation_id, version, client_id)
    if conversation.external_party:
        contact = await remember_address(session, principal, conversation, client_id,
                                         verified=verified)
        conversation.contact_id = contact.id
    return conversation


async def remember_address(session: AsyncSession, principal: Principal,
                           conversation: Conversation, client_id: int, *,
                           verified: bool = False) -> ClientContact:
    """The client's contact with the conversation's address (added when missing)."""
    address = (conversation.external_party or "").strip().lower()
    contact = await session.scalar(select(ClientContact).where(
        ClientContact.organisation_id == principal.organisation_id,
        ClientContact.client_id == client_id,
        func.lower(ClientContact.email) == address).order_by(ClientContact.id).limit(1))
    if contact is not None:
        if verified and not contact.verified:
            contact.verified = True
        return contact
    contact = ClientContact(organisation_id=principal.organisation_id, client_id=client_id,
                            name=await _sender_name(session, conversation.id),
                            relation=Relation.OTHER.value, email=address, verified=verified)
    session.add(contact)
    await session.flush()
    await audit.record(session, principal, audit.Event.CREATE, client_id=client_id,
                       object_ref=f"client_contact:{contact.id}",
                       detail=f"address remembered from conversation {conversation.id}"
                              f"{' (verified)' if verified else ''}")
    return contact


async def _sender_name(session: AsyncSession, conversation_id: int) -> str:
    name = await session.scalar(select(Message.sender_name).where(
        Message.conversation_id == conversation_id,
        Message.direction == Direction.INBOUND.value,
    ).order_by(Message.seq.desc()).limit(1))
    return (name or "")[:200]
