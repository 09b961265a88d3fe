"""The staff app's inbox pages over HTTP: what they show, what forms do, what they refuse."""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

import httpx
from sqlalchemy import func, select

from hub.db.engine import transaction
from hub.db.models import (
    Attachment,
    AuditRecord,
    CannedReply,
    ClientContact,
    Conversation,
    Message,
)
from hub.resources import Resources
from tests.factories import make_client, make_conversation
from tests.helpers.auth import signed_in
from tests.ui.conftest import World

PDF = b"%PDF-1.7\n% test\n"
AMSTERDAM = ZoneInfo("Europe/Amsterdam")


def _inert(html: str) -> None:
    """No hostile markup from a message survives as markup."""
    assert "<script>alert" not in html
    assert "onerror=alert" not in html.replace("onerror=alert(1)&gt;", "")
    assert "<img src=x" not in html


async def test_inbox_lists_every_channel_with_hostile_fields_inert(
        client: httpx.AsyncClient, hub: Resources, world: World) -> None:
    await signed_in(client, hub, world.anna)
    page = await client.get("/app/", params={"status": "all"})
    assert page.status_code == 200
    html = page.text
    _inert(html)
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html
    assert 'class="chan email"' in html and 'class="chan portal"' in html
    assert html.index("Medicatie") < html.index("Vraag ")  # newest activity first
    assert f'href="/app/conversations/{world.email.id}"' in html
    async with hub.sessions() as db:
        line = await db.scalar(select(AuditRecord).where(AuditRecord.object_ref == "inbox"))
    assert line is not None and str(world.client.id) in line.detail


async def test_inbox_rejects_unknown_filters_and_hides_other_clients(
        client: httpx.AsyncClient, hub: Resources, world: World) -> None:
    await signed_in(client, hub, world.olga)
    assert (await client.get("/app/", params={"status": "weg"})).status_code == 422
    page = await client.get("/app/", params={"status": "all"})
    assert "Medicatie" not in page.text and "Geen gesprekken" in page.text


async def test_conversation_shows_sanitised_html_and_channel(
        client: httpx.AsyncClient, hub: Resources, world: World) -> None:
    await signed_in(client, hub, world.anna)
    page = await client.get(f"/app/conversations/{world.email.id}")
    assert page.status_code == 200
    _inert(page.text)
    assert "<p>Kan de zuster <b>later</b> komen?</p>" in page.text  # sanitised at ingest
    assert "Ingrid &lt;script&gt;" in page.text
    assert "&#34;&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page.text  # file name
    async with hub.sessions() as db:
        [row] = (await db.scalars(select(Attachment))).all()
    got = await client.get(f"/app/conversations/{world.email.id}/attachments/{row.id}")
    disposition = got.headers["content-disposition"]
    assert got.status_code == 200 and disposition.startswith('attachment; filename="_<script>')
    assert "\n" not in disposition and disposition.count('"') == 2
    denied = await client.get(f"/app/conversations/{world.email.id + 1000}")
    assert denied.status_code in (403, 404)


async def test_reply_note_assign_and_resolve_through_forms(
        client: httpx.AsyncClient, hub: Resources, world: World) -> None:
    csrf = await signed_in(client, hub, world.anna)
    base = f"/app/conversations/{world.portal.id}"
    sent = await client.post(f"{base}/reply", data={
        "csrf_token": csrf, "text": "Ja, morgen in huis.", "reply_id": "r-1",
        "channel": "portal"})
    assert sent.status_code == 303
    await client.post(f"{base}/note", data={"csrf_token": csrf, "text": "Apotheek gebeld",
                                            "note_id": "n-1"})
    version = await _version(hub, world.portal.id)
    assigned = await client.post(f"{base}/assign", data={
        "csrf_token": csrf, "version": str(version), "staff_id": str(world.bram.id),
        "team_id": ""})
    assert assigned.status_code == 303
    resolved = await client.post(f"{base}/status", data={
        "csrf_token": csrf, "version": str(version + 1), "status": "resolved"})
    assert resolved.status_code == 303
    async with hub.sessions() as db:
        conv = await db.get(Conversation, world.portal.id)
        assert conv is not None
        assert (conv.status, conv.assignee_staff_id) == ("resolved", world.bram.id)
        kinds = (await db.execute(select(Message.direction, Message.delivery_status).where(
            Message.conversation_id == conv.id).order_by(Message.seq))).all()
    assert kinds == [("in", "received"), ("out", "sent"), ("note", "received")]


