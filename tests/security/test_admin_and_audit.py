"""Admin user management, emergency access ("break the glass") and the privacy
officer's audit log pages."""

from __future__ import annotations

import csv
import datetime as dt
import io

import httpx
import pytest
from sqlalchemy import select, text, update

from hub.db.models import AuditRecord, EmergencyAccess, Staff, UserSession
from hub.resources import Resources
from hub.settings import Settings
from tests.helpers.auth import form_csrf, signed_in
from tests.helpers.smtp import SmtpCapture, link_in
from tests.helpers.world import World, build_world


@pytest.fixture
def settings(settings: Settings, smtp: SmtpCapture) -> Settings:
    return settings.with_changes(**smtp.settings())


@pytest.fixture
async def world(hub: Resources) -> World:
    return await build_world(hub)


async def _lines(hub: Resources, event: str) -> list[AuditRecord]:
    async with hub.sessions() as db:
        return list(await db.scalars(select(AuditRecord).where(AuditRecord.event == event)
                                     .order_by(AuditRecord.id)))


# --- admin ----------------------------------------------------------------------------


async def test_admin_invites_staff_by_mail(
    client: httpx.AsyncClient, hub: Resources, world: World, smtp: SmtpCapture,
) -> None:
    await signed_in(client, hub, world.users["admin"])
    response = await client.post("/app/admin/users/invite", data={
        "name": "Lotte Mulder", "email": "lotte@zorg.test", "role": "coordinator"})
    assert response.headers["location"] == "/app/admin/users?notice=invited"
    [mail] = await smtp.wait_for(1)
    assert link_in(mail, hub.settings.base_url).startswith("/invite/")
    page = await client.get("/app/admin/users")
    assert "Lotte Mulder" in page.text and "uitgenodigd" in page.text
    [line] = await _lines(hub, "create")
    assert line.user_id == world.users["admin"].id and "coordinator" in line.detail


async def test_admin_disables_unlocks_and_resets_second_factor(
    client: httpx.AsyncClient, hub: Resources, world: World,
) -> None:
    target = world.users["privacy_officer"]
    async with hub.sessions() as db, db.begin():
        await db.execute(update(Staff).where(Staff.id == target.id).values(
            locked_until=dt.datetime.now(dt.UTC) + dt.timedelta(minutes=10), failed_logins=0))
    await signed_in(client, hub, world.users["admin"])
    base = f"/app/admin/users/{target.id}"
    assert "geblokkeerd tot" in (await client.get("/app/admin/users")).text
    for action in ("unlock", "reset-2fa", "active"):
        assert (await client.post(f"{base}/{action}")).status_code == 303
    async with hub.sessions() as db:
        staff = await db.get(Staff, target.id)
    assert staff is not None
    assert (staff.locked_until, staff.totp_secret, staff.active) == (None, None, False)
    assert [r.detail for r in await _lines(hub, "unlock")] == ["ontgrendeld door beheerder"]


async def test_disabling_ends_the_sessions_of_that_person(
    client: httpx.AsyncClient, hub: Resources, world: World,
) -> None:
    await signed_in(client, hub, world.users["carer"])
    async with hub.sessions() as db:
        before = await db.scalar(select(UserSession).where(
            UserSession.staff_id == world.users["carer"].id))
    client.cookies.clear()
    await signed_in(client, hub, world.users["admin"])
    await client.post(f"/app/admin/users/{world.users['carer'].id}/active")
    async with hub.sessions() as db:
        after = await db.get(UserSession, before.id)  # type: ignore[union-attr]
    assert after is not None and after.revoked_at is not None


async def test_admin_cannot_touch_staff_of_another_organisation(
    client: httpx.AsyncClient, hub: Resources, world: World,
) -> None:
    await signed_in(client, hub, world.users["outsider"])  # admin of the other organisation
    response = await client.post(f"/app/admin/users/{world.users['carer'].id}/active")
    assert response.status_code == 404
    async with hub.sessions() as db:
        assert (await db.get(Staff, world.users["carer"].id)).active  # type: ignore[union-attr]


async def test_admin_cannot_disable_themselves(
    client: httpx.AsyncClient, hub: Resources, world: World,
) -> None:
    admin = world.users["admin"]
    await signed_in(client, hub, admin)
    response = await client.post(f"/app/admin/users/{admin.id}/active")
    assert response.status_code == 409


# --- emergency access -----------------------------------------------------------------


