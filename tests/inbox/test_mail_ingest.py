"""Ingest into the database without IMAP: deduplication rules, the corpus twice, client
matching, one-step linking, attachments on disk, quarantine and its retry."""

from __future__ import annotations

import dataclasses
import itertools
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from hub.db.models import (
    Attachment,
    AuditRecord,
    ClientContact,
    Conversation,
    EmailReceipt,
    Message,
    Organisation,
    QuarantinedItem,
    Staff,
)
from hub.db.models.messaging import DeliveryStatus, Direction
from hub.events import unit_of_work
from hub.inbox.attachments import AttachmentStore
from hub.inbox.ingest import (
    Fetched,
    IngestResult,
    MailboxRef,
    MailIngest,
    parse_batch,
    retry_quarantined,
)
from hub.inbox.ingest_batch import BatchPlan
from hub.inbox.linking import link_conversation
from hub.inbox.match import candidate_clients
from hub.inbox.normalise import Limits
from hub.inbox.store import NewMessage, store_message
from hub.realtime.topics import inbox_channel
from hub.resources import Resources
from hub.security.principal import Principal
from tests.channels import mailgen
from tests.factories import (
    make_client,
    make_contact,
    make_conversation,
    make_mailbox,
    make_org,
    make_staff,
)

CORPUS = Path(__file__).parent.parent / "fixtures" / "mail"
LIMITS = Limits(max_attachment_bytes=15 * 2**20, max_message_bytes=25 * 2**20)
UIDVALIDITY = 77


@dataclasses.dataclass
class Inbox:
    hub: Resources
    ingest: MailIngest
    org_id: int
    staff: Principal
    uids: Any = dataclasses.field(default_factory=lambda: itertools.count(1))

    async def take(self, *raws: bytes) -> IngestResult:
        items = [Fetched(next(self.uids), raw) for raw in raws]
        return await self.ingest.store_batch(UIDVALIDITY, parse_batch(items, LIMITS))

    async def message(self, external_id: str) -> Message:
        async with self.hub.sessions() as session:
            found = await session.scalar(select(Message).where(
                Message.external_id == external_id))
            assert found is not None, external_id
            return found

    async def count(self, model: Any) -> int:
        async with self.hub.sessions() as session:
            return int(await session.scalar(select(func.count()).select_from(model)) or 0)

    async def conversation(self, external_id: str) -> Conversation:
        message = await self.message(external_id)
        async with self.hub.sessions() as session:
            found = await session.get(Conversation, message.conversation_id)
            assert found is not None
            return found


@pytest.fixture
async def inbox(hub: Resources) -> Inbox:
    async with hub.sessions() as session, session.begin():
        org = await make_org(session)
        nurse = await make_staff(session, org)
        mailbox = await make_mailbox(session, org, address="zorgteam@zorg.test")
    ingest = MailIngest(hub.sessions, hub.events, AttachmentStore(hub.settings.attachments_dir),
                        MailboxRef(mailbox.id, org.id))
    staff = Principal("staff", org.id, nurse.id, nurse.name, "staff")
    return Inbox(hub, ingest, org.id, staff)


def corpus(name: str) -> bytes:
    return (CORPUS / name).read_bytes()


async def test_the_same_mail_twice_is_one_message_with_two_receipts(inbox: Inbox) -> None:
    raw = mailgen.plain(message_id="twice@familie.test")
    first, second = await inbox.take(raw), await inbox.take(b"Received: by mx\r\n" + raw)
    assert (first.stored, second.stored, second.duplicates) == (1, 0, 1)
    async with inbox.hub.sessions() as session:
        receipts = (await session.scalars(select(EmailReceipt))).all()
    assert len(receipts) == 2 and len({r.message_id for r in receipts}) == 1
    assert await inbox.count(Message) == 1


async def test_a_colliding_message_id_from_another_sender_is_another_mail(inbox: Inbox) -> None:
    await inbox.take(corpus("01-plain-utf8.eml"), corpus("32-same-id-other-sender.eml"))
    async with inbox.hub.sessions() as session:
        ids = sorted((await session.scalars(select(Message.external_id))).all())
    assert ids[0] == "plain-utf8@familie.test"
    assert ids[1].startswith("plain-utf8@familie.test#") and len(ids[1]) == 24 + 16
    again = await inbox.take(corpus("32-same-id-other-sender.eml"))
    assert again.duplicates == 1 and await inbox.count(Message) == 2


async def test_same_id_same_sender_with_a_list_footer_is_the_same_mail(inbox: Inbox) -> None:
    raw = mailgen.plain(message_id="list@familie.test", body="Vergadering om 10 uur.")
    footer = raw.replace(b"Vergadering om 10 uur.", b"Vergadering om 10 uur.\n-- \nLijst")
    result = await inbox.take(raw, footer)
    assert (result.stored, result.duplicates) == (1, 1)


