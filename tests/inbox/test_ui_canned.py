"""Canned replies: admins manage them, every staff member may use them."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from hub.db.engine import transaction
from hub.db.models import AuditRecord
from hub.errors import Forbidden, InvalidInput, NotFound
from hub.inbox import canned
from hub.resources import Resources
from tests.factories import make_org, make_portal_user, make_staff
from tests.helpers.inbox import principal_of


async def test_admins_manage_and_staff_use_canned_replies(hub: Resources) -> None:
    async with transaction(hub.sessions) as db:
        org = await make_org(db)
        admin = principal_of(await make_staff(db, org, role="admin"))
        anna = principal_of(await make_staff(db, org))
        made = await canned.create_reply(db, admin, " Openingstijden ",
                                         "Wij zijn bereikbaar van 8 tot 17 uur.")
        await canned.create_reply(db, admin, "Afspraak verzetten", "Wij bellen u terug.")
        assert [r.title for r in await canned.list_replies(db, anna)] == [
            "Afspraak verzetten", "Openingstijden"]
        await canned.update_reply(db, admin, made.id, "Bereikbaarheid", "Van 8 tot 18 uur.")
        await canned.delete_reply(db, admin, made.id)
        assert [r.title for r in await canned.list_replies(db, anna)] == ["Afspraak verzetten"]
        events = [a.event for a in (await db.scalars(select(AuditRecord).where(
            AuditRecord.object_ref == f"canned_reply:{made.id}"))).all()]
        assert events == ["create", "change", "delete"]


async def test_only_admins_change_them_and_input_is_checked(hub: Resources) -> None:
    async with transaction(hub.sessions) as db:
        org = await make_org(db)
        admin = principal_of(await make_staff(db, org, role="admin"))
        anna = principal_of(await make_staff(db, org))
        portal = principal_of(await make_portal_user(db, org))
        with pytest.raises(Forbidden):
            await canned.create_reply(db, anna, "Titel", "Tekst")
        with pytest.raises(Forbidden):
            await canned.list_replies(db, portal)
        for title, body in (("", "Tekst"), ("Titel", "  "), ("x" * 121, "Tekst")):
            with pytest.raises(InvalidInput):
                await canned.create_reply(db, admin, title, body)
        other = principal_of(await make_staff(db, await make_org(db), role="admin"))
        made = await canned.create_reply(db, admin, "Titel", "Tekst")
        with pytest.raises(NotFound):
            await canned.update_reply(db, other, made.id, "Gekaapt", "Tekst")
