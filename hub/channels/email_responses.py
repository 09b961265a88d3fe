"""Reading aioimaplib's answers: UID sets, FETCH literals by UID, SEARCH results, the
SELECT state. Pure functions, so they are tested without a server."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from typing import Any

from hub.errors import ChannelError

_UIDVALIDITY = re.compile(rb"\[UIDVALIDITY (\d+)\]")
_UIDNEXT = re.compile(rb"\[UIDNEXT (\d+)\]")
_EXISTS = re.compile(rb"^(\d+) EXISTS")
_FETCH_START = re.compile(rb"^\d+ FETCH \(")
UID = re.compile(rb"UID (\d+)")
SIZE = re.compile(rb"RFC822\.SIZE (\d+)")


@dataclasses.dataclass(frozen=True)
class FolderState:
    uidvalidity: int
    uidnext: int | None
    exists: int


def uid_set(uids: Sequence[int]) -> str:
    """``[1, 2, 3, 7]`` -> ``"1:3,7"``."""
    ordered = sorted(set(uids))
    ranges: list[str] = []
    start = previous = ordered[0]
    for uid in [*ordered[1:], None]:
        if uid is not None and uid == previous + 1:
            previous = uid
            continue
        ranges.append(str(start) if start == previous else f"{start}:{previous}")
        if uid is not None:
            start = previous = uid
    return ",".join(ranges)


def literals_by_uid(lines: Sequence[Any]) -> dict[int, bytes]:
    """Pair each FETCH literal with its UID, wherever in the response the UID came."""
    found: dict[int, bytes] = {}
    uid: int | None = None
    literal: bytes | None = None
    for line in lines:
        if isinstance(line, bytearray):
            literal = bytes(line)
        elif _FETCH_START.match(line):
            uid, literal = None, None
        if isinstance(line, bytes) and uid is None:
            match = UID.search(line)
            uid = int(match.group(1)) if match else None
        if uid is not None and literal is not None:
            found[uid] = literal
            uid, literal = None, None
    return found


def search_uids(lines: Sequence[Any]) -> list[int]:
    """UIDs from a SEARCH answer (aioimaplib drops the ``SEARCH`` word; the last line is
    the tagged status text)."""
    uids: list[int] = []
    for line in lines[:-1]:
        tokens = bytes(line).split()
        if tokens[:1] == [b"SEARCH"]:
            tokens = tokens[1:]
        if tokens and all(token.isdigit() for token in tokens):
            uids.extend(int(token) for token in tokens)
    return uids


def folder_state(lines: Sequence[Any]) -> FolderState:
    uidvalidity = uidnext = None
    exists = 0
    for line in lines:
        text = bytes(line)
        if match := _UIDVALIDITY.search(text):
            uidvalidity = int(match.group(1))
        if match := _UIDNEXT.search(text):
            uidnext = int(match.group(1))
        if match := _EXISTS.match(text):
            exists = int(match.group(1))
    if uidvalidity is None:
        raise ChannelError("IMAP server sent no UIDVALIDITY on SELECT")
    return FolderState(uidvalidity, uidnext, exists)


def expect_ok(response: Any, step: str, host: str) -> None:
    if response.result != "OK":
        detail = b" ".join(bytes(x) for x in response.lines[-1:]).decode(errors="replace")
        raise ChannelError(f"IMAP {step} refused: {detail}", host=host, step=step)


def quote(folder: str) -> str:
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'
