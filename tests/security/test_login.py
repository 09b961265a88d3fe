from __future__ import annotations

import datetime as dt
import re

import httpx
import pyotp
import pytest
from sqlalchemy import select, update
from starlette.applications import Starlette

from hub.db.base import utcnow
from hub.db.models import AuditRecord, Staff, UserSession
from hub.resources import Resources
from hub.security.totp import hash_recovery_code
from tests.helpers.asgi import asgi_client
from tests.helpers.auth import (
    PASSWORD,
    form_csrf,
    hidden,
    log_in_with_password,
    session_cookie,
    signed_in,
)


async def _audit(hub: Resources, event: str) -> list[AuditRecord]:
    async with hub.sessions() as db:
        return list(await db.scalars(select(AuditRecord).where(AuditRecord.event == event)
                                     .order_by(AuditRecord.id)))


async def test_first_login_sets_up_the_second_factor_then_reaches_the_app(
    client: httpx.AsyncClient, hub: Resources, staff: Staff,
) -> None:
    response = await log_in_with_password(client, staff.email)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login/2fa/setup")
    assert (await client.get("/app/")).status_code == 303  # not yet: second factor first
    setup = await client.get(response.headers["location"])
    secret = re.search(r'data-secret="([A-Z2-7]+)"', setup.text).group(1)  # type: ignore[union-attr]
    done = await client.post("/login/2fa/setup", data={
        "csrf_token": form_csrf(setup.text), "setup_token": hidden(setup.text, "setup_token"),
        "next": "/app/", "code": pyotp.TOTP(secret).now()})
    assert done.status_code == 200
    assert len(re.findall(r"<li><code>", done.text)) == 10
    home = await client.get("/app/")
    assert home.status_code == 200
    assert "<h1>Inbox</h1>" in home.text  # /app/ is the inbox


SECRET = "BXETI2ERZZKD6HNORLWBGHHAMBYMLMMJ"


async def _with_totp(hub: Resources, staff: Staff, **fields: object) -> None:
    async with hub.sessions() as db, db.begin():
        row = await db.get(Staff, staff.id)
        assert row is not None
        row.totp_secret = SECRET
        for name, value in fields.items():
            setattr(row, name, value)


async def _second_step(client: httpx.AsyncClient, code: str) -> httpx.Response:
    page = await client.get("/login/2fa")
    return await client.post("/login/2fa", data={"csrf_token": form_csrf(page.text),
                                                 "code": code, "next": "/app/"})


async def test_wrong_password_is_refused_audited_and_gives_no_session(
    client: httpx.AsyncClient, hub: Resources, staff: Staff,
) -> None:
    response = await log_in_with_password(client, staff.email, "Verkeerd-wachtwoord-1")
    assert response.status_code == 401
    assert "klopt niet" in response.text
    assert "zh_session" not in response.cookies
    [line] = [r for r in await _audit(hub, "login") if r.user_id == staff.id]
    assert (line.outcome, line.detail, line.access_point) == ("failed", "onjuist wachtwoord",
                                                               "127.0.0.1")
    async with hub.sessions() as db:
        assert (await db.get(Staff, staff.id)).failed_logins == 1  # type: ignore[union-attr]


async def test_unknown_address_gets_the_same_answer_and_is_audited(
    client: httpx.AsyncClient, hub: Resources, staff: Staff,
) -> None:
    response = await log_in_with_password(client, "niemand@zorg.test")
    assert response.status_code == 401 and "klopt niet" in response.text
    [line] = await _audit(hub, "login")
    assert line.user_type == "anonymous" and "niemand@zorg.test" in line.detail


async def test_account_locks_after_max_failures_and_refuses_even_the_right_password(
    client: httpx.AsyncClient, hub: Resources, staff: Staff,
) -> None:
    for _ in range(hub.settings.login_max_failures):
        await log_in_with_password(client, staff.email, "Verkeerd-wachtwoord-1")
    response = await log_in_with_password(client, staff.email)
    assert response.status_code == 429
    assert "Te veel mislukte pogingen" in response.text
    [lockout, *_] = await _audit(hub, "lockout")
    assert lockout.user_id == staff.id


async def test_an_address_locks_after_max_failures_across_accounts(
    client: httpx.AsyncClient, hub: Resources, staff: Staff,
) -> None:
    for n in range(hub.settings.login_max_failures):
        await log_in_with_password(client, f"gok{n}@zorg.test")
    response = await log_in_with_password(client, staff.email)  # right password, same address
    assert response.status_code == 429
    assert any("geblokkeerd" in r.detail for r in await _audit(hub, "lockout"))


async def test_an_expired_lockout_is_lifted_at_the_next_login_and_logged(
    client: httpx.AsyncClient, hub: Resources, staff: Staff,
) -> None:
    await _with_totp(hub, staff, locked_until=utcnow() - dt.timedelta(minutes=1))
    response = await log_in_with_password(client, staff.email)
    assert response.headers["location"].startswith("/login/2fa")
    [unlock] = await _audit(hub, "unlock")
    assert unlock.user_id == staff.id and unlock.detail == "blokkade verlopen"


async def test_totp_code_cannot_be_replayed(
    client: httpx.AsyncClient, app: Starlette, hub: Resources, staff: Staff,
) -> None:
    await _with_totp(hub, staff)
    code = pyotp.TOTP(SECRET).now()
    await log_in_with_password(client, staff.email)
    first = await _second_step(client, code)
    assert first.status_code == 303 and first.headers["location"] == "/app/"
    async with asgi_client(app, hub) as other:  # someone who saw the code over a shoulder
        await log_in_with_password(other, staff.email)
        again = await _second_step(other, code)
        assert again.status_code == 401 and "al gebruikt" in again.text
        assert (await other.get("/app/")).status_code == 303
    details = [r.detail for r in await _audit(hub, "login") if r.outcome == "failed"]
    assert details == ["TOTP-code hergebruikt"]


