"""Redis channel names, scoped to the organisation.

A stream is a conversation (client conversation, any channel, portal live chat) or a
staff chat room; each has its own sequence numbers. Payloads published on these
channels are JSON objects with at least ``type`` and, for messages, ``seq``.
"""

from __future__ import annotations


def conversation_channel(organisation_id: int, conversation_id: int) -> str:
    return f"hub:{organisation_id}:conversation:{conversation_id}"


def room_channel(organisation_id: int, room_id: int) -> str:
    return f"hub:{organisation_id}:room:{room_id}"


def inbox_channel(organisation_id: int) -> str:
    """Conversation list changes (new conversation, assignment, status) for open inboxes."""
    return f"hub:{organisation_id}:inbox"


def access_channel(organisation_id: int) -> str:
    """Rights changed (care relationship, room membership, account disabled): re-check."""
    return f"hub:{organisation_id}:access"


def presence_channel(organisation_id: int) -> str:
    """Staff presence changes (online, away, offline), for sockets that asked for them."""
    return f"hub:{organisation_id}:presence"
