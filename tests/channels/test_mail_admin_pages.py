"""The admin pages for mailboxes and quarantine, through the real app and its guards."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select, update

from hub.db.models import AuditRecord, Mailbox, Message, QuarantinedItem, Staff
from hub.resources import Resources
from hub.web import i18n, mail_admin  # noqa: F401 - mail_admin registers its texts
from tests.channels.servers import Dovecot, free_port
from tests.factories import make_org, make_staff
from tests.helpers.auth import signed_in

TEMPLATES = Path(__file__).parent.parent.parent / "hub" / "templates" / "mail"


async def people(hub: Resources) -> tuple[Staff, Staff]:
    async with hub.sessions() as session, session.begin():
        org = await make_org(session, slug=hub.settings.default_org_slug)
        admin = await make_staff(session, org, role="admin", name="Bea Beheer")
        carer = await make_staff(session, org, name="Carla Zorg")
    return admin, carer


def form(dovecot: Dovecot, user: str, **changes: str) -> dict[str, str]:
    values = {"name": "Zorgteam Noord", "address": "noord@zorg.test",
              "imap_host": "127.0.0.1", "imap_port": str(dovecot.port), "imap_security": "none",
              "imap_user": user, "imap_password": "geheim", "folder": "INBOX",
              "smtp_host": "", "smtp_port": "587", "smtp_security": "starttls",
              "enabled": "on", "action": "save"}
    values.update(changes)
    return values


async def test_only_admins_manage_mailboxes(client: httpx.AsyncClient, hub: Resources) -> None:
    admin, carer = await people(hub)
    await signed_in(client, hub, carer)
    assert (await client.get("/app/admin/mailboxes")).status_code == 403
    client.cookies.clear()
    await signed_in(client, hub, admin)
    page = await client.get("/app/admin/mailboxes")
    assert page.status_code == 200 and "Nog geen mailboxen." in page.text


async def test_create_test_and_edit_a_mailbox(client: httpx.AsyncClient, hub: Resources,
                                              dovecot: Dovecot, mail_user: str) -> None:
    admin, _ = await people(hub)
    await signed_in(client, hub, admin)
    dovecot.append(mail_user, [b"From: a@b.test\r\nSubject: x\r\n\r\nhoi\r\n"])

    tested = await client.post("/app/admin/mailboxes/new",
                               data=form(dovecot, mail_user, action="test"))
    assert "Verbinding gelukt: 1 bericht(en) in de map." in tested.text
    assert "geheim" not in tested.text  # a typed password is not echoed back
    refused = await client.post("/app/admin/mailboxes/new", data=form(
        dovecot, mail_user, action="test", imap_port=str(free_port())))
    assert "Verbinding mislukt" in refused.text

    saved = await client.post("/app/admin/mailboxes/new", data=form(dovecot, mail_user))
    assert saved.status_code == 303
    async with hub.sessions() as session:
        mailbox = await session.scalar(select(Mailbox))
    assert mailbox is not None and mailbox.imap_password == "geheim" and mailbox.enabled
    assert "ensure_pollers" in [job.function for job in await hub.jobs.queued_jobs()]

    edit = await client.get(f"/app/admin/mailboxes/{mailbox.id}")
    assert "Zorgteam Noord" in edit.text and "geheim" not in edit.text
    changed = await client.post(f"/app/admin/mailboxes/{mailbox.id}", data=form(
        dovecot, mail_user, name="Zorgteam Zuid", imap_password="", mark_seen="on"))
    assert changed.status_code == 303
    async with hub.sessions() as session:
        mailbox = await session.get(Mailbox, mailbox.id)
        audit = (await session.scalars(select(AuditRecord.object_ref))).all()
    assert mailbox is not None and mailbox.name == "Zorgteam Zuid" and mailbox.mark_seen
    assert mailbox.imap_password == "geheim"  # empty field: kept
    assert audit.count(f"mailbox:{mailbox.id}") == 2

    bad = await client.post(f"/app/admin/mailboxes/{mailbox.id}",
                            data=form(dovecot, mail_user, imap_port="poort"))
    assert bad.status_code == 422 and "poort moet een getal zijn" in bad.text


async def test_health_is_shown(client: httpx.AsyncClient, hub: Resources, dovecot: Dovecot,
                               mail_user: str) -> None:
    admin, _ = await people(hub)
    await signed_in(client, hub, admin)
    await client.post("/app/admin/mailboxes/new", data=form(dovecot, mail_user))
    assert "Nog niet opgehaald." in (await client.get("/app/admin/mailboxes")).text
    async with hub.sessions() as session, session.begin():
        await session.execute(update(Mailbox).values(
            consecutive_failures=3, last_error="IMAP login refused: [AUTHENTICATIONFAILED]"))
    page = await client.get("/app/admin/mailboxes")
    assert "Ophalen mislukt (3 keer op rij)" in page.text
    assert "IMAP login refused: [AUTHENTICATIONFAILED]" in page.text


async def test_quarantine_view_download_and_retry(client: httpx.AsyncClient,
                                                  hub: Resources) -> None:
    admin, _ = await people(hub)
    raw = b"From: iemand@x.test\r\nSubject: <script>alert(1)</script>\r\n\r\nkapot?"
    async with hub.sessions() as session, session.begin():
        item = QuarantinedItem(organisation_id=admin.organisation_id, source="email",
                               external_ref="7/42", raw=raw, reason="simulated: store failed")
        session.add(item)
    await signed_in(client, hub, admin)
    listing = await client.get("/app/admin/quarantine")
    assert f"/app/admin/quarantine/{item.id}" in listing.text
    assert "simulated: store failed" in listing.text

    page = await client.get(f"/app/admin/quarantine/{item.id}")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text  # shown, never run
    assert "<script>alert(1)" not in page.text
    download = await client.get(f"/app/admin/quarantine/{item.id}/raw")
    assert download.content == raw
    assert download.headers["content-disposition"].startswith("attachment;")

    retried = await client.post(f"/app/admin/quarantine/{item.id}/retry")
    assert retried.status_code == 303 and retried.headers["location"].endswith("retried")
    async with hub.sessions() as session:
        item = await session.get(QuarantinedItem, item.id)
        message = await session.scalar(select(Message))
        events = (await session.scalars(select(AuditRecord.event).where(
            AuditRecord.object_ref == f"quarantine:{item.id}"))).all()
    assert item is not None and item.resolved_at is not None
    assert message is not None and message.sender_address == "iemand@x.test"
    assert sorted(events) == ["change", "export", "read"]
    done = await client.get(f"/app/admin/quarantine/{item.id}?notice=retried")
    assert "Opnieuw proberen" not in done.text
    assert f"/app/admin/quarantine/{item.id}" not in (await client.get(
        "/app/admin/quarantine")).text


@pytest.mark.parametrize("template", sorted(p.name for p in TEMPLATES.glob("*.html")))
def test_every_text_of_the_mail_pages_has_an_english_translation(template: str) -> None:
    text = (TEMPLATES / template).read_text()
    texts = [a or b for a, b in re.findall(r"""_\(\s*"([^"]+)"|_\(\s*'([^']+)'""", text)]
    missing = [t for t in texts if not t.endswith(":") and not i18n.has_translation("en", t)]
    assert texts and not missing, missing
    for code in ("security:tls", "security:starttls", "security:none"):
        assert i18n.has_translation("nl", code) and i18n.has_translation("en", code)


