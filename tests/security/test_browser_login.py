"""A real browser signs in with a password, sets up the second factor and reaches /app/.

Headless Chromium (Debian's, via Playwright) against a real uvicorn server; the TOTP
code is computed with pyotp from the key the setup page shows, as a phone app would.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pyotp
import pytest

from hub.db.models import Staff
from tests.conftest import LiveServer
from tests.helpers.auth import PASSWORD

CHROMIUM = "/usr/bin/chromium"
HAVE_CHROMIUM = Path(CHROMIUM).exists()
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]

pytestmark = pytest.mark.browser


@pytest.fixture
async def page() -> AsyncIterator[object]:
    if not HAVE_CHROMIUM:
        pytest.skip(f"BROWSER TEST SKIPPED: {CHROMIUM} is missing (apt-get install chromium)")
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            context = await browser.new_context(viewport={"width": 360, "height": 740},
                                                locale="nl-NL")
            yield await context.new_page()
        finally:
            await browser.close()


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
