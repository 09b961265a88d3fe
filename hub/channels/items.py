"""The channel-neutral shapes the Meta adapters lift their webhook payloads into.

``hub.channels.whatsapp`` and ``hub.channels.messenger`` read a vendor payload and hand
back one ``Batch``: what people wrote (``InboundItem``), what happened to what we sent
(``StatusItem``) and what could not be read (``Rejected``, kept with its raw JSON for the
quarantine). What an item *means* for the inbox (which client, which conversation) is
decided in ``hub.inbox.meta_ingest``, not here.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

# bodies longer than this are cut (WhatsApp allows 4096 characters, Messenger 2000)
MAX_TEXT = 10_000


class Unreadable(Exception):
    """The payload as a whole is not what the vendor documents; quarantined whole."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclasses.dataclass(frozen=True)
class MediaRef:
    """A file someone sent: WhatsApp names a media id, Messenger a download URL."""

    kind: str
    media_id: str = ""
    url: str = ""
    mime_type: str = ""
    filename: str = ""


@dataclasses.dataclass
class InboundItem:
    """One message in a conversation with an outside party (or our own echo of one)."""

    channel: str
    account_id: str  # WhatsApp phone_number_id or Messenger page id
    external_id: str  # wamid or mid: the idempotency key (invariant 2)
    party: str  # WhatsApp wa_id or Messenger PSID
    kind: str  # text, image, document, audio, video, sticker, reaction, ...
    text: str = ""
    timestamp: dt.datetime | None = None
    profile_name: str = ""
    media: list[MediaRef] = dataclasses.field(default_factory=list)
    reply_to: str = ""
    reaction_to: str = ""  # the message a reaction is about
    # Messenger sends a copy of every message the page sent; ours carry our metadata
    echo: bool = False
    echo_metadata: str = ""
    # a webhook body holding only this item (kept if it cannot be taken in)
    raw: dict[str, Any] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class StatusItem:
    """What became of messages we sent: sent, delivered, read or failed."""

    channel: str
    account_id: str
    status: str
    party: str = ""
    remote_ids: tuple[str, ...] = ()  # empty for a Messenger watermark
    watermark: dt.datetime | None = None  # Messenger: everything sent up to here
    error: str | None = None
    # our own message id, echoed back by WhatsApp (biz_opaque_callback_data)
    callback: str = ""
    # a webhook body holding only this status (kept if it cannot be taken in)
    raw: Any = dataclasses.field(default=None, compare=False, hash=False)


@dataclasses.dataclass(frozen=True)
class Rejected:
    """One entry or item that could not be read; the others go on without it. ``raw``
    is a webhook body holding only that item, so a retry replays it."""

    channel: str
    account_id: str
    reason: str
    raw: Any


@dataclasses.dataclass
class Batch:
    items: list[InboundItem] = dataclasses.field(default_factory=list)
    statuses: list[StatusItem] = dataclasses.field(default_factory=list)
    rejected: list[Rejected] = dataclasses.field(default_factory=list)

    def account_ids(self) -> set[str]:
        found = {i.account_id for i in self.items} | {s.account_id for s in self.statuses}
        return found | {r.account_id for r in self.rejected if r.account_id}


def from_epoch(value: Any, *, millis: bool = False) -> dt.datetime | None:
    """A vendor timestamp (seconds or milliseconds, number or string) as aware UTC."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    if millis:
        number /= 1000
    try:
        return dt.datetime.fromtimestamp(number, dt.UTC)
    except (OverflowError, OSError, ValueError):
        return None


_CONTROL = dict.fromkeys(c for c in range(32) if chr(c) not in "\n\t")


def text_of(value: Any) -> str:
    """A string field as text without control characters (PostgreSQL refuses NUL),
    cut to ``MAX_TEXT``; anything else as empty."""
    return value.translate(_CONTROL)[:MAX_TEXT] if isinstance(value, str) else ""


def dict_of(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def list_of(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def required_id(value: Any, what: str) -> str:
    """A non-empty id string (Meta's ids are digits, wamid.*, m_* ...), else ValueError."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value.strip() or len(value) > 500:
        raise ValueError(f"{what} missing or malformed")
    return value.strip()
