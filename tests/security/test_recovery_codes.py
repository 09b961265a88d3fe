"""A recovery code lets in exactly one login, however many race with it."""

from __future__ import annotations

import asyncio

from sqlalchemy import select
from starlette.applications import Starlette

from hub.db.models import AuditRecord, Staff
from hub.resources import Resources
from hub.security import totp
from tests.conftest import test_backend as database_backend
from tests.helpers.asgi import asgi_client
from tests.helpers.auth import form_csrf, log_in_with_password

CODE, OTHER = "abcde-fghjk", "mnpqr-stuvw"
SECRET = "BXETI2ERZZKD6HNORLWBGHHAMBYMLMMJ"


async def _with_codes(hub: Resources, staff: Staff, *codes: str) -> None:
    async with hub.sessions() as db, db.begin():
        row = await db.get(Staff, staff.id)
        assert row is not None
        row.totp_secret = SECRET
        row.recovery_codes = [totp.hash_recovery_code(c) for c in codes]


async def _stored_codes(hub: Resources, staff: Staff) -> list[str]:
    async with hub.sessions() as db:
        return list(await db.scalar(select(Staff.recovery_codes).where(
            Staff.id == staff.id)) or [])


async def _spend_in_own_transaction(hub: Resources, staff: Staff,
                                    code: str) -> tuple[bool, bool]:
    """(the user as loaded still had the code, spending it worked)."""
    async with hub.sessions() as db, db.begin():
        user = await db.get(Staff, staff.id)
        assert user is not None
        saw = totp.hash_recovery_code(code) in user.recovery_codes
        return saw, await totp.spend_recovery_code(db, user, code)


async def test_a_second_spender_waits_for_the_first_and_then_finds_the_code_gone(
    hub: Resources, staff: Staff,
) -> None:
    await _with_codes(hub, staff, CODE, OTHER)
    async with hub.sessions() as first, first.begin():
        user = await first.get(Staff, staff.id)
        assert user is not None and await totp.spend_recovery_code(first, user, CODE)
        racing = asyncio.create_task(_spend_in_own_transaction(hub, staff, CODE))
        await asyncio.sleep(0.3)
        # PostgreSQL: its conditional UPDATE waits for the row; SQLite: its BEGIN
        # IMMEDIATE waits for the write lock (there transactions never overlap)
        assert not racing.done()
    saw, spent = await asyncio.wait_for(racing, 15)
    assert spent is False
    if database_backend() == "postgres":
        assert saw  # it read the list, code and all, before the first committed
    assert await _stored_codes(hub, staff) == [totp.hash_recovery_code(OTHER)]


async def test_two_different_codes_spent_at_once_are_both_gone(
    hub: Resources, staff: Staff,
) -> None:
    await _with_codes(hub, staff, CODE, OTHER, "xyzab-cdefg")
    both = await asyncio.gather(_spend_in_own_transaction(hub, staff, CODE),
                                _spend_in_own_transaction(hub, staff, OTHER))
    assert both == [(True, True), (True, True)]
    assert await _stored_codes(hub, staff) == [totp.hash_recovery_code("xyzab-cdefg")]


async def _attempt(app: Starlette, hub: Resources, staff: Staff,
                   ready: asyncio.Barrier) -> int:
    async with asgi_client(app, hub) as client:
        await log_in_with_password(client, staff.email)
        page = await client.get("/login/2fa")
        await ready.wait()  # every login reaches the code step, then all send at once
        response = await client.post("/login/2fa", data={
            "csrf_token": form_csrf(page.text), "next": "/app/", "code": CODE})
        return response.status_code


async def test_simultaneous_logins_with_one_recovery_code_let_exactly_one_in(
    app: Starlette, hub: Resources, staff: Staff,
) -> None:
    await _with_codes(hub, staff, CODE, OTHER)
    ready = asyncio.Barrier(4)
    statuses = await asyncio.wait_for(asyncio.gather(
        *(_attempt(app, hub, staff, ready) for _ in range(4))), 60)
    assert sorted(statuses) == [303, 401, 401, 401]
    assert await _stored_codes(hub, staff) == [totp.hash_recovery_code(OTHER)]
    async with hub.sessions() as db:
        logins = (await db.scalars(select(AuditRecord.outcome).where(
            AuditRecord.event == "login", AuditRecord.detail == "herstelcode gebruikt"))).all()
    assert logins == ["success"]
