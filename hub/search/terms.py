"""Turning what someone typed into safe search terms, and text into a highlighted snippet.

Only word characters survive, so no search syntax (``"``, ``*``, ``&``, ``NEAR``) typed
by a user ever reaches the database's query parser.
"""

from __future__ import annotations

import re
import unicodedata

MAX_TERMS = 8
MAX_TERM_CHARS = 40
MIN_QUERY_CHARS = 2
SNIPPET_CHARS = 160

_WORD = re.compile(r"\w+", re.UNICODE)

# a snippet is a list of (text, is_match) pieces; the template escapes every piece
Segments = list[tuple[str, bool]]


def terms(query: str) -> list[str]:
    """Lower-cased words of the query, at most ``MAX_TERMS``, each at most 40 chars."""
    found = [w.lower()[:MAX_TERM_CHARS] for w in _WORD.findall(query)]
    unique = list(dict.fromkeys(w for w in found if w.strip("_")))
    return unique[:MAX_TERMS]


def usable(query: str) -> bool:
    return len("".join(terms(query))) >= MIN_QUERY_CHARS


def fold(text: str) -> str:
    """Lower case without accents ("Cliënt" -> "client"), same length as the input."""
    return "".join(_base(c) for c in text.lower())


def _base(char: str) -> str:
    stripped = unicodedata.normalize("NFKD", char)[:1]
    return stripped if len(stripped) == 1 else char


def snippet(text: str, words: list[str], width: int = SNIPPET_CHARS) -> Segments:
    """A window of ``text`` around the first word that starts with a search term."""
    flat = " ".join(text.split())
    folded = fold(flat)
    wanted = [fold(w) for w in words]
    hits = [m for m in _WORD.finditer(folded) if any(m.group().startswith(w) for w in wanted)]
    start = max(hits[0].start() - width // 3, 0) if hits else 0
    window = flat[start:start + width]
    pieces = _split(window, folded[start:start + width], wanted)
    if start > 0:
        pieces.insert(0, ("…", False))
    if start + width < len(flat):
        pieces.append(("…", False))
    return pieces


def _split(window: str, folded: str, wanted: list[str]) -> Segments:
    pieces: Segments = []
    at = 0
    for match in _WORD.finditer(folded):
        if any(match.group().startswith(w) for w in wanted):
            if match.start() > at:
                pieces.append((window[at:match.start()], False))
            pieces.append((window[match.start():match.end()], True))
            at = match.end()
    if at < len(window):
        pieces.append((window[at:], False))
    return pieces