async def test_wrong_code_counts_as_a_failure(
    client: httpx.AsyncClient, hub: Resources, staff: Staff,
) -> None:
    await _with_totp(hub, staff)
    await log_in_with_password(client, staff.email)
    wrong = "000000" if pyotp.TOTP(SECRET).now() != "000000" else "111111"
    response = await _second_step(client, wrong)
    assert response.status_code == 401 and "klopt niet" in response.text
    assert (await client.get("/app/")).status_code == 303


async def test_a_recovery_code_works_once(
    client: httpx.AsyncClient, app: Starlette, hub: Resources, staff: Staff,
) -> None:
    await _with_totp(hub, staff, recovery_codes=[hash_recovery_code("abcde-fghjk")])
    await log_in_with_password(client, staff.email)
    assert (await _second_step(client, "ABCDE-FGHJK")).headers["location"] == "/app/"
    async with asgi_client(app, hub) as other:
        await log_in_with_password(other, staff.email)
        assert (await _second_step(other, "abcde-fghjk")).status_code == 401


async def test_session_key_is_rotated_at_each_login_step(
    client: httpx.AsyncClient, hub: Resources, staff: Staff,
) -> None:
    await _with_totp(hub, staff)
    await log_in_with_password(client, staff.email)
    pending = client.cookies["zh_session"]
    await _second_step(client, pyotp.TOTP(SECRET).now())
    signed_in = client.cookies["zh_session"]
    assert signed_in != pending
    async with hub.sessions() as db:
        rows = list(await db.scalars(select(UserSession).order_by(UserSession.id)))
    assert [r.revoked_at is None for r in rows] == [False, True]
    assert [r.second_factor_done for r in rows] == [False, True]


async def test_cookie_flags(client: httpx.AsyncClient, staff: Staff) -> None:
    response = await log_in_with_password(client, staff.email)
    header = response.headers["set-cookie"].lower()
    assert "httponly" in header and "samesite=lax" in header and "path=/" in header
    assert "secure" not in header  # base_url is http in the tests


async def test_forged_cookie_is_refused_and_audited(
    client: httpx.AsyncClient, hub: Resources, staff: Staff,
) -> None:
    _, value = await session_cookie(hub, staff)
    client.cookies.set("zh_session", value[:-3] + ("aaa" if value[-3:] != "aaa" else "bbb"))
    response = await client.get("/app/")
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login?reason=")
    [line] = await _audit(hub, "denied")
    assert "vervalste" in line.detail and line.user_type == "anonymous"


@pytest.mark.parametrize("change", ["idle", "expired", "revoked"])
async def test_idle_expired_or_revoked_session_ends(
    client: httpx.AsyncClient, hub: Resources, staff: Staff, change: str,
) -> None:
    await signed_in(client, hub, staff)
    assert (await client.get("/app/")).status_code == 200
    now = utcnow()
    values = {"idle": {"last_seen_at": now - dt.timedelta(minutes=31)},
              "expired": {"expires_at": now - dt.timedelta(seconds=1)},
              "revoked": {"revoked_at": now}}[change]
    async with hub.sessions() as db, db.begin():
        await db.execute(update(UserSession).values(**values))
    response = await client.get("/app/")
    assert response.status_code == 303 and "/login" in response.headers["location"]
    [line] = await _audit(hub, "denied")
    assert line.user_id == staff.id and change in line.detail.replace("ingetrokken", "revoked")


async def test_logout_everywhere_ends_every_session(
    client: httpx.AsyncClient, app: Starlette, hub: Resources, staff: Staff,
) -> None:
    await signed_in(client, hub, staff)
    async with asgi_client(app, hub) as phone:
        await signed_in(phone, hub, staff)
        assert (await phone.get("/app/")).status_code == 200
        response = await client.post("/logout/everywhere")
        assert response.status_code == 303
        assert (await phone.get("/app/")).status_code == 303
    assert (await client.get("/app/")).status_code == 303
    assert [r.detail for r in await _audit(hub, "logout")] == ["overal uitgelogd"]


async def test_missing_or_wrong_csrf_token_is_refused_audited_and_changes_nothing(
    client: httpx.AsyncClient, hub: Resources, staff: Staff,
) -> None:
    await signed_in(client, hub, staff)
    del client.headers["X-CSRF-Token"]
    response = await client.post("/logout/everywhere")
    assert response.status_code == 403 and "formulier is verlopen" in response.text
    client.headers["X-CSRF-Token"] = "geraden"
    api = await client.post("/logout/everywhere", headers={"accept": "application/json"})
    assert api.json()["error"]["code"] == "csrf_failed"
    assert (await client.get("/app/")).status_code == 200  # still signed in
    assert len([r for r in await _audit(hub, "denied") if "CSRF" in r.detail]) == 2
    assert await _audit(hub, "logout") == []


async def test_login_form_without_csrf_token_is_refused(
    client: httpx.AsyncClient, staff: Staff,
) -> None:
    response = await client.post("/login", data={"email": staff.email, "password": PASSWORD})
    assert response.status_code == 403
    assert "zh_session" not in response.cookies


async def test_next_only_goes_to_local_paths(
    client: httpx.AsyncClient, hub: Resources, staff: Staff,
) -> None:
    await _with_totp(hub, staff)
    page = await client.get("/login")
    response = await client.post("/login", data={
        "email": staff.email, "password": PASSWORD, "csrf_token": form_csrf(page.text),
        "next": "//evil.example/steal"})
    assert "evil" not in response.headers["location"]
