"""Who writes over WhatsApp or Messenger, and which conversation it goes on in.

Matching: a WhatsApp sender is a ``wa_id`` (the digits of the international number); it
is compared with ``ClientContact.whatsapp_id`` and ``ClientContact.phone`` (E.164), both
with and without the "+". A Messenger sender is a page-scoped id (PSID), compared with
``ClientContact.messenger_psid``. A contact of exactly one client links the conversation
to that client; a representative known for several clients links none (staff choose);
an unknown sender gives an unlinked conversation (``client_id=None``).

Threading: one conversation per (organisation, channel, account, party). A new message
goes on in the most recent one for that party; ``store_message`` reopens it when it was
resolved or snoozed. Finding-or-starting happens under a lock on the party, so two
workers taking in two webhooks for a new sender start one conversation, not two.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re

from sqlalchemy import or_, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from hub.db.models import ChannelAccount, ClientContact, Conversation
from hub.db.models.messaging import Channel
from hub.inbox.thread import new_thread_token

_NOT_DIGITS = re.compile(r"\D")
SUBJECTS = {Channel.WHATSAPP.value: "WhatsApp", Channel.MESSENGER.value: "Messenger"}


@dataclasses.dataclass(frozen=True)
class PartyMatch:
    party: str
    contact_id: int | None = None
    contact_name: str = ""
    client_id: int | None = None  # only when the sender belongs to exactly one client
    candidates: tuple[int, ...] = ()


def wa_digits(party: str) -> str:
    return _NOT_DIGITS.sub("", party)


def display_party(channel: str, party: str) -> str:
    """How staff see an unknown sender: the phone number, or a short Messenger id."""
    if channel == Channel.WHATSAPP:
        return f"+{wa_digits(party)}"
    return f"Messenger-gebruiker …{party[-6:]}"


async def match_party(session: AsyncSession, organisation_id: int, channel: str,
                      party: str) -> PartyMatch:
    if channel == Channel.WHATSAPP:
        digits = wa_digits(party)
        if not digits:
            return PartyMatch(party)
        known = or_(ClientContact.whatsapp_id.in_([digits, f"+{digits}"]),
                    ClientContact.phone == f"+{digits}")
    else:
        known = ClientContact.messenger_psid == party
    rows = (await session.execute(
        select(ClientContact.id, ClientContact.client_id, ClientContact.name)
        .where(ClientContact.organisation_id == organisation_id, known)
        .order_by(ClientContact.id))).all()
    if not rows:
        return PartyMatch(party)
    clients = tuple(dict.fromkeys(row.client_id for row in rows))
    return PartyMatch(party, contact_id=rows[0].id, contact_name=rows[0].name or "",
                      client_id=clients[0] if len(clients) == 1 else None,
                      candidates=clients)


async def lock_party(session: AsyncSession, organisation_id: int, channel: str,
                     party: str) -> None:
    """Serialise find-or-start for one party until the transaction ends.

    PostgreSQL: a transaction advisory lock on a hash of the party. SQLite: its single
    write lock, taken by a no-op write before the read (as ``hub.security.audit`` does).
    """
    if session.get_bind().dialect.name == "postgresql":
        digest = hashlib.sha256(f"{organisation_id}:{channel}:{party}".encode()).digest()
        key = int.from_bytes(digest[:8], "big", signed=True)
        await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})
    else:
        await session.execute(text("UPDATE organisations SET id = id WHERE id = :org"),
                              {"org": organisation_id})


async def conversation_for(session: AsyncSession, account: ChannelAccount,
                           match: PartyMatch, sender_name: str) -> Conversation:
    """The party's most recent conversation on this account, else a new one."""
    await lock_party(session, account.organisation_id, account.kind, match.party)
    latest = await latest_conversation(session, account, match.party)
    if latest is None:
        return await _start(session, account, match, sender_name)
    if latest.client_id is None and match.client_id is not None:
        # a sender staff have since recorded as a contact: link what was unlinked
        latest.client_id = match.client_id
        latest.contact_id = match.contact_id
    return latest


async def latest_conversation(session: AsyncSession, account: ChannelAccount,
                              party: str) -> Conversation | None:
    return await session.scalar(
        select(Conversation).where(
            Conversation.organisation_id == account.organisation_id,
            Conversation.channel == account.kind, Conversation.external_party == party,
            or_(Conversation.channel_account_id == account.id,
                Conversation.channel_account_id.is_(None)))
        .order_by(Conversation.last_message_at.desc(), Conversation.id.desc()).limit(1))


async def _start(session: AsyncSession, account: ChannelAccount, match: PartyMatch,
                 sender_name: str) -> Conversation:
    linked = match.client_id is not None
    conversation = Conversation(
        organisation_id=account.organisation_id, channel=account.kind,
        subject=f"{SUBJECTS.get(account.kind, account.kind)}: {sender_name}"[:500],
        external_party=match.party, channel_account_id=account.id,
        client_id=match.client_id, contact_id=match.contact_id if linked else None,
        thread_token=new_thread_token())
    session.add(conversation)
    await session.flush()
    return conversation


async def account_for(session: AsyncSession, conversation: Conversation) -> ChannelAccount | None:
    """The account a conversation's answers go out from: its own, else the organisation's
    only enabled account of that kind (None when there is none, or several to choose)."""
    if conversation.channel_account_id is not None:
        own = await session.get(ChannelAccount, conversation.channel_account_id)
        if own is not None and own.organisation_id == conversation.organisation_id:
            return own
    rows = (await session.scalars(select(ChannelAccount).where(
        ChannelAccount.organisation_id == conversation.organisation_id,
        ChannelAccount.kind == conversation.channel,
        ChannelAccount.enabled.is_(True)).limit(2))).all()
    return rows[0] if len(rows) == 1 else None
