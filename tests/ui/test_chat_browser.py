"""Two colleagues chat live in two browser contexts (headless Chromium, real uvicorn).

Bram watches his room list while Anna writes: the unread badge goes up without a reload;
in the room he sees her typing and her message arrive, reading it brings the count
down, his answer reaches her, she sees him online, and an edit and a delete show on
the other side. ``ZORGHUB_SCREENSHOTS=/some/dir`` keeps the 360 px
screenshots of both pages.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import TimeoutError as PlaywrightTimeout
from sqlalchemy import select

from hub.chat import rooms
from hub.db.models import RoomMember
from hub.events import unit_of_work
from hub.resources import Resources
from tests.conftest import LiveServer
from tests.helpers.browser import WIDEST, phone_context
from tests.helpers.inbox import principal_of
from tests.ui.conftest import World

pytestmark = pytest.mark.browser


async def _read_seq(hub: Resources, room_id: int, staff_id: int) -> int:
    async with hub.sessions() as db:
        seq = await db.scalar(select(RoomMember.last_read_seq).where(
            RoomMember.room_id == room_id, RoomMember.staff_id == staff_id))
    return int(seq or 0)


async def _until_read(hub: Resources, room_id: int, staff_id: int, seq: int) -> None:
    for _ in range(50):  # bounded: 5 s
        if await _read_seq(hub, room_id, staff_id) >= seq:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"staff {staff_id} never read up to {seq}")


async def _typing_seen(writer: Any, reader: Any) -> None:
    """Keep typing until the reader sees it: one typing frame per 2 s goes out."""
    shown = reader.locator("#typing").filter(has_text="Anna de Boer typt")
    for _ in range(6):  # bounded: ~6 s
        await writer.type("#body", "j")
        try:
            await shown.wait_for(timeout=1000)
            return
        except PlaywrightTimeout:  # type again
            continue
    raise AssertionError("typing was never shown")


async def _fits(page: Any, name: str) -> None:
    assert await page.evaluate(WIDEST) == [], f"{name}: wider than 360 px"
    folder = os.environ.get("ZORGHUB_SCREENSHOTS")
    if folder:
        await page.screenshot(path=str(Path(folder) / f"chat-{name}.png"), full_page=True)


async def test_two_colleagues_chat_live(browser: Any, live_server: LiveServer,
                                        hub: Resources, world: World) -> None:
    async with unit_of_work(hub.sessions, hub.events) as db:
        room = await rooms.direct_room(db, principal_of(world.anna), world.bram.id)
    url = f"{live_server.url}/app/chat/{room.id}"
    anna_ctx, anna, anna_problems = await phone_context(browser, live_server.url, hub, world.anna)
    bram_ctx, bram, bram_problems = await phone_context(browser, live_server.url, hub, world.bram)
    try:
        await bram.goto(f"{live_server.url}/app/chat")
        badge = bram.locator(f'li[data-stream="room:{room.id}"] .badge.unread')
        assert await badge.is_hidden()
        await anna.goto(url)
        await anna.wait_for_selector(".chat-room[data-synced]")
        await anna.fill("#body", "Hoi @Bram, <b>kun</b> je straks bellen?")
        await anna.press("#body", "Enter")
        await badge.filter(has_text="1").wait_for()  # live, no reload
        await _fits(bram, "rooms")
        mine = anna.locator("#messages li.message.out")
        await mine.and_(anna.locator('[data-seq="1"]')).wait_for()
        assert await anna.locator("#messages li.pending").count() == 0

        await bram.goto(url)
        await bram.wait_for_selector(".chat-room[data-synced]")
        text = bram.locator("#messages li[data-seq='1'] .body")
        assert await text.inner_text() == "Hoi @Bram, <b>kun</b> je straks bellen?"
        assert await text.locator("mark.mention").inner_text() == "@Bram,"
        await _until_read(hub, room.id, world.bram.id, 1)
        async with hub.sessions() as db:
            unread = await rooms.unread_counts(db, principal_of(world.bram))
        assert unread.get(room.id, (0, 0))[0] == 0

        await _typing_seen(anna, bram)
        await anna.fill("#body", "")
        await bram.fill("#body", "Goed, om drie uur")
        await bram.click("#composer button[type=submit]")
        await anna.locator("#messages li[data-seq='2'] .body").filter(
            has_text="Goed, om drie uur").wait_for()
        await bram.locator("#messages li.out[data-seq='2']").wait_for()
        await _fits(bram, "room")
        await anna.locator(f'[data-presence="staff:{world.bram.id}"].online').wait_for(
            state="attached")

        # Bram changes his answer, Anna takes hers back: both sides see it live
        bram.once("dialog", lambda dialog: asyncio.ensure_future(
            dialog.accept("Goed, om vier uur")))
        await bram.click("#messages li.out[data-seq='2'] .body")
        await bram.click("#messages li.out[data-seq='2'] .actions button >> nth=0")
        edited = anna.locator("#messages li[data-seq='2']")
        await edited.filter(has_text="om vier uur").filter(has_text="bewerkt").wait_for()
        await anna.click("#messages li.out[data-seq='1'] .body")
        await anna.click("#messages li.out[data-seq='1'] .actions button >> nth=1")
        await bram.locator("#messages li.deleted[data-seq='1']").filter(
            has_text="Dit bericht is verwijderd.").wait_for()
        assert anna_problems == [] and bram_problems == []
    finally:
        await anna_ctx.close()
        await bram_ctx.close()


async def test_presence_follows_a_reconnect(browser: Any, live_server: LiveServer,
                                            hub: Resources, world: World) -> None:
    """Anna's socket is dropped by the server (a restart): her page reconnects, resumes
    and watches presence again, so she sees Bram leave afterwards."""
    async with unit_of_work(hub.sessions, hub.events) as db:
        room = await rooms.direct_room(db, principal_of(world.anna), world.bram.id)
    url = f"{live_server.url}/app/chat/{room.id}"
    anna_ctx, anna, anna_problems = await phone_context(browser, live_server.url, hub, world.anna)
    bram_ctx, bram, _ = await phone_context(browser, live_server.url, hub, world.bram)
    try:
        await anna.goto(url)
        await bram.goto(url)
        dot = anna.locator(f'[data-presence="staff:{world.bram.id}"]')
        await dot.and_(anna.locator(".online")).wait_for(state="attached")
        fanout = live_server.server.lifespan.state["realtime"]
        for conn in fanout.all_connections():
            if conn.who.user_id == world.anna.id:
                conn.drop(1012)  # service restart: the page comes back on its own

        def watching() -> bool:
            return any(c.who.user_id == world.anna.id
                       for c in fanout.presence_watchers.get(world.org.id, ()))

        assert not watching()
        for _ in range(100):  # bounded: 10 s for the backoff and the resume
            if watching():
                break
            await asyncio.sleep(0.1)
        assert watching(), "the page did not watch presence again after reconnecting"
        await bram_ctx.close()  # Bram leaves: only a watcher of presence hears of it
        await dot.and_(anna.locator(".offline")).wait_for(state="attached")
        assert anna_problems == []
    finally:
        await anna_ctx.close()
        await bram_ctx.close()
