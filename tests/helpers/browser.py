"""Headless Chromium for browser tests: Debian's binary, never a downloaded one.

The flags keep Chromium from reaching for the internet, which this machine refuses
(see shared/recipes/browser-tests.md beside the repository).
"""

from __future__ import annotations

from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
HAVE_CHROMIUM = Path(CHROMIUM).exists()
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
PHONE = {"width": 360, "height": 740}
# the elements sticking out on the right, to say what breaks the phone layout
WIDEST = """[...document.querySelectorAll('body *')]
  .filter((e) => e.getBoundingClientRect().right > window.innerWidth + 1)
  .slice(0, 5).map((e) => e.tagName + '.' + e.className + '#' + e.id)"""
