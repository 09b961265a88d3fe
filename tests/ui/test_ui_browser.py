"""The main journeys in headless Chromium against a real uvicorn server.

Staff log in (password and TOTP), work the inbox on a 360 px phone screen (answer an
email and a portal message, assign, resolve, search); a portal user and a colleague chat
live in two browser contexts; an open inbox list follows changes without a reload.
``ZORGHUB_SCREENSHOTS=/some/dir`` keeps the phone screenshots for a person to look at.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import pyotp
import pytest
from sqlalchemy import update

from hub.db.engine import transaction
from hub.db.models import Conversation, Message, Staff
from hub.events import unit_of_work
from hub.inbox import actions
from hub.inbox.store import NewMessage, announce_update, store_message
from hub.resources import Resources
from tests.conftest import LiveServer
from tests.helpers.auth import PASSWORD
from tests.helpers.browser import PHONE, WIDEST, phone_context
from tests.helpers.inbox import principal_of
from tests.ui.conftest import World

pytestmark = pytest.mark.browser


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    """Where the phone screenshots go (kept when ZORGHUB_SCREENSHOTS names a folder)."""
    folder = Path(os.environ.get("ZORGHUB_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


async def _fits_phone(page: Any, name: str, folder: Path) -> None:
    await page.screenshot(path=str(folder / f"{name}-360.png"), full_page=True)
    width = await page.evaluate("document.documentElement.scrollWidth")
    wide = await page.evaluate(WIDEST)
    assert width <= PHONE["width"], f"{name} scrolls sideways on a phone ({width}px): {wide}"


async def test_staff_work_the_inbox_on_a_phone(browser: Any, live_server: LiveServer,
                                              hub: Resources, world: World,
                                              shots: Path) -> None:
    from playwright.async_api import expect

    secret = pyotp.random_base32()
    async with transaction(hub.sessions) as db:
        await db.execute(update(Staff).where(Staff.id == world.anna.id).values(
            totp_secret=secret))
    context, page, problems = await phone_context(browser, live_server.url, hub)
    url = live_server.url
    await page.goto(f"{url}/app/")
    await page.fill("#email", "anna@zorg.test")
    await page.fill("#password", PASSWORD)
    await page.click("button[type=submit]")
    await page.fill("#code", pyotp.TOTP(secret).now())
    await page.click("form button[type=submit]")
    await expect(page.locator("h1")).to_have_text("Inbox")
    await expect(page.locator("#convlist .conv")).to_have_count(2)
    await _fits_phone(page, "inbox", shots)

    await page.click(f'a[href="/app/conversations/{world.email.id}"]')
    await expect(page.locator(".message.in .body")).to_contain_text("later")
    await page.fill("#reply-text", "Dat kan, de zuster komt om 11 uur.")
    await page.click("#reply button[type=submit]")
    await expect(page.locator(".message.out")).to_contain_text("om 11 uur")
    await expect(page.locator(".message.out .delivery")).to_have_text("In de wachtrij")
    await _fits_phone(page, "conversation", shots)

    await page.select_option("#assign-staff", str(world.bram.id))
    await page.click("form[action$='/assign'] button[type=submit]")
    await expect(page.locator(".facts-line")).to_contain_text("Bram Visser")
    await page.click("button[value=resolved]")
    await expect(page.locator(".facts-line .state")).to_have_text("Afgehandeld")

    await page.goto(f"{url}/app/conversations/{world.portal.id}")
    await page.fill("#reply-text", "Ja, ze zijn besteld.")
    await page.click("#reply button[type=submit]")
    await expect(page.locator(".message.out")).to_contain_text("besteld")

    await page.goto(f"{url}/app/")
    await page.fill("#q", "pillen")
    await page.click("form[role=search] button")
    await expect(page.locator("#message-hits mark")).to_have_text("pillen")
    await context.close()
    assert not problems, problems


async def test_portal_user_and_staff_chat_live(browser: Any, live_server: LiveServer,
                                               hub: Resources, world: World,
                                               shots: Path) -> None:
    from playwright.async_api import expect

    url = live_server.url
    staff_ctx, staff, staff_problems = await phone_context(browser, url, hub, world.anna)
    portal_ctx, portal, portal_problems = await phone_context(browser, url, hub)
    await staff.goto(f"{url}/app/conversations/{world.portal.id}")
    await portal.goto(f"{url}/portal/")
    await portal.fill("#email", "ingrid@familie.test")
    await portal.fill("#password", PASSWORD)
    await portal.click("button[type=submit]")
    await portal.click(f'a[href="/portal/conversations/{world.portal.id}"]')
    await _socket_ready(staff)
    await _socket_ready(portal)

    await portal.fill("#chat-text", "Komt er vandaag nog iemand?")
    await portal.click("form[data-chat] button[type=submit]")
    await expect(portal.locator("#chat-text")).to_have_value("")
    await expect(staff.locator("#messages")).to_contain_text("Komt er vandaag nog iemand?")

    await staff.fill("#reply-text", "Ja, Bram komt om vier uur.")
    await staff.click("#reply button[type=submit]")
    await expect(portal.locator("#messages")).to_contain_text("Bram komt om vier uur")
    # the portal page read it: the colleague sees "Gelezen" without reloading
    await expect(staff.locator(".message.out .delivery").last).to_have_text("Gelezen")
    await expect(portal.locator(".message.in .delivery").last).to_have_text("Gelezen")
    await _fits_phone(portal, "portal-chat", shots)
    await staff_ctx.close()
    await portal_ctx.close()
    assert not staff_problems and not portal_problems, (staff_problems, portal_problems)


async def test_an_open_inbox_follows_new_messages_and_status(
        browser: Any, live_server: LiveServer, hub: Resources, world: World) -> None:
    from playwright.async_api import expect

    context, page, problems = await phone_context(browser, live_server.url, hub, world.anna)
    await page.goto(f"{live_server.url}/app/")
    await _socket_ready(page)
    # one inbox stream, no subscription per listed conversation
    for _ in range(100):
        if await page.evaluate("() => window.zhLive.inbox") is not None:
            break
        await asyncio.sleep(0.05)
    assert await page.evaluate("() => window.zhLive.inbox") == "stream"
    async with unit_of_work(hub.sessions, hub.events) as db:
        conv = await actions.load_visible(db, principal_of(world.anna), world.email.id)
        await store_message(db, conv, NewMessage(
            channel="email", direction="in", external_id="m2@familie.test",
            body_text="Nog een vraag over de nachtzorg", sender_name="Ingrid Jansen"))
    first = page.locator("#convlist .conv").first
    await expect(first).to_contain_text("nachtzorg")
    async with unit_of_work(hub.sessions, hub.events) as db:
        conv = await actions.load_visible(db, principal_of(world.anna), world.email.id)
        await actions.set_status(db, principal_of(world.bram), conv.id, conv.version,
                                 "resolved")
    await expect(page.locator(f'[data-conversation="{world.email.id}"]')).to_have_count(0)
    await context.close()
    assert not problems, problems


async def test_a_delivery_status_change_shows_live(
        browser: Any, live_server: LiveServer, hub: Resources, world: World) -> None:
    from playwright.async_api import expect

    async with unit_of_work(hub.sessions, hub.events) as db:
        conv = await actions.load_visible(db, principal_of(world.anna), world.email.id)
        sent, _ = await store_message(db, conv, NewMessage(
            channel="email", direction="out", external_id="out1@zorg.test",
            body_text="De zuster komt om 11 uur.", delivery_status="queued"))
    context, page, problems = await phone_context(browser, live_server.url, hub, world.anna)
    await page.goto(f"{live_server.url}/app/conversations/{world.email.id}")
    await _socket_ready(page)
    label = page.locator(f'[data-seq="{sent.seq}"] .delivery')
    await expect(label).to_have_text("In de wachtrij")
    for status, text in (("sent", "Verzonden"), ("failed", "Mislukt")):
        async with unit_of_work(hub.sessions, hub.events) as db:
            message = await db.get(Message, sent.id)
            current = await db.get(Conversation, world.email.id)
            assert message is not None and current is not None
            message.delivery_status = status
            message.delivery_error = "Adres bestaat niet" if status == "failed" else ""
            await db.flush()
            announce_update(db, current, message)
        await expect(label).to_have_text(text)
    await expect(page.locator(f'[data-seq="{sent.seq}"] .error')).to_have_text(
        "Adres bestaat niet")
    await context.close()
    assert not problems, problems


async def _socket_ready(page: Any) -> None:
    """Wait until the page's socket said hello and subscribed (bounded polling:
    ``wait_for_function`` evaluates a string, which the page's CSP forbids)."""
    for _ in range(200):
        if await page.evaluate("() => (window.zhLive ? window.zhLive.subscribed : 0)") > 0:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the page's socket never subscribed")

