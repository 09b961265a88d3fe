"""A real browser signs in with a password, sets up the second factor and reaches /app/.

Headless Chromium (Debian's, via Playwright) against a real uvicorn server; the TOTP
code is computed with pyotp from the key the setup page shows, as a phone app would.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pyotp
import pytest

from hub.db.models import Staff
from tests.conftest import LiveServer
from tests.helpers.auth import PASSWORD
from tests.helpers.browser import PHONE

pytestmark = pytest.mark.browser


@pytest.fixture
async def page(browser: Any) -> AsyncIterator[object]:
    context = await browser.new_context(viewport=PHONE, locale="nl-NL")
    yield await context.new_page()


async def test_staff_logs_in_with_a_second_factor_in_a_real_browser(
    live_server: LiveServer, staff: Staff, page: object,
) -> None:
    from playwright.async_api import Page, expect

    assert isinstance(page, Page)
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    await page.goto(f"{live_server.url}/app/")
    await expect(page).to_have_url(f"{live_server.url}/login?reason=signed_out&next=%2Fapp%2F")
    await page.fill("#email", staff.email)
    await page.fill("#password", PASSWORD)
    await page.click("button[type=submit]")
    await expect(page.locator("h1")).to_have_text("Tweede factor instellen")
    await expect(page.locator("img.qr")).to_be_visible()
    secret = await page.locator("#totp-secret").get_attribute("data-secret")
    assert secret
    await page.fill("#code", pyotp.TOTP(secret).now())
    await page.click("form button[type=submit]")
    await expect(page.locator("#recovery-codes li")).to_have_count(10)
    await page.click("#continue")
    await expect(page).to_have_url(f"{live_server.url}/app/")
    await expect(page.locator("h1")).to_have_text("Inbox")  # /app/ is the inbox
    await expect(page.locator(".who")).to_have_text("Anouk Visser")
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= 360, "the page scrolls sideways on a phone"
    assert not [e for e in errors if "Content Security Policy" in e], errors
