"""Every Dutch text of the inbox pages has its English translation."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import hub.web.catalogue_inbox  # noqa: F401  (registers the English texts)
from hub.web.i18n import gettext, has_translation
from hub.web.inbox_pages import SCOPES, STATUSES
from hub.web.templates import environment

TEMPLATES = Path(__file__).resolve().parents[2] / "hub" / "templates"
PAGES = [*sorted((TEMPLATES / "inbox").glob("*.html")),
         TEMPLATES / "portal" / "home.html", TEMPLATES / "portal" / "conversation.html"]
_CALL = re.compile(r"""_\(\s*(?:"([^"]+)"|'([^']+)')""")


def _texts(path: Path) -> set[str]:
    found = {a or b for a, b in _CALL.findall(path.read_text())}
    return {t for t in found if not t.endswith(":")}  # "relation:" ~ value is built


@pytest.mark.parametrize("path", PAGES, ids=lambda p: p.name)
def test_template_texts_have_english(path: Path) -> None:
    missing = sorted(t for t in _texts(path) if not has_translation("en", t))
    assert missing == []


def test_labels_have_english() -> None:
    module = environment().get_template("inbox/_macros.html").module
    labels = [*module.CHANNELS.values(), *module.STATES.values(),  # type: ignore[attr-defined]
              *module.DELIVERY.values(),  # type: ignore[attr-defined]
              *(label for _, label in SCOPES), *(label for _, label in STATUSES)]
    assert [label for label in labels if not has_translation("en", label)] == []
    assert gettext("en", "Via {channel}", channel="Email") == "By Email"
