"""Staff chat: direct messages and team rooms, each a stream with its own sequence."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from hub.db.base import Base, BigId, OrgScoped, UTCDateTime


class RoomKind(enum.StrEnum):
    DIRECT = "direct"
    TEAM = "team"
    GROUP = "group"


class Room(Base, OrgScoped):
    __tablename__ = "rooms"
    __table_args__ = (UniqueConstraint("organisation_id", "direct_key"),)
    kind: Mapped[str] = mapped_column(String(10))
    name: Mapped[str] = mapped_column(String(120), default="")
    team_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("teams.id", ondelete="CASCADE"))
    created_by_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("staff.id", ondelete="SET NULL")
    )
    # "lowid:highid" for direct rooms, so a pair has exactly one
    direct_key: Mapped[str | None] = mapped_column(String(50))
    last_seq: Mapped[int] = mapped_column(Integer, default=0)
    last_message_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    archived: Mapped[bool] = mapped_column(Boolean, default=False)


class RoomMember(Base, OrgScoped):
    __tablename__ = "room_members"
    __table_args__ = (UniqueConstraint("room_id", "staff_id"),)
    room_id: Mapped[int] = mapped_column(BigId, ForeignKey("rooms.id", ondelete="CASCADE"))
    staff_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("staff.id", ondelete="CASCADE"), index=True
    )
    last_read_seq: Mapped[int] = mapped_column(Integer, default=0)
    muted: Mapped[bool] = mapped_column(Boolean, default=False)


class ChatMessage(Base, OrgScoped):
    __tablename__ = "chat_messages"
    __table_args__ = (
        UniqueConstraint("room_id", "seq"),
        UniqueConstraint("room_id", "sender_staff_id", "client_message_id"),
        # resume after an edit: WHERE room_id = ? AND changed_seq > ?
        Index("ix_chat_messages_room_changed", "room_id", "changed_seq"),
    )
    room_id: Mapped[int] = mapped_column(BigId, ForeignKey("rooms.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    sender_staff_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("staff.id", ondelete="SET NULL")
    )
    # chosen by the sending device; a retried send with the same id is not stored twice
    client_message_id: Mapped[str] = mapped_column(String(64))
    body: Mapped[str] = mapped_column(Text)
    mentions: Mapped[list[int]] = mapped_column(JSON, default=list)
    meta: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    edited_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    deleted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # the room sequence number of the last edit or delete, so a client resuming after it
    # gets the change from the database (an edit takes a number like a new message)
    changed_seq: Mapped[int | None] = mapped_column(Integer)


class PendingNotification(Base, OrgScoped):
    """A notification to an offline recipient, sent after a delay unless read first."""

    __tablename__ = "pending_notifications"
    # by stream: planning (what is still pending there) and reading (cancel) look it up
    __table_args__ = (UniqueConstraint("dedupe_key"),
                      Index("ix_pending_notifications_stream", "stream"))
    staff_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("staff.id", ondelete="CASCADE"))
    portal_user_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("portal_users.id", ondelete="CASCADE")
    )
    # what to link to: "room:12:seq:40" or "conversation:7:seq:3"
    dedupe_key: Mapped[str] = mapped_column(String(120))
    # "room:12" or "conversation:7" and the message's seq there: reading past it cancels
    stream: Mapped[str] = mapped_column(String(60), default="")
    seq: Mapped[int] = mapped_column(Integer, default=0)
    link: Mapped[str] = mapped_column(String(500))
    due_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)
    sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    cancelled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    via: Mapped[str | None] = mapped_column(String(10))


class PushSubscription(Base, OrgScoped):
    __tablename__ = "push_subscriptions"
    staff_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("staff.id", ondelete="CASCADE"))
    portal_user_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("portal_users.id", ondelete="CASCADE")
    )
    endpoint: Mapped[str] = mapped_column(Text)
    keys: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
