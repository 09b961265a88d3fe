"""Cut quoted history from a plain-text reply, for the conversation view.

The full text is always kept next to the trimmed one (``Message.full_text``); this only
decides what the conversation shows by default. A forwarded message is not a quote: the
forwarded part is the content, so "Forwarded message" markers are left alone.
"""

from __future__ import annotations

import re

# "On Mon, 1 Jan 2024 at 10:00, Anna <anna@example.nl> wrote:" and its siblings; mail
# programs wrap the line, so up to three lines are joined before matching.
_ATTRIBUTION = re.compile(
    r"^(on\s.{1,300}\swrote|op\s.{1,300}\s(schreef|geschreven|het volgende)[^:]{0,160}"
    r"|am\s.{1,300}\sschrieb[^:]{0,20}|le\s.{1,300}\sa\s[ée]crit)\s?:\s*$",
    re.I | re.S)
_SEPARATOR = re.compile(
    r"^\s*-{2,}\s*(original message|oorspronkelijk bericht|origineel bericht"
    r"|ursprüngliche nachricht|message d'origine)\s*-{2,}\s*$", re.I)
_OUTLOOK_HEADER = re.compile(r"^\s*\*?(from|van|von|de)\s*:\*?\s", re.I)
_OUTLOOK_NEXT = re.compile(r"^\s*\*?(sent|verzonden|gesendet|envoy[ée]|date|datum)\s*:", re.I)
_UNDERSCORES = re.compile(r"^\s*_{10,}\s*$")


def trim_quoted(text: str) -> str:
    """``text`` without the quoted history of earlier messages (unchanged when none)."""
    lines = text.split("\n")
    cut = _first_quote_line(lines)
    if cut is None or cut == 0:
        return text.strip()
    trimmed = "\n".join(lines[:cut]).rstrip()
    return trimmed if trimmed.strip() else text.strip()


def _first_quote_line(lines: list[str]) -> int | None:
    for index, line in enumerate(lines):
        if _starts_history(lines, index, line):
            return index
    return _trailing_quote_block(lines)


def _starts_history(lines: list[str], index: int, line: str) -> bool:
    if _SEPARATOR.match(line) or (_UNDERSCORES.match(line)
                                  and _header_follows(lines, index + 1)):
        return True
    if _OUTLOOK_HEADER.match(line) and _header_follows(lines, index + 1, next_only=True):
        return True
    for span in (1, 2, 3):
        joined = " ".join(part.strip() for part in lines[index:index + span])
        if len(joined) < 400 and _ATTRIBUTION.match(joined):
            return _quote_follows(lines, index + span)
    return False


def _header_follows(lines: list[str], start: int, next_only: bool = False) -> bool:
    window = lines[start:start + (1 if next_only else 3)]
    pattern = _OUTLOOK_NEXT if next_only else _OUTLOOK_HEADER
    return any(pattern.match(line) for line in window)


def _quote_follows(lines: list[str], start: int) -> bool:
    """An attribution counts only when nothing but quoted lines follow it; an answer
    written between the quotes (bottom or inline posting) must not be cut away."""
    return all(line.lstrip().startswith(">") for line in lines[start:] if line.strip())


def _trailing_quote_block(lines: list[str]) -> int | None:
    """The start of a final run of "> " lines (blank lines allowed inside)."""
    start = None
    for index in range(len(lines) - 1, -1, -1):
        stripped = lines[index].strip()
        if not stripped:
            continue
        if stripped.startswith(">"):
            start = index
        else:
            break
    return start
