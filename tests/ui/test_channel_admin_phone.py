"""The "Kanalen" pages on a 360 px phone in headless Chromium against a real uvicorn
server: nothing sticks out on the right, even with a long error and a wide payload.
``ZORGHUB_SCREENSHOTS=/some/dir`` keeps the screenshots for a person to look at.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from hub.db.base import utcnow
from hub.db.models import ChannelAccount, QuarantinedItem, Staff, WebhookDelivery
from hub.resources import Resources
from tests.conftest import LiveServer
from tests.factories import make_org, make_staff
from tests.helpers.auth import start_session
from tests.helpers.browser import PHONE, WIDEST

RAW = (Path(__file__).parent.parent / "fixtures" / "meta" / "whatsapp" / "text.json").read_bytes()

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


async def test_the_pages_fit_a_360_px_phone(live_server: LiveServer, hub: Resources,
                                            browser: Any) -> None:
    admin, item_id = await _data(hub)
    name, value, _ = await start_session(hub, admin)
    shots = os.environ.get("ZORGHUB_SCREENSHOTS")
    pages = {"channels": "/app/admin/channels",
             "channels-item": f"/app/admin/channels/quarantine/{item_id}"}
    context = await browser.new_context(viewport=PHONE)
    await context.add_cookies([{"name": name, "value": value, "url": live_server.url}])
    page = await context.new_page()
    for shot, path in pages.items():
        await page.goto(live_server.url + path, timeout=10_000)
        if shot == "channels":
            await page.click("summary")  # the edit form open
            assert "WhatsApp Zorgteam Noord" in await page.content()
        assert await page.evaluate(WIDEST) == [], path
        if shots:
            await page.screenshot(path=f"{shots}/{shot}.png", full_page=True)
