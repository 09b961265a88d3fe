"""Portal accounts: invitation by staff, password, login, only their own conversations,
password reset, and the client's view of who accessed their record."""

from __future__ import annotations

import datetime as dt

import httpx
import pytest
from sqlalchemy import select, update

from hub.db.models import AuditRecord, OneTimeLink, PortalUser
from hub.resources import Resources
from hub.settings import Settings
from tests.helpers.auth import form_csrf, log_in_with_password, signed_in
from tests.helpers.smtp import SmtpCapture, body_of, link_in
from tests.helpers.world import World, build_world

NEW_PASSWORD = "Tulpenveld-in-april"


@pytest.fixture
def settings(settings: Settings, smtp: SmtpCapture) -> Settings:
    return settings.with_changes(**smtp.settings())


@pytest.fixture
async def world(hub: Resources) -> World:
    return await build_world(hub)


async def _set_password(client: httpx.AsyncClient, path: str,
                        password: str = NEW_PASSWORD) -> httpx.Response:
    page = await client.get(path)
    assert page.status_code == 200, page.text
    return await client.post(path, data={"csrf_token": form_csrf(page.text),
                                         "password": password, "password2": password})


async def _invite(client: httpx.AsyncClient, hub: Resources, world: World) -> httpx.Response:
    await signed_in(client, hub, world.users["carer"])
    return await client.post(f"/app/clients/{world.client.id}/portal-invite", data={
        "name": "Ans Vermeulen", "email": "Ans.Vermeulen@Familie.test", "relation": "family"})


async def test_staff_invites_a_representative_who_sets_a_password_and_signs_in(
    client: httpx.AsyncClient, hub: Resources, world: World, smtp: SmtpCapture,
) -> None:
    response = await _invite(client, hub, world)
    assert response.status_code == 303
    [mail] = await smtp.wait_for(1)
    assert mail["To"] == "ans.vermeulen@familie.test"
    assert "Vermeulen" not in body_of(mail).replace("ans.vermeulen", "")  # no client data
    client.cookies.clear()
    path = link_in(mail, hub.settings.base_url)
    assert path.startswith("/portal/invite/")
    done = await _set_password(client, path)
    assert done.status_code == 303, done.text
    assert done.headers["location"] == "/portal/login?done=password"
    login = await log_in_with_password(client, "ans.vermeulen@familie.test", NEW_PASSWORD,
                                       prefix="/portal")
    assert login.headers["location"] == "/portal/"
    home = await client.get("/portal/")
    assert "Medicatie" in home.text and "Afspraak" not in home.text
    again = await client.get(path)  # the link works once
    assert again.status_code == 410 and "al gebruikt" in again.text


async def test_an_expired_invitation_is_refused_audited_and_changes_nothing(
    client: httpx.AsyncClient, hub: Resources, world: World, smtp: SmtpCapture,
) -> None:
    await _invite(client, hub, world)
    [mail] = await smtp.wait_for(1)
    async with hub.sessions() as db, db.begin():
        await db.execute(update(OneTimeLink).values(
            expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)))
    client.cookies.clear()
    response = await client.get(link_in(mail, hub.settings.base_url))
    assert response.status_code == 410 and "verlopen" in response.text
    async with hub.sessions() as db:
        user = await db.scalar(select(PortalUser).where(
            PortalUser.email == "ans.vermeulen@familie.test"))
        denied = await db.scalar(select(AuditRecord).where(AuditRecord.event == "denied"))
    assert user is not None and user.password_hash is None
    assert denied is not None and "expired" in denied.detail


async def test_portal_user_guessing_another_conversation_is_refused_and_audited(
    client: httpx.AsyncClient, hub: Resources, world: World,
) -> None:
    await signed_in(client, hub, world.users["portal_own"])
    own = await client.get(f"/portal/conversations/{world.conversation.id}")
    assert own.status_code == 200
    assert "medicijnen later" in own.text and "Interne notitie" not in own.text
    other = await client.get(f"/portal/conversations/{world.other_conversation.id}")
    assert other.status_code == 403 and "geen toegang" in other.text
    assert "Afspraak" not in other.text
    async with hub.sessions() as db:
        line = await db.scalar(select(AuditRecord).where(AuditRecord.event == "denied"))
    assert line is not None
    assert (line.user_type, line.client_id, line.outcome) == (
        "portal", world.other_client.id, "denied")
    assert line.object_ref == f"conversation:{world.other_conversation.id}"