async def test_the_mail_quarantine_shows_and_retries_only_mail(client: httpx.AsyncClient,
                                                               hub: Resources) -> None:
    admin, _ = await people(hub)
    webhook_raw = b'{"object": "whatsapp_business_account", "entry": []}'
    async with hub.sessions() as session, session.begin():
        mail = QuarantinedItem(organisation_id=admin.organisation_id, source="email",
                               external_ref="7/43", raw=b"From: a@x.test\r\n\r\nhoi",
                               reason="mail: store failed")
        webhook = QuarantinedItem(organisation_id=admin.organisation_id, source="whatsapp",
                                  external_ref="webhook:9", raw=webhook_raw,
                                  reason="whatsapp: onleesbaar")
        session.add_all([mail, webhook])
    await signed_in(client, hub, admin)
    for url in ("/app/admin/quarantine", "/app/admin/quarantine?all=1"):
        listing = (await client.get(url)).text
        assert f"/app/admin/quarantine/{mail.id}" in listing and "mail: store failed" in listing
        assert f"/app/admin/quarantine/{webhook.id}" not in listing
        assert "whatsapp: onleesbaar" not in listing

    base = f"/app/admin/quarantine/{webhook.id}"
    assert (await client.get(base)).status_code == 404
    assert (await client.get(f"{base}/raw")).status_code == 404
    assert (await client.post(f"{base}/retry")).status_code == 404
    async with hub.sessions() as session:
        webhook = await session.get(QuarantinedItem, webhook.id)
        assert webhook is not None and webhook.resolved_at is None and webhook.retries == 0
        assert await session.scalar(select(Message)) is None  # JSON never became "mail"
    channel_page = await client.get("/app/admin/channels/quarantine")
    assert f"/app/admin/channels/quarantine/{webhook.id}" in channel_page.text
