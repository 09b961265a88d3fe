"""Message-IDs as they appear in Message-ID, In-Reply-To and References headers.

An id is the text between angle brackets, spaces trimmed. Mail programs send broken
ones too: no brackets, spaces inside, or ids of thousands of characters (a long one is
replaced by a hash, so it still identifies the mail and fits the database column).
"""

from __future__ import annotations

import hashlib
import re

MAX_ID_CHARS = 400
_ANGLE_ID = re.compile(r"<\s*([^<>\s]+?)\s*>")


def message_id(value: str) -> str | None:
    """The id of a Message-ID header, or None when there is no usable one."""
    match = _ANGLE_ID.search(value)
    token = match.group(1) if match else value.strip()
    if not token or " " in token or len(token) < 3:
        return None
    if len(token) > MAX_ID_CHARS:  # a distinct prefix from the synthetic "sha256:" ids
        return "long-id:" + hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()
    return token


def message_ids(value: str | None) -> list[str]:
    """All ``<id>`` tokens in a References or In-Reply-To header, in order."""
    if not value:
        return []
    return [token for token in _ANGLE_ID.findall(value) if len(token) <= MAX_ID_CHARS]