async def test_the_whole_corpus_twice_stores_each_once(inbox: Inbox) -> None:
    files = sorted(CORPUS.glob("*.eml"))
    first = await inbox.take(*(p.read_bytes() for p in files))
    assert first.quarantined == 2 and first.stored == len(files) - 2
    second = await inbox.take(*(p.read_bytes() for p in files))
    assert second.stored == 0 and second.duplicates == len(files) - 2
    assert await inbox.count(Message) == len(files) - 2
    assert await inbox.count(QuarantinedItem) == 2  # the same bad bytes are kept once
    assert await inbox.count(EmailReceipt) == 2 * len(files)
    wond = await inbox.message("inline-image@familie.test")
    async with inbox.hub.sessions() as session:
        [image] = (await session.scalars(select(Attachment).where(
            Attachment.message_id == wond.id))).all()
    store = AttachmentStore(inbox.hub.settings.attachments_dir)
    assert image.inline and image.content_id == "wond.png@familie.test"
    assert store.get(image.sha256).startswith(b"\x89PNG")
    raw = store.get(wond.meta["raw_sha256"])
    assert raw == corpus("10-inline-image-related.eml")  # the full original is kept


async def test_one_attachment_in_two_mails_is_stored_once_on_disk(inbox: Inbox) -> None:
    await inbox.take(mailgen.with_attachment("Jan Visser", "Plan", 3_000),
                     mailgen.with_attachment("Noor Smit", "Plan", 3_000))
    async with inbox.hub.sessions() as session:
        hashes = (await session.scalars(select(Attachment.sha256))).all()
    assert len(hashes) == 2 and len(set(hashes)) == 1
    files = [p for p in inbox.hub.settings.attachments_dir.rglob("*") if p.is_file()]
    assert len([p for p in files if p.name == hashes[0]]) == 1


async def test_sender_matching_reply_to_first_and_representatives(inbox: Inbox) -> None:
    async with inbox.hub.sessions() as session, session.begin():
        org = await _org(session, inbox.org_id)
        truus = await make_client(session, org, given_name="Truus")
        await make_contact(session, truus, email="Ingrid.Bakker@Familie.test", relation="family")
        piet, marie = await make_client(session, org), await make_client(session, org)
        await make_contact(session, piet, email="curator@bewind.test",
                           relation="legal_representative")
        await make_contact(session, marie, email="CURATOR@bewind.test",
                           relation="legal_representative")
    await inbox.take(corpus("26-reply-to-differs.eml"),
                     mailgen.plain(sender_address="curator@bewind.test",
                                   message_id="curator@bewind.test"))
    portal = await inbox.conversation("reply-to-differs@portaal.test")
    assert portal.client_id == truus.id and portal.external_party == "ingrid.bakker@familie.test"
    represented = await inbox.conversation("curator@bewind.test")
    assert represented.client_id is None  # two clients: staff choose
    assert sorted((await inbox.message("curator@bewind.test")).meta["candidate_clients"]) \
        == sorted([piet.id, marie.id])
    async with inbox.hub.sessions() as session:
        assert sorted(await candidate_clients(session, inbox.org_id, "Curator@Bewind.test")) \
            == sorted([piet.id, marie.id])


async def test_linking_in_one_step_remembers_the_address(inbox: Inbox) -> None:
    await inbox.take(mailgen.plain("Kees van Dijk", message_id="k1@familie.test"))
    conversation = await inbox.conversation("k1@familie.test")
    assert conversation.client_id is None
    async with inbox.hub.sessions() as session, session.begin():
        client = await make_client(session, await _org(session, inbox.org_id),
                                   caseload_of=await _staff(session, inbox.staff))
    pubsub = inbox.hub.redis.pubsub()
    await pubsub.subscribe(inbox_channel(inbox.org_id))
    try:
        async with _uow(inbox) as session:
            linked = await link_conversation(session, inbox.staff, conversation.id, client.id)
        assert linked.client_id == client.id
        frame = await _frame(pubsub)
    finally:
        await pubsub.aclose()
    assert frame["conversation_id"] == conversation.id and frame["client_id"] == client.id
    async with inbox.hub.sessions() as session:
        [contact] = (await session.scalars(select(ClientContact))).all()
        audit = (await session.scalars(select(AuditRecord.object_ref))).all()
    assert (contact.client_id, contact.email, contact.relation, contact.verified) == (
        client.id, "kees.van.dijk@familie.test", "other", False)
    assert contact.name == "Kees van Dijk"
    assert f"conversation:{conversation.id}" in audit and f"client_contact:{contact.id}" in audit

    # the next mail from that address is linked on arrival
    await inbox.take(mailgen.plain("Kees van Dijk", subject="Nieuw", message_id="k2@familie.test"))
    assert (await inbox.conversation("k2@familie.test")).client_id == client.id
    # linking again (now verified) adds no second contact
    async with _uow(inbox) as session:
        await link_conversation(session, inbox.staff, conversation.id, client.id, verified=True)
    async with inbox.hub.sessions() as session:
        contacts = (await session.scalars(select(ClientContact))).all()
    assert len(contacts) == 1 and contacts[0].verified


