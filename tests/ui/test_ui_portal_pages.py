"""The portal over HTTP: my conversations, writing with attachments, receipts, refusals."""

from __future__ import annotations

import httpx
from sqlalchemy import select

from hub.db.engine import transaction
from hub.db.models import Attachment, AuditRecord, Conversation, Message
from hub.inbox import actions
from hub.resources import Resources
from tests.factories import make_client, make_conversation
from tests.helpers.auth import signed_in
from tests.helpers.inbox import principal_of
from tests.ui.conftest import World


async def test_portal_home_lists_only_own_portal_conversations(
        client: httpx.AsyncClient, hub: Resources, world: World) -> None:
    async with transaction(hub.sessions) as db:
        other = await make_client(db, world.org)
        foreign = await make_conversation(db, world.org, client=other, channel="portal",
                                          subject="Andermans zaak")
    await signed_in(client, hub, world.daughter)
    page = await client.get("/portal/")
    assert page.status_code == 200
    assert "Medicatie" in page.text
    assert "Vraag" not in page.text  # the email conversation is not a portal one
    assert "Andermans zaak" not in page.text
    refused = await client.get(f"/portal/conversations/{foreign.id}")
    assert refused.status_code in (403, 404)
    assert (await client.get(f"/portal/conversations/{world.email.id}")).status_code in (403,
                                                                                        404)


async def test_portal_user_writes_with_attachment_and_sees_receipts(
        client: httpx.AsyncClient, hub: Resources, world: World) -> None:
    async with transaction(hub.sessions) as db:
        await actions.add_note(db, principal_of(world.anna), world.portal.id, "Intern: bellen")
    csrf = await signed_in(client, hub, world.daughter)
    base = f"/portal/conversations/{world.portal.id}"
    page = await client.get(base)
    assert page.status_code == 200 and "Intern: bellen" not in page.text
    sent = await client.post(f"{base}/messages", data={
        "csrf_token": csrf, "text": "Hier is de brief <b>van de arts</b>",
        "client_msg_id": "c-1"},
        files={"files": ("brief.pdf", b"%PDF-1.4 arts", "application/pdf")},
        headers={"Accept": "application/json"})
    assert sent.status_code == 201, sent.text
    again = await client.post(f"{base}/messages", data={
        "csrf_token": csrf, "text": "Hier is de brief <b>van de arts</b>",
        "client_msg_id": "c-1"}, headers={"Accept": "application/json"})
    assert again.json()["id"] == sent.json()["id"]  # a retried send is stored once
    fragment = await client.get(f"{base}/messages", params={"after": 1})
    assert "&lt;b&gt;van de arts&lt;/b&gt;" in fragment.text
    assert "brief.pdf" in fragment.text and "Intern" not in fragment.text
    async with hub.sessions() as db:
        [row] = (await db.scalars(select(Attachment).where(
            Attachment.filename == "brief.pdf"))).all()
    download = await client.get(f"{base}/attachments/{row.id}")
    assert download.status_code == 200 and download.content == b"%PDF-1.4 arts"


async def test_bad_portal_uploads_get_clear_json_errors(
        client: httpx.AsyncClient, hub: Resources, world: World) -> None:
    csrf = await signed_in(client, hub, world.daughter)
    url = f"/portal/conversations/{world.portal.id}/messages"
    refused = await client.post(url, data={"csrf_token": csrf, "text": "x",
                                           "client_msg_id": "e-1"},
                                files={"files": ("virus.exe", b"MZ", "application/pdf")},
                                headers={"Accept": "application/json"})
    assert refused.status_code == 415
    assert "niet toegestaan" in refused.json()["error"]["message"]


async def test_reading_turns_staff_replies_read(
        client: httpx.AsyncClient, hub: Resources, world: World) -> None:
    csrf = await signed_in(client, hub, world.anna)
    await client.post(f"/app/conversations/{world.portal.id}/reply", data={
        "csrf_token": csrf, "text": "De pillen komen dinsdag.", "reply_id": "r1"})
    await signed_in(client, hub, world.daughter)
    page = await client.get(f"/portal/conversations/{world.portal.id}")
    assert "De pillen komen dinsdag." in page.text
    async with hub.sessions() as db:
        statuses = (await db.scalars(select(Message.delivery_status).where(
            Message.conversation_id == world.portal.id, Message.direction == "out"))).all()
    assert statuses == ["read"]
    await signed_in(client, hub, world.anna)
    staff_view = await client.get(f"/app/conversations/{world.portal.id}")
    assert 'class="delivery read"' in staff_view.text


async def test_a_new_conversation_from_the_portal(
        client: httpx.AsyncClient, hub: Resources, world: World) -> None:
    csrf = await signed_in(client, hub, world.daughter)
    made = await client.post("/portal/messages", data={
        "csrf_token": csrf, "subject": "Verjaardag", "text": "Mama wordt 90!",
        "client_msg_id": "n-1"})
    assert made.status_code == 303
    async with hub.sessions() as db:
        conv = await db.scalar(select(Conversation).where(Conversation.subject == "Verjaardag"))
        assert conv is not None and conv.channel == "portal"
        line = await db.scalar(select(AuditRecord).where(
            AuditRecord.object_ref.like("message:%"), AuditRecord.user_type == "portal"))
    assert line is not None and line.on_behalf_of.startswith("family")
    empty = await client.post("/portal/messages", data={
        "csrf_token": csrf, "subject": "Leeg", "text": " ", "client_msg_id": "n-2"})
    assert empty.status_code == 422 and "leeg" in empty.text
