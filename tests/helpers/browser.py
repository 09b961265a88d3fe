"""Headless Chromium for browser tests: Debian's binary, never a downloaded one.

The flags keep Chromium from reaching for the internet, which this machine refuses
(see shared/recipes/browser-tests.md beside the repository).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hub.resources import Resources
from tests.helpers.auth import start_session

CHROMIUM = "/usr/bin/chromium"
HAVE_CHROMIUM = Path(CHROMIUM).exists()
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
PHONE = {"width": 360, "height": 740}
# the elements sticking out on the right, to say what breaks the phone layout
WIDEST = """[...document.querySelectorAll('body *')]
  .filter((e) => e.getBoundingClientRect().right > window.innerWidth + 1)
  .slice(0, 5).map((e) => e.tagName + '.' + e.className + '#' + e.id)"""


async def phone_context(browser: Any, base_url: str, hub: Resources,
                        user: Any = None) -> tuple[Any, Any, list[str]]:
    """A phone-sized context (signed in as ``user`` when given), its page, and what went
    wrong in it: script errors, CSP refusals and failed requests (the browser's own
    favicon aside)."""
    context = await browser.new_context(viewport=PHONE, locale="nl-NL")
    context.set_default_timeout(10_000)
    if user is not None:
        name, value, _ = await start_session(hub, user)
        await context.add_cookies([{"name": name, "value": value, "url": base_url}])
    page = await context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.on("console", lambda m: problems.append(m.text)
            if m.type == "error" and "Failed to load resource" not in m.text else None)
    page.on("response", lambda r: problems.append(f"{r.status} {r.url}")
            if r.status >= 400 and not r.url.endswith("/favicon.ico") else None)
    return context, page, problems