async def test_free_form_bounce_marks_our_message_failed(inbox: Inbox) -> None:
    async with _uow(inbox) as session:
        org = await _org(session, inbox.org_id)
        conversation = await make_conversation(session, org, external_party="weg@oud.test")
        sent, _ = await store_message(session, conversation, NewMessage(
            channel="email", direction=Direction.OUTBOUND.value,
            external_id="zh.0123456789abcdef.eeeeffff00001111@zorg.test",
            delivery_status=DeliveryStatus.SENT.value))
    await inbox.take(corpus("18-freeform-bounce.eml"))
    async with inbox.hub.sessions() as session:
        stored = await session.get(Message, sent.id)
    assert stored is not None and stored.delivery_status == DeliveryStatus.FAILED
    assert "failure notice" in (stored.delivery_error or "")
    bounce = await inbox.message("qmail-bounce@oud.familie.test")
    assert bounce.conversation_id == conversation.id


async def test_a_mail_that_cannot_be_stored_is_quarantined_then_retried(
        inbox: Inbox, monkeypatch: pytest.MonkeyPatch) -> None:
    original = BatchPlan.take

    async def broken(self: BatchPlan, inbound: Any, raw: bytes) -> Any:
        if inbound.external_id == "poison@familie.test":
            raise ValueError("simulated bug in storing")
        return await original(self, inbound, raw)

    monkeypatch.setattr(BatchPlan, "take", broken)
    result = await inbox.take(mailgen.plain(message_id="ok1@familie.test"),
                              mailgen.plain(message_id="poison@familie.test"),
                              mailgen.plain(message_id="ok2@familie.test"))
    assert (result.stored, result.quarantined) == (2, 1)
    async with inbox.hub.sessions() as session:
        item = await session.scalar(select(QuarantinedItem))
    assert item is not None and "simulated bug" in item.reason

    store = AttachmentStore(inbox.hub.settings.attachments_dir)
    assert await retry_quarantined(inbox.hub.sessions, inbox.hub.events, store, LIMITS,
                                   inbox.staff, item.id) is None  # still broken
    monkeypatch.setattr(BatchPlan, "take", original)
    message = await retry_quarantined(inbox.hub.sessions, inbox.hub.events, store, LIMITS,
                                      inbox.staff, item.id)
    assert message is not None and message.external_id == "poison@familie.test"
    async with inbox.hub.sessions() as session:
        item = await session.get(QuarantinedItem, item.id)
        receipt = await session.scalar(select(EmailReceipt).where(
            EmailReceipt.message_id == message.id))
    assert item is not None and item.resolved_at is not None and item.retries == 2
    assert receipt is not None


async def test_retrying_real_garbage_keeps_it_in_quarantine(inbox: Inbox) -> None:
    await inbox.take(corpus("21-garbage-not-mail.eml"))
    async with inbox.hub.sessions() as session:
        item = await session.scalar(select(QuarantinedItem))
    assert item is not None
    store = AttachmentStore(inbox.hub.settings.attachments_dir)
    assert await retry_quarantined(inbox.hub.sessions, inbox.hub.events, store, LIMITS,
                                   inbox.staff, item.id) is None
    async with inbox.hub.sessions() as session:
        item = await session.get(QuarantinedItem, item.id)
    assert item is not None and item.retries == 1 and item.resolved_at is None
    assert item.raw == corpus("21-garbage-not-mail.eml")


async def _org(session: Any, org_id: int) -> Organisation:
    org = await session.get(Organisation, org_id)
    assert org is not None
    return org


async def _staff(session: Any, who: Principal) -> Staff:
    staff = await session.get(Staff, who.user_id)
    assert staff is not None
    return staff


def _uow(inbox: Inbox) -> Any:
    return unit_of_work(inbox.hub.sessions, inbox.hub.events)


async def _frame(pubsub: Any) -> dict[str, Any]:
    for _ in range(20):
        item = await pubsub.get_message(ignore_subscribe_messages=True, timeout=0.5)
        if item is not None:
            return dict(json.loads(item["data"]))
    raise AssertionError("no frame")
