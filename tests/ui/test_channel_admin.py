"""The "Kanalen" admin pages (WhatsApp numbers, Facebook Pages, their quarantine) through
the real app and its guards, with the webhook worker for retries (the phone layout is in
``test_channel_admin_phone``)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from hub.db.models import (
    AuditRecord,
    ChannelAccount,
    Message,
    QuarantinedItem,
    Staff,
    WebhookDelivery,
)
from hub.resources import Resources
from hub.web import channel_state
from hub.web.i18n import has_translation
from tests.factories import make_org, make_staff
from tests.helpers.auth import signed_in
from workers.webhooks import process_webhook

FIXTURES = Path(__file__).parent.parent / "fixtures" / "meta"
TEMPLATES = Path(__file__).parent.parent.parent / "hub" / "templates" / "admin"
NUMBER = "106540352242922"  # phone_number_id of the WhatsApp fixtures
THEIR_NUMBER = "31987654321"  # connected by the other organisation
TOKEN = "EAAgeheim-token-van-de-linde-0001"
NEW_TOKEN = "EAAnieuw-token-na-rotatie-0002"
BASE = "/app/admin/channels"


@dataclasses.dataclass
class Org:
    id: int
    admin: Staff
    coordinator: Staff
    carer: Staff
    other_org_id: int
    other_account_id: int


@pytest.fixture
async def org(hub: Resources) -> Org:
    async with hub.sessions.begin() as db:
        home = await make_org(db, slug=hub.settings.default_org_slug)
        other = await make_org(db, name="Zorggroep Het Baken")
        admin = await make_staff(db, home, role="admin", name="Bea Beheer")
        coordinator = await make_staff(db, home, role="coordinator", name="Cor Planning")
        carer = await make_staff(db, home, name="Carla Zorg")
        theirs = ChannelAccount(organisation_id=other.id, kind="whatsapp",
                                external_account_id=THEIR_NUMBER, name="Baken WhatsApp",
                                access_token="EAAbaken-token")
        db.add(theirs)
        await db.flush()
        return Org(home.id, admin, coordinator, carer, other.id, theirs.id)


@pytest.fixture
async def worker_ctx(hub: Resources) -> AsyncIterator[dict[str, Any]]:
    async with httpx.AsyncClient() as http:
        yield {"hub": hub, "meta_http": http, "job_try": 1}


def new_account(**changes: str) -> dict[str, str]:
    return {"kind": "whatsapp", "external_account_id": NUMBER, "name": "WhatsApp Zorgteam",
            "access_token": TOKEN, "notice_template": "nieuw_bericht_portaal",
            "notice_language": "nl", **changes}


async def accounts(hub: Resources) -> list[ChannelAccount]:
    async with hub.sessions() as db:
        return list(await db.scalars(select(ChannelAccount).order_by(ChannelAccount.id)))


async def audit_lines(hub: Resources, prefix: str) -> list[AuditRecord]:
    async with hub.sessions() as db:
        return list(await db.scalars(select(AuditRecord).where(
            AuditRecord.object_ref.startswith(prefix)).order_by(AuditRecord.id)))


async def connect(client: httpx.AsyncClient, **changes: str) -> int:
    response = await client.post(BASE, data=new_account(**changes))
    assert response.status_code == 303, response.text
    match = re.search(r"#account-(\d+)$", response.headers["location"])
    assert match
    return int(match.group(1))


# --- accounts -----------------------------------------------------------------------


async def test_admin_adds_edits_and_rotates_without_the_token_ever_shown(
        client: httpx.AsyncClient, hub: Resources, org: Org) -> None:
    await signed_in(client, hub, org.admin)
    assert "Nog geen kanalen gekoppeld." in (await client.get(BASE)).text
    account_id = await connect(client)
    page = await client.get(BASE)
    assert "WhatsApp Zorgteam" in page.text and NUMBER in page.text
    assert "nieuw_bericht_portaal" in page.text and "Baken WhatsApp" not in page.text

    edited = await client.post(f"{BASE}/{account_id}", data={
        "name": "WhatsApp Team Noord", "notice_template": "portaal_melding",
        "notice_language": "nl_NL"})  # no "enabled": switched off
    rotated = await client.post(f"{BASE}/{account_id}/token", data={
        "access_token": f"  {NEW_TOKEN}\n"})
    assert edited.status_code == rotated.status_code == 303
    [_, row] = await accounts(hub)
    assert (row.name, row.enabled, row.notice_template, row.notice_language) == (
        "WhatsApp Team Noord", False, "portaal_melding", "nl_NL")
    assert row.access_token == NEW_TOKEN and row.organisation_id == org.id

    responses = [page, edited, rotated, await client.get(BASE),
                 await client.get(f"{BASE}?notice=rotated"),
                 await client.post(BASE, data=new_account(name="", access_token=TOKEN))]
    for response in responses:
        assert TOKEN not in response.text and NEW_TOKEN not in response.text
        assert TOKEN not in str(response.headers) and NEW_TOKEN not in str(response.headers)
    assert "uitgeschakeld" in responses[3].text and "••••••••" in responses[3].text


async def test_every_change_is_audited_without_the_token(
        client: httpx.AsyncClient, hub: Resources, org: Org) -> None:
    await signed_in(client, hub, org.admin)
    account_id = await connect(client)
    await client.post(f"{BASE}/{account_id}", data={"name": "Nieuwe naam", "enabled": "on",
                                                     "notice_template": "nieuw_bericht_portaal",
                                                     "notice_language": "nl"})
    await client.post(f"{BASE}/{account_id}/token", data={"access_token": NEW_TOKEN})
    lines = await audit_lines(hub, f"channel_account:{account_id}")
    assert [line.event for line in lines] == ["create", "change", "change"]
    assert all(line.client_id is None and line.user_id == org.admin.id for line in lines)
    assert "gekoppeld" in lines[0].detail and "Nieuwe naam" in lines[1].detail
    assert lines[2].detail == "toegangstoken vervangen"
    assert not [line for line in lines if TOKEN in line.detail or NEW_TOKEN in line.detail]


async def test_bad_input_is_refused_with_the_reason_and_the_draft_kept(
        client: httpx.AsyncClient, hub: Resources, org: Org) -> None:
    await signed_in(client, hub, org.admin)
    refused = await client.post(BASE, data=new_account(external_account_id="12ab",
                                                       notice_template="Met Spaties"))
    assert refused.status_code == 422
    assert "Meta&#39;s id bestaat uit cijfers" in refused.text
    assert "sjabloonnamen bestaan uit a-z, 0-9 en _" in refused.text
    assert 'value="WhatsApp Zorgteam"' in refused.text  # what was typed stays
    account_id = await connect(client)
    again = await client.post(BASE, data=new_account(name="Tweede keer"))
    assert again.status_code == 409 and "al gekoppeld; wijzig het in de lijst" in again.text
    emptied = await client.post(f"{BASE}/{account_id}", data={"name": " "})
    assert emptied.status_code == 422 and "een naam van 1 tot 120 tekens" in emptied.text
    spaced = await client.post(f"{BASE}/{account_id}/token", data={"access_token": "a b"})
    assert spaced.status_code == 422
    [_, row] = await accounts(hub)
    assert (row.name, row.access_token) == ("WhatsApp Zorgteam", TOKEN)


async def test_another_organisations_account_is_refused_and_left_alone(
        client: httpx.AsyncClient, hub: Resources, org: Org) -> None:
    await signed_in(client, hub, org.admin)
    claimed = await client.post(BASE, data=new_account(external_account_id=THEIR_NUMBER))
    assert claimed.status_code == 409
    assert "dit account is al aan een andere organisatie gekoppeld" in claimed.text
    assert (await client.post(f"{BASE}/{org.other_account_id}",
                              data={"name": "Overgenomen"})).status_code == 404
    assert (await client.post(f"{BASE}/{org.other_account_id}/token",
                              data={"access_token": NEW_TOKEN})).status_code == 404
    [theirs] = await accounts(hub)
    assert (theirs.name, theirs.access_token, theirs.organisation_id) == (
        "Baken WhatsApp", "EAAbaken-token", org.other_org_id)
    [denied] = await audit_lines(hub, f"whatsapp:{THEIR_NUMBER}")
    assert denied.event == "denied" and denied.user_id == org.admin.id


@pytest.mark.parametrize("role", ["carer", "coordinator", "anonymous"])
async def test_only_admins_get_in(client: httpx.AsyncClient, hub: Resources, org: Org,
                                  role: str) -> None:
    if role != "anonymous":
        await signed_in(client, hub, getattr(org, role))
    for method, path in [("GET", BASE), ("POST", BASE), ("GET", f"{BASE}/quarantine")]:
        data = new_account() if method == "POST" else None
        response = await client.request(method, path, data=data)
        if role == "anonymous":
            assert response.status_code == 303 and "/login" in response.headers["location"]
        else:
            assert response.status_code == 403
    assert len(await accounts(hub)) == 1


async def test_a_change_without_csrf_token_is_refused(
        client: httpx.AsyncClient, hub: Resources, org: Org) -> None:
    await signed_in(client, hub, org.admin)
    account_id = await connect(client)
    del client.headers["X-CSRF-Token"]
    for path, data in [(BASE, new_account(external_account_id="555000111")),
                       (f"{BASE}/{account_id}", {"name": "Zonder token"}),
                       (f"{BASE}/{account_id}/token", {"access_token": NEW_TOKEN})]:
        assert (await client.post(path, data=data)).status_code == 403
    rows = await accounts(hub)
    assert [(r.name, r.access_token) for r in rows if r.organisation_id == org.id] == [
        ("WhatsApp Zorgteam", TOKEN)]


async def test_the_list_shows_each_accounts_webhook_health(
        client: httpx.AsyncClient, hub: Resources, org: Org) -> None:
    await signed_in(client, hub, org.admin)
    account_id = await connect(client)
    raw = (FIXTURES / "whatsapp" / "text.json").read_bytes()
    foreign = raw.replace(NUMBER.encode(), b"222333444")  # another number of theirs
    async with hub.sessions.begin() as db:
        db.add_all([
            WebhookDelivery(organisation_id=org.id, source="whatsapp", raw=raw,
                            error="Graph API 500: tijdelijk niet beschikbaar",
                            received_at=_at(2024, 3, 1), processed_at=_at(2024, 3, 1)),
            WebhookDelivery(organisation_id=org.id, source="whatsapp", raw=raw,
                            received_at=_at(2024, 3, 2), processed_at=_at(2024, 3, 2)),
            WebhookDelivery(organisation_id=org.id, source="whatsapp", raw=foreign,
                            error="niet van dit nummer", received_at=_at(2024, 3, 3),
                            processed_at=_at(2024, 3, 3)),
            QuarantinedItem(organisation_id=org.id, source="whatsapp", raw=raw,
                            reason="kon niet worden opgeslagen"),
        ])
    page = await client.get(BASE)
    card = page.text.split(f'id="account-{account_id}"')[1].split("</section>")[0]
    assert "02-03-2024" in card and "Graph API 500: tijdelijk niet beschikbaar" in card
    assert "niet van dit nummer" not in card
    assert re.search(r'<a href="/app/admin/channels/quarantine">1</a>', card)


def _at(year: int, month: int, day: int) -> dt.datetime:
    return dt.datetime(year, month, day, 12, tzinfo=dt.UTC)


# --- quarantine ---------------------------------------------------------------------


async def quarantined(hub: Resources, org_id: int, raw: bytes, reason: str) -> int:
    async with hub.sessions.begin() as db:
        item = QuarantinedItem(organisation_id=org_id, source="whatsapp", raw=raw,
                               reason=reason, external_ref="webhook:7")
        db.add(item)
        await db.flush()
        return item.id


async def test_retrying_a_fixed_up_item_resolves_it(
        client: httpx.AsyncClient, hub: Resources, org: Org,
        worker_ctx: dict[str, Any]) -> None:
    await signed_in(client, hub, org.admin)
    await connect(client)
    raw = (FIXTURES / "whatsapp" / "text.json").read_bytes()
    item_id = await quarantined(hub, org.id, raw, "na 10 pogingen niet verwerkt")
    listed = await client.get(f"{BASE}/quarantine")
    assert f"{BASE}/quarantine/{item_id}" in listed.text and "na 10 pogingen" in listed.text

    retried = await client.post(f"{BASE}/quarantine/{item_id}/retry")
    assert retried.status_code == 303
    delivery_id = int(retried.headers["location"].rsplit("delivery=", 1)[1])
    waiting = await client.get(retried.headers["location"])
    assert "de verwerking loopt nog" in waiting.text and 'http-equiv="refresh"' in waiting.text
    assert await process_webhook(worker_ctx, delivery_id) != "nothing to do"

    done = await client.get(retried.headers["location"])
    assert "Gelukt: het item is verwerkt." in done.text and "refresh" not in done.text
    async with hub.sessions() as db:
        [message] = (await db.scalars(select(Message))).all()
    assert message.body_text.startswith("Goedemorgen, mijn vader")
    lines = await audit_lines(hub, f"quarantine:{item_id}")
    assert [line.event for line in lines] == ["change", "read", "read"]
    assert f"webhook:{delivery_id}" in lines[0].detail


async def test_retrying_a_still_bad_item_reports_the_new_reason(
        client: httpx.AsyncClient, hub: Resources, org: Org,
        worker_ctx: dict[str, Any]) -> None:
    await signed_in(client, hub, org.admin)
    await connect(client)
    payload = json.loads((FIXTURES / "whatsapp" / "text.json").read_bytes())
    del payload["entry"][0]["changes"][0]["value"]["messages"][0]["from"]
    item_id = await quarantined(hub, org.id, json.dumps(payload).encode(), "oude reden")
    retried = await client.post(f"{BASE}/quarantine/{item_id}/retry")
    delivery_id = int(retried.headers["location"].rsplit("delivery=", 1)[1])
    await process_webhook(worker_ctx, delivery_id)

    failed = await client.get(retried.headers["location"])
    assert "Het lukt nog steeds niet" in failed.text and "from" in failed.text
    async with hub.sessions() as db:
        new = await db.scalar(select(QuarantinedItem).where(
            QuarantinedItem.external_ref == f"webhook:{delivery_id}"))
    assert new is not None and new.resolved_at is None
    assert f"{BASE}/quarantine/{new.id}" in failed.text
    # the same delivery id with another item's bytes says nothing
    other = await quarantined(hub, org.id, b"{}", "leeg")
    guessed = await client.get(f"{BASE}/quarantine/{other}?delivery={delivery_id}")
    assert 'id="outcome"' not in guessed.text


async def test_the_payload_is_shown_escaped_and_downloadable(
        client: httpx.AsyncClient, hub: Resources, org: Org) -> None:
    await signed_in(client, hub, org.admin)
    hostile = b'{"tekst": "<script>alert(1)</script>", "n": [1,2]}'
    json_id = await quarantined(hub, org.id, hostile, "onleesbaar: <b>vet</b>")
    binary_id = await quarantined(hub, org.id, b"\x00\x01<script>\xff", "geen geldige JSON")
    page = await client.get(f"{BASE}/quarantine/{json_id}")
    assert "<script>" not in page.text and "&lt;b&gt;vet&lt;/b&gt;" in page.text
    assert '  &#34;tekst&#34;: &#34;&lt;script&gt;alert(1)&lt;/script&gt;&#34;' in page.text
    dump = await client.get(f"{BASE}/quarantine/{binary_id}")
    assert "00000000  00 01 3c 73" in dump.text and "..&lt;script&gt;." in dump.text
    raw = await client.get(f"{BASE}/quarantine/{binary_id}/raw")
    assert raw.content == b"\x00\x01<script>\xff"
    assert raw.headers["content-disposition"].startswith("attachment")
    events = [line.event for line in await audit_lines(hub, "quarantine:")]
    assert events == ["read", "read", "export"]


async def test_another_organisations_items_and_mail_items_are_not_found(
        client: httpx.AsyncClient, hub: Resources, org: Org) -> None:
    await signed_in(client, hub, org.admin)
    theirs = await quarantined(hub, org.other_org_id, b"{}", "van het Baken")
    async with hub.sessions.begin() as db:
        mail = QuarantinedItem(organisation_id=org.id, source="email", raw=b"x", reason="mail")
        db.add(mail)
    for item_id in (theirs, mail.id):
        assert (await client.get(f"{BASE}/quarantine/{item_id}")).status_code == 404
        assert (await client.post(f"{BASE}/quarantine/{item_id}/retry")).status_code == 404
    listed = await client.get(f"{BASE}/quarantine")
    assert "van het Baken" not in listed.text and ">mail<" not in listed.text


# --- pieces -------------------------------------------------------------------------


def test_payload_views() -> None:
    assert channel_state.payload_view(b'{"a":1}').kind == "json"
    assert channel_state.payload_view("héél gewoon\n".encode()).text == "héél gewoon\n"
    cut = channel_state.payload_view(b"x" * (channel_state.PREVIEW_BYTES - 1) + "é".encode())
    assert cut.kind == "text" and cut.truncated
    assert channel_state.hex_dump(b"AB\x00") == "00000000  41 42 00" + " " * 39 + "  AB."


_CALL = re.compile(r"""_\(\s*(?:"([^"]+)"|'([^']+)')""")


@pytest.mark.parametrize("name", ["channels.html", "channels_quarantine.html",
                                  "channels_item.html"])
def test_template_texts_have_english(name: str) -> None:
    texts = {a or b for a, b in _CALL.findall((TEMPLATES / name).read_text())}
    labels = {f"{prefix}{value}" for prefix in ("kind:", "payload:")
              for value in ("whatsapp", "messenger", "json", "text", "hex")
              if has_translation("nl", f"{prefix}{value}")}
    missing = sorted(t for t in (texts | labels) if not t.endswith(":")
                     and not has_translation("en", t))
    assert missing == []
    assert has_translation("en", "Kanalen")  # the navigation link