async def test_a_stale_form_shows_the_newer_state(
        client: httpx.AsyncClient, hub: Resources, world: World) -> None:
    csrf = await signed_in(client, hub, world.anna)
    base = f"/app/conversations/{world.email.id}"
    stale = await _version(hub, world.email.id)
    first = await client.post(f"{base}/status", data={
        "csrf_token": csrf, "version": str(stale), "status": "pending"})
    assert first.status_code == 303
    second = await client.post(f"{base}/assign", data={
        "csrf_token": csrf, "version": str(stale), "staff_id": str(world.anna.id)})
    assert second.status_code == 409
    assert "intussen gewijzigd" in second.text
    assert 'class="state pending"' in second.text
    async with hub.sessions() as db:
        conv = await db.get(Conversation, world.email.id)
        assert conv is not None and conv.assignee_staff_id is None


async def test_snooze_takes_dutch_local_time(
        client: httpx.AsyncClient, hub: Resources, world: World) -> None:
    csrf = await signed_in(client, hub, world.anna)
    version = await _version(hub, world.email.id)
    day = (dt.datetime.now(AMSTERDAM) + dt.timedelta(days=40)).date()
    done = await client.post(f"/app/conversations/{world.email.id}/status", data={
        "csrf_token": csrf, "version": str(version), "status": "snoozed",
        "until": f"{day.isoformat()}T09:30"})
    assert done.status_code == 303
    async with hub.sessions() as db:
        conv = await db.get(Conversation, world.email.id)
    assert conv is not None and conv.snoozed_until is not None
    local = dt.datetime.combine(day, dt.time(9, 30), AMSTERDAM)
    assert conv.snoozed_until == local.astimezone(dt.UTC)
    assert conv.snoozed_until.hour in (7, 8)  # 09:30 in Amsterdam is 07:30 or 08:30 UTC


async def test_uploads_are_checked_with_clear_messages(
        client: httpx.AsyncClient, hub: Resources, world: World) -> None:
    csrf = await signed_in(client, hub, world.anna)
    url = f"/app/conversations/{world.portal.id}/reply"
    fields = {"csrf_token": csrf, "text": "Zie bijlage", "channel": "portal"}
    big = b"%PDF-" + b"0" * (hub.settings.max_attachment_bytes + 1)
    too_big = await client.post(url, data={**fields, "reply_id": "a"},
                                files={"files": ("scan.pdf", big, "application/pdf")})
    assert too_big.status_code == 413 and "te groot" in too_big.text
    assert "Zie bijlage</textarea>" in too_big.text  # what was typed is kept
    exe = await client.post(url, data={**fields, "reply_id": "b"},
                            files={"files": ('<b>x</b>.exe', b"MZ...", "application/pdf")})
    assert exe.status_code == 415 and "niet toegestaan" in exe.text
    _inert(exe.text)
    ok = await client.post(url, data={**fields, "reply_id": "c"},
                           files={"files": ("brief.pdf", PDF, "application/pdf")})
    assert ok.status_code == 303
    async with hub.sessions() as db:
        [row] = (await db.scalars(select(Attachment).where(
            Attachment.filename == "brief.pdf"))).all()
    path = f"/app/conversations/{world.portal.id}/attachments/{row.id}"
    download = await client.get(path)
    assert download.status_code == 200 and download.content == PDF
    assert download.headers["content-disposition"].startswith("attachment;")
    assert download.headers["x-content-type-options"] == "nosniff"
    other = f"/app/conversations/{world.email.id}/attachments/{row.id}"
    assert (await client.get(other)).status_code == 404  # not this conversation's file
    await signed_in(client, hub, world.olga)
    assert (await client.get(path)).status_code in (403, 404)


async def test_search_page_highlights_and_escapes(
        client: httpx.AsyncClient, hub: Resources, world: World) -> None:
    await signed_in(client, hub, world.anna)
    page = await client.get("/app/search", params={"q": "zuster"})
    assert page.status_code == 200
    assert "<mark>zuster</mark>" in page.text
    _inert(page.text)
    clients = await client.get("/app/search", params={"q": "jans"})
    assert f'href="/app/clients/{world.client.id}"' in clients.text
    await signed_in(client, hub, world.olga)
    hidden = await client.get("/app/search", params={"q": "zuster"})
    assert "<mark>" not in hidden.text


