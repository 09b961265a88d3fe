"""``process_webhook`` for WhatsApp: messages, statuses and media, replaying Meta's payloads.

Real database, real Redis, media from the local fake Graph API. Each test drives the
worker job the way arq would (``take_in`` stores a delivery, then runs the job).
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from arq import Retry
from sqlalchemy import select, update

from hub.db.models import Attachment, Conversation, WebhookDelivery
from hub.inbox.attachments import AttachmentStore
from hub.resources import Resources
from tests.factories import make_client, make_contact
from tests.webhooks.fake_graph import FakeGraph, meta_error
from tests.webhooks.fixtures import (  # noqa: F401
    INGRID_PSID,
    INGRID_WA,
    MetaWorld,
    ago,
    conversations,
    delivery_row,
    fake_graph,
    first_conversation,
    fixture,
    messages,
    meta_world,
    organisation,
    outbound,
    raw_fixture,
    settings,
    take_in,
    with_first_message,
    worker_ctx,
)
from workers.webhooks import process_webhook

Ctx = dict[str, Any]


# --- messages -------------------------------------------------------------------------


async def test_a_known_contact_links_the_client_and_redelivery_changes_nothing(
        worker_ctx: Ctx, hub: Resources, meta_world: MetaWorld) -> None:  # noqa: F811
    raw = raw_fixture("whatsapp/text.json")
    first = await take_in(worker_ctx, "whatsapp", raw)
    second = await take_in(worker_ctx, "whatsapp", raw)  # Meta delivers it again
    [message] = await messages(hub)
    [conversation] = await conversations(hub)
    assert (conversation.client_id, conversation.contact_id) == (meta_world.client_id,
                                                                 meta_world.ingrid_id)
    assert conversation.channel_account_id == meta_world.whatsapp_id
    assert conversation.external_party == INGRID_WA
    assert message.sender_name == "Ingrid Visser"  # the contact's name in the record
    assert message.sender_contact_id == meta_world.ingrid_id
    assert message.direction == "in" and message.meta["profile_name"] == "Ingrid"
    assert conversation.last_inbound_at == dt.datetime.fromtimestamp(1749416383, dt.UTC)
    done = [await delivery_row(hub, d) for d in (first, second)]
    assert all(d.processed_at is not None and d.organisation_id == meta_world.org_id
               for d in done)
    assert await process_webhook(worker_ctx, first) == "nothing to do"


async def test_an_unknown_sender_gets_one_unlinked_conversation_that_goes_on_and_reopens(
        worker_ctx: Ctx, hub: Resources, meta_world: MetaWorld) -> None:  # noqa: F811
    text = fixture("whatsapp/text.json")
    await take_in(worker_ctx, "whatsapp", with_first_message(
        text, **{"from": "31687654321", "text": {"body": "Hallo\u0000 daar\u001b"}}))
    [conversation] = await conversations(hub)
    assert conversation.client_id is None and conversation.contact_id is None
    [message] = await messages(hub)
    assert message.sender_name == "+31687654321"  # no profile name for this wa_id
    assert message.body_text == "Hallo daar"  # control characters never reach the database
    async with hub.sessions.begin() as db:
        await db.execute(update(Conversation).values(status="resolved"))
        client = await make_client(db, await organisation(db, meta_world))
        # staff record the number (as a phone only): the next message links the client
        await make_contact(db, client, name="Kees van Dijk", phone="+31687654321")
    await take_in(worker_ctx, "whatsapp", with_first_message(text, **{"from": "31687654321",
                                                           "id": "wamid.tweede"}))
    [again] = await conversations(hub)
    assert again.id == conversation.id and again.status == "open"
    assert again.client_id == client.id
    assert [m.sender_name for m in await messages(hub)] == ["+31687654321", "Kees van Dijk"]


async def test_a_representative_of_two_clients_is_left_for_staff_to_choose(
        worker_ctx: Ctx, hub: Resources, meta_world: MetaWorld) -> None:  # noqa: F811
    async with hub.sessions.begin() as db:
        other = await make_client(db, await organisation(db, meta_world), given_name="Truus")
        await make_contact(db, other, name="Ingrid Visser", whatsapp_id=INGRID_WA)
    await take_in(worker_ctx, "whatsapp", raw_fixture("whatsapp/text.json"))
    [conversation] = await conversations(hub)
    [message] = await messages(hub)
    assert conversation.client_id is None
    assert message.meta["candidate_clients"] == [meta_world.client_id, other.id]


async def test_every_message_and_status_of_a_batch_is_taken_in(
        worker_ctx: Ctx, hub: Resources, meta_world: MetaWorld) -> None:  # noqa: F811
    conversation_id = await first_conversation(worker_ctx, meta_world)
    payload = fixture("whatsapp/batch.json")
    status_ids = [s["id"] for s in payload["entry"][0]["changes"][1]["value"]["statuses"]]
    ours = [await outbound(hub, conversation_id, f"antwoord {n}", remote_id=remote)
            for n, remote in enumerate(status_ids)]
    await take_in(worker_ctx, "whatsapp", json.dumps(payload).encode())
    inbound = await messages(hub, direction="in")
    assert [m.body_text[:14] for m in inbound] == [
        "Goedemorgen, m", "Eerste bericht", "Goedemiddag, i", "Tweede bericht",
        "Locatie: Huisa"]
    by_party = {c.external_party: c for c in await conversations(hub)}
    assert set(by_party) == {INGRID_WA, "31687654321"}
    assert {m.conversation_id for m in inbound if m.sender_address == INGRID_WA} == {
        conversation_id}
    statuses = {m.id: m.delivery_status for m in await messages(hub, direction="out")}
    assert [statuses[i] for i in ours] == ["delivered", "read"]


async def test_readable_text_for_buttons_lists_reactions_and_unsupported_types(
        worker_ctx: Ctx, hub: Resources, meta_world: MetaWorld) -> None:  # noqa: F811
    conversation_id = await first_conversation(worker_ctx, meta_world)
    target = fixture("whatsapp/reaction.json")["entry"][0]["changes"][0]["value"][
        "messages"][0]["reaction"]["message_id"]
    await outbound(hub, conversation_id, "Kunnen we morgen om 10 uur komen?",
                    remote_id=target)
    for name in ("interactive_button_reply", "interactive_list_reply", "button", "reaction",
                 "unsupported"):
        await take_in(worker_ctx, "whatsapp", raw_fixture(f"whatsapp/{name}.json"))
    texts = [m.body_text for m in await messages(hub, direction="in")][1:]
    assert texts[:4] == ["Ja, dat past", "Middag - Tussen 13:00 en 17:00", "Open het portaal",
                         '👍 (reactie op "Kunnen we morgen om 10 uur komen?")']
    assert texts[4].startswith("[Dit soort WhatsApp-bericht kan hier niet worden getoond")
    assert len(await conversations(hub)) == 1


# --- statuses -------------------------------------------------------------------------


async def test_statuses_only_move_forward_and_a_failure_shows_metas_error(
        worker_ctx: Ctx, hub: Resources, meta_world: MetaWorld) -> None:  # noqa: F811
    conversation_id = await first_conversation(worker_ctx, meta_world)
    statuses = fixture("whatsapp/statuses.json")
    read_first = statuses["entry"][0]["changes"][0]["value"]["statuses"][0]["id"]
    failed = fixture("whatsapp/status_failed.json")
    failed_id = failed["entry"][0]["changes"][0]["value"]["statuses"][0]["id"]
    a = await outbound(hub, conversation_id, "eerste", remote_id=read_first)
    b = await outbound(hub, conversation_id, "tweede", remote_id=failed_id)
    # read, then delivered, then sent: the late ones change nothing
    await take_in(worker_ctx, "whatsapp", json.dumps(statuses).encode())
    await take_in(worker_ctx, "whatsapp", json.dumps(failed).encode())
    got = {m.id: m for m in await messages(hub, direction="out")}
    assert got[a].delivery_status == "read"
    assert (got[b].delivery_status, got[b].delivery_error) == (
        "failed", "Message undeliverable: Message Undeliverable. (Meta-code 131026)")
    # another device of the person did get it after all: delivered wins, the error goes
    change = failed["entry"][0]["changes"][0]["value"]["statuses"][0]
    change.update(status="delivered")
    del change["errors"]
    await take_in(worker_ctx, "whatsapp", json.dumps(failed).encode())
    [after] = await messages(hub, id=b)
    assert (after.delivery_status, after.delivery_error) == ("delivered", None)


async def test_a_status_that_overtakes_the_send_job_finds_its_message(
        worker_ctx: Ctx, hub: Resources, meta_world: MetaWorld) -> None:  # noqa: F811
    conversation_id = await first_conversation(worker_ctx, meta_world)
    queued = await outbound(hub, conversation_id, "nog in de wachtrij", remote_id=None,
                             status="queued")
    raw = raw_fixture("whatsapp/status_with_callback.json", MESSAGE_ID=str(queued))
    delivery = await take_in(worker_ctx, "whatsapp", raw)
    [message] = await messages(hub, id=queued)
    assert message.delivery_status == "delivered"
    assert message.remote_id == "wamid.HBgLMzE2MTIzNDU2NzgVAgARGBJDQUxMQkFDSzEyMzQ1Njc4OTAA"
    # a status for a message that was never ours is noted, not guessed at
    stranger = raw_fixture("whatsapp/status_with_callback.json", MESSAGE_ID="999999")
    stranger = stranger.replace(b"QUxMQkFDSzEy", b"OTHERID00000")
    other = await take_in(worker_ctx, "whatsapp", stranger)
    assert (await delivery_row(hub, delivery)).error is None
    assert "niet verstuurd" in ((await delivery_row(hub, other)).error or "")


# --- media ----------------------------------------------------------------------------


async def test_media_is_downloaded_once_and_attached(
        worker_ctx: Ctx, hub: Resources, meta_world: MetaWorld,  # noqa: F811
        fake_graph: FakeGraph) -> None:  # noqa: F811
    photo, pdf = b"\xff\xd8\xff\xe0 wondfoto", b"%PDF-1.7 medicatie"
    fake_graph.media["1043526210396551"] = (photo, "image/jpeg")
    fake_graph.media["2206513669821552"] = (pdf, "application/pdf")
    for name in ("image", "document", "image"):  # the image twice: Meta redelivers
        await take_in(worker_ctx, "whatsapp", raw_fixture(f"whatsapp/{name}.json"))
    async with hub.sessions() as db:
        rows = (await db.scalars(select(Attachment).order_by(Attachment.id))).all()
    assert [(r.filename, r.content_type, r.size) for r in rows] == [
        ("afbeelding.jpg", "image/jpeg", len(photo)),
        ("medicatieoverzicht.pdf", "application/pdf", len(pdf))]
    store = AttachmentStore(hub.settings.attachments_dir)
    assert [store.get(r.sha256) for r in rows] == [photo, pdf]
    assert len(fake_graph.requests("/download/1043526210396551")) == 1
    assert [m.body_text for m in await messages(hub)] == [
        "Foto van de wond aan zijn been", "Medicatieoverzicht van de apotheek"]


async def test_a_file_too_large_or_gone_is_listed_as_skipped(
        worker_ctx: Ctx, hub: Resources, meta_world: MetaWorld,  # noqa: F811
        fake_graph: FakeGraph) -> None:  # noqa: F811
    fake_graph.media["917240453850263"] = (b"O" * 64, "audio/ogg")
    hub.settings = hub.settings.with_changes(max_attachment_bytes=32)
    await take_in(worker_ctx, "whatsapp", raw_fixture("whatsapp/audio.json"))
    await take_in(worker_ctx, "whatsapp", raw_fixture("whatsapp/document.json"))  # unknown id
    audio, document = await messages(hub)
    assert audio.skipped_attachments[0]["reason"].startswith("groter dan de ingestelde grens")
    assert audio.skipped_attachments[0]["filename"] == "geluidsbericht"
    assert "does not exist (Meta-code 100/33)" in document.skipped_attachments[0]["reason"]
    async with hub.sessions() as db:
        assert (await db.scalars(select(Attachment))).all() == []


async def test_a_passing_media_failure_retries_and_at_last_keeps_the_words(
        worker_ctx: Ctx, hub: Resources, meta_world: MetaWorld,  # noqa: F811
        fake_graph: FakeGraph) -> None:  # noqa: F811
    fake_graph.fail_next(*[meta_error(503, 2, "Service temporarily unavailable")
                           for _ in range(4)])
    async with hub.sessions.begin() as db:
        delivery = WebhookDelivery(source="whatsapp", raw=raw_fixture("whatsapp/image.json"))
        db.add(delivery)
    delays = []
    for _ in range(3):
        with pytest.raises(Retry) as retry:
            await process_webhook(worker_ctx, delivery.id)
        delays.append(retry.value.defer_score)
        assert await messages(hub) == []
    assert delays == [5000, 30000, 120000]
    await process_webhook(worker_ctx, delivery.id)
    [message] = await messages(hub)
    assert message.body_text == "Foto van de wond aan zijn been"
    assert "Service temporarily unavailable" in message.skipped_attachments[0]["reason"]


