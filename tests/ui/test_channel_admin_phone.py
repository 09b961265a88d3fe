"""The "Kanalen" pages on a 360 px phone in headless Chromium against a real uvicorn
server: nothing sticks out on the right, even with a long error and a wide payload.
``ZORGHUB_SCREENSHOTS=/some/dir`` keeps the screenshots for a person to look at.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from hub.db.base import utcnow
from hub.db.models import ChannelAccount, QuarantinedItem, Staff, WebhookDelivery
from hub.resources import Resources
from tests.conftest import LiveServer
from tests.factories import make_org, make_staff
from tests.helpers.auth import start_session

CHROMIUM = "/usr/bin/chromium"
HAVE_CHROMIUM = Path(CHROMIUM).exists()
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
RAW = (Path(__file__).parent.parent / "fixtures" / "meta" / "whatsapp" / "text.json").read_bytes()
# the elements sticking out on the right, to say what breaks the phone layout
OVERFLOW = """[...document.querySelectorAll('body *')]
  .filter((e) => e.getBoundingClientRect().right > window.innerWidth + 1)
  .slice(0, 5).map((e) => e.tagName + '.' + e.className)"""

pytestmark = pytest.mark.browser


async def _data(hub: Resources) -> tuple[Staff, int]:
    """An admin, a WhatsApp number with a long last error, and an item in quarantine."""
    async with hub.sessions.begin() as db:
        org = await make_org(db, slug=hub.settings.default_org_slug)
        admin = await make_staff(db, org, role="admin", name="Bea Beheer")
        db.add(ChannelAccount(organisation_id=org.id, kind="whatsapp",
                              external_account_id="106540352242922",
                              name="WhatsApp Zorgteam Noord", access_token="EAA-telefoon",
                              notice_template="nieuw_bericht_portaal"))
        db.add(WebhookDelivery(organisation_id=org.id, source="whatsapp", raw=RAW,
                               processed_at=utcnow(), error="Graph API 500 " + "x" * 400))
        item = QuarantinedItem(organisation_id=org.id, source="whatsapp", raw=RAW,
                               reason="kon niet worden opgeslagen: " + "y" * 300)
        db.add(item)
        await db.flush()
        return admin, item.id


async def test_the_pages_fit_a_360_px_phone(live_server: LiveServer, hub: Resources) -> None:
    if not HAVE_CHROMIUM:
        pytest.skip(f"BROWSER TEST SKIPPED: {CHROMIUM} is missing (apt-get install chromium)")
    from playwright.async_api import async_playwright

    admin, item_id = await _data(hub)
    name, value, _ = await start_session(hub, admin)
    shots = os.environ.get("ZORGHUB_SCREENSHOTS")
    pages = {"channels": "/app/admin/channels",
             "channels-item": f"/app/admin/channels/quarantine/{item_id}"}
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            context = await browser.new_context(viewport={"width": 360, "height": 740})
            await context.add_cookies([{"name": name, "value": value, "url": live_server.url}])
            page = await context.new_page()
            for shot, path in pages.items():
                await page.goto(live_server.url + path, timeout=10_000)
                if shot == "channels":
                    await page.click("summary")  # the edit form open
                    assert "WhatsApp Zorgteam Noord" in await page.content()
                assert await page.evaluate(OVERFLOW) == [], path
                if shots:
                    await page.screenshot(path=f"{shots}/{shot}.png", full_page=True)
        finally:
            await browser.close()