async def test_client_record_page(client: httpx.AsyncClient, hub: Resources,
                                  world: World) -> None:
    await signed_in(client, hub, world.anna)
    page = await client.get(f"/app/clients/{world.client.id}")
    assert page.status_code == 200
    timeline = page.text[page.text.index('id="timeline"'):]
    assert timeline.index("Zijn de nieuwe pillen") < timeline.index("Kan de zuster")
    assert "Team Oost" in page.text and "Ingrid Jansen" in page.text
    _inert(page.text)
    await signed_in(client, hub, world.olga)
    assert (await client.get(f"/app/clients/{world.client.id}")).status_code in (403, 404)


async def test_canned_replies_are_for_admins_to_manage(
        client: httpx.AsyncClient, hub: Resources, world: World) -> None:
    await signed_in(client, hub, world.anna)
    assert (await client.get("/app/admin/canned-replies")).status_code == 403
    csrf = await signed_in(client, hub, world.admin)
    made = await client.post("/app/admin/canned-replies", data={
        "csrf_token": csrf, "title": "Bereikbaarheid", "body": "Wij zijn er van 8 tot 17."})
    assert made.status_code == 303
    empty = await client.post("/app/admin/canned-replies", data={
        "csrf_token": csrf, "title": "", "body": "x"})
    assert empty.status_code == 422
    async with hub.sessions() as db:
        reply = await db.scalar(select(CannedReply))
    assert reply is not None
    await client.post(f"/app/admin/canned-replies/{reply.id}", data={
        "csrf_token": csrf, "title": "Bereikbaar", "body": "Van 8 tot 18."})
    await signed_in(client, hub, world.anna)
    page = await client.get(f"/app/conversations/{world.email.id}")
    assert re.search(r'<option value="Van 8 tot 18.">Bereikbaar</option>', page.text)


async def test_forms_without_csrf_token_are_refused(
        client: httpx.AsyncClient, hub: Resources, world: World) -> None:
    await signed_in(client, hub, world.anna)
    del client.headers["X-CSRF-Token"]
    refused = await client.post(f"/app/conversations/{world.email.id}/note",
                                data={"text": "zonder token"})
    assert refused.status_code == 403
    async with hub.sessions() as db:
        count = await db.scalar(select(func.count()).select_from(Message).where(
            Message.direction == "note"))
    assert count == 0


async def _version(hub: Resources, conversation_id: int) -> int:
    async with transaction(hub.sessions) as db:
        conv = await db.get(Conversation, conversation_id)
        assert conv is not None
        return conv.version


async def test_link_and_unlink_a_conversation_by_client_number(
        client: httpx.AsyncClient, hub: Resources, world: World) -> None:
    async with transaction(hub.sessions) as db:
        stray = await make_conversation(db, world.org, channel="email",
                                        external_party="buurvrouw@example.nl")
        hidden = await make_client(db, world.org, client_number="C-9999")
    csrf = await signed_in(client, hub, world.anna)
    base = f"/app/conversations/{stray.id}"
    refused = await client.post(f"{base}/link", data={
        "csrf_token": csrf, "version": str(stray.version), "client_number": "C-9999"})
    assert refused.status_code == 422 and "caseload" in refused.text
    linked = await client.post(f"{base}/link", data={
        "csrf_token": csrf, "version": str(stray.version), "client_number": "C-1001"})
    assert linked.status_code == 303
    async with hub.sessions() as db:
        conv = await db.get(Conversation, stray.id)
        contact = await db.scalar(select(ClientContact).where(
            ClientContact.email == "buurvrouw@example.nl"))
    assert conv is not None and conv.client_id == world.client.id
    assert contact is not None and contact.client_id == world.client.id  # remembered
    unlinked = await client.post(f"{base}/link", data={
        "csrf_token": csrf, "version": str(conv.version), "unlink": "1"})
    assert unlinked.status_code == 303
    async with hub.sessions() as db:
        conv = await db.get(Conversation, stray.id)
    assert conv is not None and conv.client_id is None and hidden.id != world.client.id
