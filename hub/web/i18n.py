"""Dutch first, English second: a small message catalogue keyed by the Dutch text.

Templates and code write Dutch and wrap it: ``{{ _("Inloggen") }}`` or, with values,
``{{ _("Welkom, {name}", name=user.name) }}``. Dutch needs no catalogue; English comes
from ``hub.web.catalogue`` and any area may add its own messages with
``register("en", {...})`` at import time. A missing translation falls back to Dutch
(``tests/security/test_headers_and_pages.py`` checks that every text in
``hub/templates/security`` and ``hub/templates/portal`` has one). Codes shown to people
are translated as labels: ``_("role:" ~ role)``, ``_("event:" ~ event)``,
``_("relation:" ~ relation)``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from hub.web.catalogue import LABELS_NL, MESSAGES_EN

LANGUAGES = ("nl", "en")
# Dutch texts need no entry; Dutch *labels* of codes ("role:admin") do
_CATALOGUES: dict[str, dict[str, str]] = {"nl": dict(LABELS_NL), "en": dict(MESSAGES_EN)}

Translator = Callable[..., str]


def register(language: str, messages: Mapping[str, str]) -> None:
    """Add translations (Dutch text -> text in ``language``)."""
    _CATALOGUES.setdefault(language, {}).update(messages)


def has_translation(language: str, message: str) -> bool:
    return message in _CATALOGUES.get(language, {})


def gettext(language: str, message: str, **values: Any) -> str:
    text = _CATALOGUES.get(language, {}).get(message, message)
    return text.format(**values) if values else text


def translator(language: str) -> Translator:
    def _(message: str, **values: Any) -> str:
        return gettext(language, message, **values)

    return _


def pick_language(accept_language: str, default: str) -> str:
    """The first of nl/en in an Accept-Language header, else ``default``."""
    for part in accept_language.split(","):
        code = part.split(";")[0].strip().lower()[:2]
        if code in LANGUAGES:
            return code
    return default if default in LANGUAGES else "nl"