async def test_portal_reads_are_audited_on_behalf_of_the_client(
    client: httpx.AsyncClient, hub: Resources, world: World,
) -> None:
    await signed_in(client, hub, world.users["portal_own"])
    await client.get(f"/portal/conversations/{world.conversation.id}")
    async with hub.sessions() as db:
        line = await db.scalar(select(AuditRecord).where(AuditRecord.event == "read"))
    assert line is not None and line.on_behalf_of == "family: cliënt C-1001"


async def test_the_client_sees_who_accessed_their_record(
    client: httpx.AsyncClient, hub: Resources, world: World,
) -> None:
    await signed_in(client, hub, world.users["carer"])
    assert (await client.get(f"/app/clients/{world.client.id}")).status_code == 200
    client.cookies.clear()
    await signed_in(client, hub, world.users["portal_own"])
    page = await client.get("/portal/access-log")
    assert page.status_code == 200
    assert "Fatima El Amrani" in page.text
    assert "127.0.0.1" not in page.text  # names and roles, not addresses
    other = world.users["portal_other"]
    client.cookies.clear()
    await signed_in(client, hub, other)
    assert "Fatima El Amrani" not in (await client.get("/portal/access-log")).text


async def test_password_reset_by_mail_ends_every_session(
    client: httpx.AsyncClient, hub: Resources, world: World, smtp: SmtpCapture,
) -> None:
    user = world.users["portal_own"]
    page = await client.get("/portal/password/forgot")
    response = await client.post("/portal/password/forgot", data={
        "email": user.email, "csrf_token": form_csrf(page.text)})
    assert "Als dit e-mailadres bij ons bekend is" in response.text
    unknown = await client.post("/portal/password/forgot", data={
        "email": "niemand@familie.test", "csrf_token": form_csrf(page.text)})
    assert "Als dit e-mailadres bij ons bekend is" in unknown.text
    [mail] = await smtp.wait_for(1)
    path = link_in(mail, hub.settings.base_url)
    assert path.startswith("/portal/password/reset/")
    weak = await _set_password(client, path, "kort")
    assert weak.status_code == 422 and "tien tekens" in weak.text
    assert (await _set_password(client, path)).status_code == 303
    ok = await log_in_with_password(client, user.email, NEW_PASSWORD, prefix="/portal")
    assert ok.headers["location"] == "/portal/"


async def test_portal_second_factor_is_optional_and_then_required(
    client: httpx.AsyncClient, hub: Resources, world: World,
) -> None:
    import re

    import pyotp

    user = world.users["portal_own"]
    first = await log_in_with_password(client, user.email, prefix="/portal")
    assert first.headers["location"] == "/portal/"  # no second factor chosen yet
    setup = await client.get("/portal/login/2fa/setup")
    secret = re.search(r'data-secret="([A-Z2-7]+)"', setup.text).group(1)  # type: ignore[union-attr]
    done = await client.post("/portal/login/2fa/setup", data={
        "csrf_token": form_csrf(setup.text), "code": pyotp.TOTP(secret).now(),
        "setup_token": re.search(r'name="setup_token" value="([^"]+)"',  # type: ignore[union-attr]
                                 setup.text).group(1), "next": "/portal/"})
    assert "herstelcodes" in done.text
    client.cookies.clear()
    second = await log_in_with_password(client, user.email, prefix="/portal")
    assert second.headers["location"].startswith("/portal/login/2fa")
    assert (await client.get("/portal/")).status_code == 303


async def test_reset_requests_are_limited_per_address(
    client: httpx.AsyncClient, hub: Resources, world: World, smtp: SmtpCapture,
) -> None:
    user = world.users["portal_own"]
    page = await client.get("/portal/password/forgot")
    for _ in range(hub.settings.login_max_failures + 2):
        response = await client.post("/portal/password/forgot", data={
            "email": user.email, "csrf_token": form_csrf(page.text)})
        assert "Als dit e-mailadres bij ons bekend is" in response.text
    await smtp.wait_for(hub.settings.login_max_failures)
    assert len(smtp.messages) == hub.settings.login_max_failures
