"""One batch of fetched mail: decide what each message is, then write them all at once.

Deciding (deduplicate, match the sender, find or start the conversation) needs lookups;
they are made for the whole batch at once (contacts, known Message-IDs, the conversations
the threading headers point at) and a message that answers another one from the same
batch is threaded in memory. Writing then takes a handful of statements for the whole batch (new
conversations, one sequence bump, one multi-row INSERT of messages, attachments and
receipts) instead of several round trips per message: that is what makes ingest fast.

``careful`` batches (one message: a retry, or the slow path after a batch failed) store
each message at once with ``store_message``, which survives a concurrent duplicate.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.db.models import Attachment, Conversation, Message
from hub.db.models.messaging import Channel, Direction
from hub.inbox.attachments import AttachmentStore, FileData, attachment_rows, digest
from hub.inbox.bounces import apply_bounce
from hub.inbox.match import ContactIndex, SenderMatch, load_contacts, pick_sender
from hub.inbox.normalise import Inbound
from hub.inbox.store import NewMessage, store_message, store_new_messages
from hub.inbox.thread import (
    ThreadIndex,
    base_subject,
    find_conversation,
    is_reply_subject,
    new_thread_token,
)

EMAIL = Channel.EMAIL.value


@dataclasses.dataclass
class Seen:
    """A stored (or, within the batch, planned) message as deduplication needs it."""

    sender_address: str
    fingerprint: str | None
    id: int | None = None  # None until a message planned in this batch is written


@dataclasses.dataclass
class _Planned:
    seen: Seen
    conversation: Conversation
    new: NewMessage
    files: list[FileData]


class BatchPlan:
    def __init__(self, session: AsyncSession, organisation_id: int, mailbox_id: int | None,
                 store: AttachmentStore, contacts: ContactIndex, known: dict[str, Seen],
                 threads: ThreadIndex, careful: bool) -> None:
        self.session = session
        self.organisation_id = organisation_id
        self.mailbox_id = mailbox_id
        self.store = store
        self.contacts = contacts
        self.known = known
        self.careful = careful
        self.planned: list[_Planned] = []
        self.attachments: list[Attachment] = []
        self.threads = threads
        # conversations started by this batch (for subject threading inside the batch)
        self.started: list[Conversation] = []

    @classmethod
    async def load(cls, session: AsyncSession, organisation_id: int, mailbox_id: int | None,
                   store: AttachmentStore, inbounds: Sequence[Inbound],
                   careful: bool) -> BatchPlan:
        """Four queries for the whole batch: the senders' contacts, the messages already
        stored under its Message-IDs (or their collision variants), and the
        conversations its threading headers point at (``ThreadIndex``)."""
        contacts = await load_contacts(session, organisation_id, [
            a for i in inbounds for a in (i.reply_address, i.sender_address)])
        ids = {x for i in inbounds for x in (i.external_id, collision_id(i))}
        known: dict[str, Seen] = {}
        if ids:
            rows = await session.execute(select(
                Message.external_id, Message.id, Message.sender_address, Message.meta,
            ).where(Message.organisation_id == organisation_id, Message.channel == EMAIL,
                    Message.external_id.in_(ids)))
            for external_id, message_id, sender, meta in rows:
                known[external_id] = Seen(sender, (meta or {}).get("fingerprint"), message_id)
        threads = await ThreadIndex.load(session, organisation_id, inbounds)
        return cls(session, organisation_id, mailbox_id, store, contacts, known, threads,
                   careful)

    async def take(self, inbound: Inbound, raw: bytes) -> tuple[Seen, bool]:
        """Plan (or, careful, store) one message; (its entry, new or not)."""
        seen = self._known(inbound)
        if seen is not None:
            return seen, False
        match = pick_sender(self.contacts, [inbound.reply_address, inbound.sender_address])
        conversation = await self._conversation(inbound, match)
        # a batch has its bytes written in the background (``blobs``); careful ones now
        raw_sha256 = self.store.put(raw) if self.careful else digest(raw)
        meta = inbound.meta() | {"raw_sha256": raw_sha256, "mailbox_id": self.mailbox_id}
        if inbound.bounce is not None:
            meta["bounce"] = dataclasses.asdict(inbound.bounce)
        if len(match.candidates) > 1:  # a representative of several clients: staff choose
            meta["candidate_clients"] = list(match.candidates)
        new = _new_message(inbound, match, meta)
        seen = Seen(inbound.sender_address, inbound.fingerprint)
        self.known[new.external_id] = seen
        self.threads.by_message_id[new.external_id] = conversation
        if not self.careful:
            self.planned.append(_Planned(seen, conversation, new, inbound.files))
            return seen, True
        message, created = await store_message(self.session, conversation, new)
        seen.id = message.id
        if created:
            self.attachments += attachment_rows(self.store, self.organisation_id, message.id,
                                                inbound.files)
        return seen, created

    async def write(self) -> list[Message]:
        """Write what was planned: new conversations, then all messages at once."""
        await self.session.flush()
        messages = await store_new_messages(
            self.session, [(p.conversation, p.new) for p in self.planned])
        for planned, message in zip(self.planned, messages, strict=True):
            planned.seen.id = message.id
            self.attachments += attachment_rows(self.store, self.organisation_id, message.id,
                                                planned.files, stored=True)
        return messages

    def _known(self, inbound: Inbound) -> Seen | None:
        """The message this mail duplicates (rules: ``hub.inbox.ingest``); switches
        ``inbound`` to its collision id when the Message-ID is someone else's."""
        seen = self.known.get(inbound.external_id)
        if seen is None:
            return None
        if seen.sender_address.lower() == inbound.sender_address \
                or seen.fingerprint == inbound.fingerprint:
            return seen
        inbound.external_id = collision_id(inbound)
        return self.known.get(inbound.external_id)

    async def _conversation(self, inbound: Inbound, match: SenderMatch) -> Conversation:
        conversation = None
        if inbound.bounce is not None:
            original = await apply_bounce(self.session, self.organisation_id, inbound.bounce)
            if original is not None:
                conversation = await self.session.get(Conversation, original.conversation_id)
        conversation = conversation or self.threads.find(inbound)
        conversation = conversation or self._subject_in_batch(inbound)
        if conversation is None:
            conversation = await find_conversation(self.session, self.organisation_id, inbound,
                                                   self.threads)
        if conversation is None:
            return await self._start(inbound, match)
        if conversation.client_id is None and match.client_id is not None \
                and conversation.external_party == match.address:
            conversation.client_id = match.client_id
            conversation.contact_id = match.contact_id
        return conversation

    def _subject_in_batch(self, inbound: Inbound) -> Conversation | None:
        if not is_reply_subject(inbound.subject):
            return None
        wanted, senders = base_subject(inbound.subject), {inbound.sender_address,
                                                          inbound.reply_address}
        return next((c for c in reversed(self.started) if c.external_party in senders
                     and base_subject(c.subject) == wanted), None)

    async def _start(self, inbound: Inbound, match: SenderMatch) -> Conversation:
        conversation = Conversation(
            organisation_id=self.organisation_id, channel=EMAIL, subject=inbound.subject[:500],
            mailbox_id=self.mailbox_id, external_party=(inbound.reply_address or None),
            client_id=match.client_id, contact_id=match.contact_id,
            thread_token=new_thread_token())
        self.session.add(conversation)
        self.started.append(conversation)
        if self.careful:
            await self.session.flush()
        return conversation


def blobs(inbounds: Sequence[tuple[Inbound, bytes]]) -> list[bytes]:
    """Every byte string a batch may store on disk: each raw mail and its files."""
    return [blob for inbound, raw in inbounds
            for blob in (raw, *(f.data for f in inbound.files))]


def collision_id(inbound: Inbound) -> str:
    return f"{inbound.external_id[:450]}#{inbound.fingerprint[:16]}"


def _new_message(inbound: Inbound, match: SenderMatch, meta: dict[str, Any]) -> NewMessage:
    return NewMessage(
        channel=EMAIL, direction=Direction.INBOUND.value, external_id=inbound.external_id,
        body_text=inbound.body_text, full_text=inbound.full_text, body_html=inbound.body_html,
        subject=inbound.subject[:500], sender_name=inbound.sender_name[:200],
        sender_address=inbound.sender_address[:254], sender_contact_id=match.contact_id,
        meta=meta, skipped_attachments=inbound.skipped,
    )
