"""A staff answer in the portal reaches an offline portal user as a contentless email;
opening the conversation first cancels it."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import httpx
from sqlalchemy import select

from hub.db.models import PendingNotification
from hub.events import unit_of_work
from hub.inbox.attachments import AttachmentStore
from hub.inbox.dispatch import ReplyContext, send_reply
from hub.realtime.presence import Presence
from hub.resources import Resources
from tests.helpers.auth import signed_in
from tests.helpers.inbox import principal_of
from tests.helpers.smtp import SmtpCapture, body_of
from tests.ui.conftest import World
from workers.notify import send_notification

SECRET_TEXT = "De uitslag van het bloedonderzoek is binnen"


async def _answer(hub: Resources, world: World, tmp_path: Path) -> PendingNotification:
    ctx = ReplyContext(hub.settings.with_changes(notify_delay_seconds=0),
                       AttachmentStore(tmp_path / "files"), Presence(hub.redis, 20.0))
    async with unit_of_work(hub.sessions, hub.events) as db:
        await send_reply(db, principal_of(world.anna), ctx, world.portal.id, SECRET_TEXT,
                         reply_id="uitslag")
    async with hub.sessions() as db:
        [planned] = (await db.scalars(select(PendingNotification))).all()
    assert planned.portal_user_id == world.daughter.id
    return planned


async def test_an_offline_portal_user_gets_an_email_without_client_details(
        hub: Resources, world: World, tmp_path: Path) -> None:
    planned = await _answer(hub, world, tmp_path)
    with SmtpCapture() as smtp:
        mailing = dataclasses.replace(hub, settings=hub.settings.with_changes(**smtp.settings()))
        assert await send_notification({"hub": mailing}, planned.id) == "email"
        [mail] = await smtp.wait_for(1)
    text = body_of(mail) + str(mail["Subject"])
    assert mail["To"] == "ingrid@familie.test"
    assert f"/portal/conversations/{world.portal.id}" in text
    for secret in (SECRET_TEXT, "Henk", "Jansen", "C-1001", "Medicatie", "Anna"):
        assert secret not in text, secret


async def test_reading_in_the_portal_first_cancels_the_email(
        client: httpx.AsyncClient, hub: Resources, world: World, tmp_path: Path) -> None:
    planned = await _answer(hub, world, tmp_path)
    await signed_in(client, hub, world.daughter)
    page = await client.get(f"/portal/conversations/{world.portal.id}")
    assert SECRET_TEXT in page.text
    with SmtpCapture() as smtp:
        mailing = dataclasses.replace(hub, settings=hub.settings.with_changes(**smtp.settings()))
        assert await send_notification({"hub": mailing}, planned.id) in ("cancelled", "read")
        assert smtp.messages == []
