"""Conversations with clients across channels, their messages and attachments.

A conversation is also a realtime stream: ``last_seq`` hands out per-conversation
sequence numbers in the transaction that stores the message (invariant 1).
"""

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
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from hub.db.base import Base, BigId, IdPk, OrgScoped, UTCDateTime, utcnow


class Channel(enum.StrEnum):
    EMAIL = "email"
    WHATSAPP = "whatsapp"
    MESSENGER = "messenger"
    PORTAL = "portal"
    NOTE = "note"  # internal note, staff only


class Direction(enum.StrEnum):
    INBOUND = "in"
    OUTBOUND = "out"
    NOTE = "note"


class DeliveryStatus(enum.StrEnum):
    RECEIVED = "received"
    QUEUED = "queued"
    SENT = "sent"
    DELIVERED = "delivered"
    READ = "read"
    FAILED = "failed"


class ConversationStatus(enum.StrEnum):
    OPEN = "open"
    PENDING = "pending"
    SNOOZED = "snoozed"
    RESOLVED = "resolved"


class Conversation(Base, OrgScoped):
    __tablename__ = "conversations"
    __table_args__ = (
        # the inbox pages newest first on (last_message_at, id); each common filter has an
        # index that yields that order, so the first page never sorts the whole table
        Index("ix_conversations_org_activity", "organisation_id", "last_message_at", "id"),
        Index("ix_conversations_org_status_activity", "organisation_id", "status",
              "last_message_at", "id"),
        Index("ix_conversations_org_channel_activity", "organisation_id", "channel",
              "last_message_at", "id"),
        Index("ix_conversations_client_activity", "client_id", "last_message_at", "id"),
        Index("ix_conversations_assignee_activity", "assignee_staff_id", "last_message_at",
              "id"),
        Index("ix_conversations_team_activity", "assignee_team_id", "last_message_at", "id"),
    )
    client_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("clients.id", ondelete="SET NULL")
    )
    # the contact who started it (may be a representative writing about the client)
    contact_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("client_contacts.id", ondelete="SET NULL")
    )
    channel: Mapped[str] = mapped_column(String(20))
    subject: Mapped[str] = mapped_column(String(500), default="")
    status: Mapped[str] = mapped_column(String(20), default=ConversationStatus.OPEN.value)
    # the snooze sweep looks for due ones across organisations
    snoozed_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, index=True)
    assignee_staff_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("staff.id", ondelete="SET NULL")
    )
    assignee_team_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("teams.id", ondelete="SET NULL")
    )
    mailbox_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("mailboxes.id", ondelete="SET NULL")
    )
    # the WhatsApp number or Messenger page the conversation runs through (replies go out
    # from the same one)
    channel_account_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("channel_accounts.id", ondelete="SET NULL")
    )
    # random token carried in our outbound Message-IDs so replies find their way back
    thread_token: Mapped[str] = mapped_column(String(32), unique=True)
    # the outside party's address on this channel (email, wa_id, psid)
    external_party: Mapped[str | None] = mapped_column(String(254))
    last_seq: Mapped[int] = mapped_column(Integer, default=0)
    # set from the start (not NULL) so keyset paging sees every conversation in one order
    last_message_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=utcnow)
    last_inbound_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    preview: Mapped[str] = mapped_column(String(300), default="")
    # bumped on every change; forms carry it so a stale form cannot overwrite newer state
    version: Mapped[int] = mapped_column(Integer, default=1)


class Message(Base, OrgScoped):
    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("organisation_id", "channel", "external_id"),
        UniqueConstraint("conversation_id", "seq"),
        # status webhooks and echoes name our outbound messages by the vendor's id
        UniqueConstraint("organisation_id", "channel", "remote_id"),
    )
    conversation_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("conversations.id", ondelete="CASCADE"), index=True
    )
    seq: Mapped[int] = mapped_column(Integer)
    direction: Mapped[str] = mapped_column(String(10))
    channel: Mapped[str] = mapped_column(String(20))
    # Message-ID, wamid, mid or portal client message id; unique per channel (invariant 2)
    external_id: Mapped[str] = mapped_column(String(500))
    sender_staff_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("staff.id", ondelete="SET NULL")
    )
    sender_portal_user_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("portal_users.id", ondelete="SET NULL")
    )
    sender_contact_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("client_contacts.id", ondelete="SET NULL")
    )
    sender_name: Mapped[str] = mapped_column(String(200), default="")
    sender_address: Mapped[str] = mapped_column(String(254), default="")
    subject: Mapped[str] = mapped_column(String(500), default="")
    # plain text for search and previews; quoted history trimmed
    body_text: Mapped[str] = mapped_column(Text, default="")
    # full plain text including quoted history
    full_text: Mapped[str] = mapped_column(Text, default="")
    # sanitised at ingest, safe to render
    body_html: Mapped[str] = mapped_column(Text, default="")
    # channel headers needed for threading (message_id, in_reply_to, references, ...)
    meta: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    delivery_status: Mapped[str] = mapped_column(
        String(20), default=DeliveryStatus.RECEIVED.value
    )
    delivery_error: Mapped[str | None] = mapped_column(Text)
    # the id the vendor gave our outbound message (WhatsApp wamid, Messenger mid), set
    # once it was accepted; a send job that finds it set sends nothing again
    remote_id: Mapped[str | None] = mapped_column(String(500))
    send_attempts: Mapped[int] = mapped_column(Integer, default=0)
    edited_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    deleted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # attachments over the size cap: [{"filename", "size", "reason"}]
    skipped_attachments: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)