async def test_admin_breaks_the_glass_with_a_reason_and_it_is_audited(
    client: httpx.AsyncClient, hub: Resources, world: World,
) -> None:
    await signed_in(client, hub, world.users["admin"])
    page = await client.get(f"/app/clients/{world.client.id}")
    assert page.status_code == 403 and "Noodtoegang nemen" in page.text
    assert "Vermeulen" not in page.text
    short = await client.post("/app/emergency-access", data={
        "client_id": world.client.id, "reason": "nood"})
    assert short.status_code == 422
    granted = await client.post("/app/emergency-access", data={
        "client_id": world.client.id, "reason": "Cliënt onwel, wijkteam onbereikbaar"})
    assert granted.headers["location"] == f"/app/clients/{world.client.id}"
    record = await client.get(f"/app/clients/{world.client.id}")
    assert record.status_code == 200 and "Vermeulen" in record.text
    assert "via noodtoegang" in record.text
    [grant_line] = await _lines(hub, "emergency_access")
    assert "wijkteam onbereikbaar" in grant_line.detail
    reads = [r for r in await _lines(hub, "read") if r.client_id == world.client.id]
    assert reads[-1].detail == "via noodtoegang"
    async with hub.sessions() as db, db.begin():
        await db.execute(update(EmergencyAccess).values(
            expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)))
    assert (await client.get(f"/app/clients/{world.client.id}")).status_code == 403


async def test_emergency_access_is_not_for_other_organisations_or_non_admins(
    client: httpx.AsyncClient, hub: Resources, world: World,
) -> None:
    data = {"client_id": world.client.id, "reason": "Ik wil het gewoon even zien"}
    await signed_in(client, hub, world.users["outsider"])
    assert (await client.post("/app/emergency-access", data=data)).status_code == 404
    client.cookies.clear()
    await signed_in(client, hub, world.users["stranger"])
    assert (await client.post("/app/emergency-access", data=data)).status_code == 403
    async with hub.sessions() as db:
        assert await db.scalar(select(EmergencyAccess)) is None


# --- audit log pages ------------------------------------------------------------------


async def test_privacy_officer_filters_exports_and_sees_the_chain_status(
    client: httpx.AsyncClient, hub: Resources, world: World,
) -> None:
    await signed_in(client, hub, world.users["carer"])
    await client.get(f"/app/clients/{world.client.id}")
    await client.get(f"/app/conversations/{world.conversation.id}")
    client.cookies.clear()
    await signed_in(client, hub, world.users["privacy_officer"])
    page = await client.get("/app/audit", params={"client": "C-1001"})
    assert page.status_code == 200 and 'data-intact="true"' in page.text
    assert f"conversation:{world.conversation.id}" in page.text
    carer = world.users["carer"].id
    today = dt.date.today().isoformat()
    export = await client.get("/app/audit/export.csv", params={
        "client": "C-1001", "user": f"staff:{carer}", "from": today, "to": today})
    assert export.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(export.text)))
    assert {r["event"] for r in rows} == {"read"} and len(rows) == 2
    assert {r["user_id"] for r in rows} == {str(carer)}
    [line] = await _lines(hub, "export")
    assert line.user_id == world.users["privacy_officer"].id and "2 regels" in line.detail
    yesterday = (dt.date.today() - dt.timedelta(days=2)).isoformat()
    old = await client.get("/app/audit/export.csv", params={"to": yesterday})
    assert len(list(csv.DictReader(io.StringIO(old.text)))) == 0


async def test_audit_page_shows_a_broken_chain(
    client: httpx.AsyncClient, hub: Resources, world: World,
) -> None:
    await signed_in(client, hub, world.users["carer"])
    await client.get(f"/app/clients/{world.client.id}")
    async with hub.engine.begin() as connection:
        await connection.execute(text("UPDATE audit_log SET detail = 'weg' WHERE event = 'read'"))
    client.cookies.clear()
    await signed_in(client, hub, world.users["privacy_officer"])
    page = await client.get("/app/audit")
    assert 'data-intact="false"' in page.text


@pytest.mark.parametrize("role", ["admin", "carer"])
async def test_audit_log_is_only_for_the_privacy_officer(
    client: httpx.AsyncClient, hub: Resources, world: World, role: str,
) -> None:
    await signed_in(client, hub, world.users[role])
    assert (await client.get("/app/audit")).status_code == 403
    assert (await client.get("/app/audit/export.csv")).status_code == 403


async def test_privacy_officer_without_second_factor_is_refused(
    client: httpx.AsyncClient, hub: Resources, world: World,
) -> None:
    officer = world.users["privacy_officer"]
    async with hub.sessions() as db, db.begin():
        await db.execute(update(Staff).where(Staff.id == officer.id).values(totp_secret=None))
    await signed_in(client, hub, officer)
    assert (await client.get("/app/audit")).status_code == 403


async def test_emergency_access_is_highlighted_to_the_privacy_officer(
    client: httpx.AsyncClient, hub: Resources, world: World,
) -> None:
    await signed_in(client, hub, world.users["admin"])
    await client.post("/app/emergency-access", data={
        "client_id": world.client.id, "reason": "Alarmmelding, geen zorgverlener bereikbaar"})
    client.cookies.clear()
    await signed_in(client, hub, world.users["privacy_officer"])
    page = await client.get("/app/audit")
    assert 'id="emergency-list"' in page.text
    assert "Alarmmelding, geen zorgverlener bereikbaar" in page.text
    assert "Willem Bos" in page.text
    assert form_csrf(page.text)