class Attachment(Base, OrgScoped):
    """File metadata; the bytes live once on disk under their sha256."""

    __tablename__ = "attachments"
    message_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("messages.id", ondelete="CASCADE"), index=True
    )
    chat_message_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("chat_messages.id", ondelete="CASCADE"), index=True
    )
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(120))
    size: Mapped[int] = mapped_column(Integer)
    # Content-ID for inline (cid:) images
    content_id: Mapped[str | None] = mapped_column(String(255))
    inline: Mapped[bool] = mapped_column(Boolean, default=False)


class ReadMarker(Base, OrgScoped):
    """How far a staff member or portal user has read a conversation."""

    __tablename__ = "read_markers"
    __table_args__ = (
        UniqueConstraint("conversation_id", "staff_id"),
        UniqueConstraint("conversation_id", "portal_user_id"),
    )
    conversation_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("conversations.id", ondelete="CASCADE"), index=True
    )
    staff_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("staff.id", ondelete="CASCADE"))
    portal_user_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("portal_users.id", ondelete="CASCADE")
    )
    last_read_seq: Mapped[int] = mapped_column(Integer, default=0)
    read_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class CannedReply(Base, OrgScoped):
    __tablename__ = "canned_replies"
    title: Mapped[str] = mapped_column(String(120))
    body: Mapped[str] = mapped_column(Text)


class Mailbox(Base, OrgScoped):
    """A shared IMAP mailbox polled into the inbox, with its SMTP for replies."""

    __tablename__ = "mailboxes"
    name: Mapped[str] = mapped_column(String(120))
    address: Mapped[str] = mapped_column(String(254))
    imap_host: Mapped[str] = mapped_column(String(255))
    imap_port: Mapped[int] = mapped_column(Integer, default=993)
    imap_security: Mapped[str] = mapped_column(String(10), default="tls")
    imap_user: Mapped[str] = mapped_column(String(254))
    imap_password: Mapped[str] = mapped_column(String(255))
    folder: Mapped[str] = mapped_column(String(255), default="INBOX")
    smtp_host: Mapped[str] = mapped_column(String(255), default="")
    smtp_port: Mapped[int] = mapped_column(Integer, default=587)
    smtp_security: Mapped[str] = mapped_column(String(10), default="starttls")
    smtp_user: Mapped[str] = mapped_column(String(254), default="")
    smtp_password: Mapped[str] = mapped_column(String(255), default="")
    # never change mail on the server unless configured to
    mark_seen: Mapped[bool] = mapped_column(Boolean, default=False)
    delete_after_import: Mapped[bool] = mapped_column(Boolean, default=False)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    # checkpoint: resume exactly here after a restart
    uidvalidity: Mapped[int | None] = mapped_column(BigId)
    last_uid: Mapped[int] = mapped_column(BigId, default=0)
    last_poll_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    last_error_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)


class EmailReceipt(Base, OrgScoped):
    """(mailbox, UIDVALIDITY, UID) already ingested; with Message-ID, invariant 2 for mail."""

    __tablename__ = "email_receipts"
    __table_args__ = (UniqueConstraint("mailbox_id", "uidvalidity", "uid"),)
    mailbox_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("mailboxes.id", ondelete="CASCADE")
    )
    uidvalidity: Mapped[int] = mapped_column(BigId)
    uid: Mapped[int] = mapped_column(BigId)
    message_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("messages.id", ondelete="SET NULL")
    )


class ChannelAccount(Base, OrgScoped):
    """A WhatsApp Business number or Messenger page connected to the organisation."""

    __tablename__ = "channel_accounts"
    __table_args__ = (UniqueConstraint("kind", "external_account_id"),)
    kind: Mapped[str] = mapped_column(String(20))
    # WhatsApp phone_number_id or Messenger page id: how a webhook finds its organisation
    external_account_id: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(120))
    access_token: Mapped[str] = mapped_column(Text)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    # WhatsApp: the approved template sent outside the 24-hour window; its body has one
    # parameter, the portal link, and no client details (invariant 6)
    notice_template: Mapped[str] = mapped_column(String(512), default="")
    notice_language: Mapped[str] = mapped_column(String(15), default="nl")


class QuarantinedItem(Base, OrgScoped):
    """An inbound item that could not be parsed, kept byte for byte with the reason."""

    __tablename__ = "quarantine"
    source: Mapped[str] = mapped_column(String(20))
    mailbox_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("mailboxes.id", ondelete="SET NULL")
    )
    # e.g. "uidvalidity/uid" or a webhook delivery id
    external_ref: Mapped[str] = mapped_column(String(255), default="")
    raw: Mapped[bytes] = mapped_column(LargeBinary)
    # the same bad mail fetched again (a rescan) is recognised and not kept twice
    raw_sha256: Mapped[str] = mapped_column(String(64), default="", index=True)
    reason: Mapped[str] = mapped_column(Text)
    retries: Mapped[int] = mapped_column(Integer, default=0)
    resolved_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class WebhookDelivery(Base, IdPk):
    """A signed webhook POST from Meta, kept byte for byte until a worker has taken it in.

    Stored before the 200 goes back, so nothing Meta delivered is lost when the worker or
    Redis is down; the sweep finds rows still unprocessed. The organisation is learned
    while processing (from the WhatsApp number or Messenger page the payload names).
    """

    __tablename__ = "webhook_deliveries"
    __table_args__ = (Index("ix_webhook_deliveries_pending", "processed_at", "received_at"),)
    organisation_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("organisations.id", ondelete="SET NULL"), index=True
    )
    # whatsapp or messenger: which endpoint received it
    source: Mapped[str] = mapped_column(String(20))
    raw: Mapped[bytes] = mapped_column(LargeBinary)
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    processed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # why processing failed, or what was skipped (unknown account, unknown message id)
    error: Mapped[str | None] = mapped_column(Text)
