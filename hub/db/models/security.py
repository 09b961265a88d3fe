"""Sessions, one-time links (invitations, resets) and the NEN 7513 audit log."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from hub.db.base import Base, BigId, IdPk, OrgScoped, UTCDateTime, utcnow


class UserSession(Base, OrgScoped):
    """Server side of a signed session cookie: revocable, with idle and absolute expiry."""

    __tablename__ = "user_sessions"
    # random id carried (signed) in the cookie
    key: Mapped[str] = mapped_column(String(64), unique=True)
    staff_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("staff.id", ondelete="CASCADE"), index=True
    )
    portal_user_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("portal_users.id", ondelete="CASCADE"), index=True
    )
    # password checked but second factor still to come
    second_factor_done: Mapped[bool] = mapped_column(default=False)
    csrf_token: Mapped[str] = mapped_column(String(64))
    last_seen_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    ip: Mapped[str] = mapped_column(String(64), default="")
    user_agent: Mapped[str] = mapped_column(String(300), default="")


class OneTimeLink(Base, OrgScoped):
    """Invitation or password-reset link; only the token's hash is stored."""

    __tablename__ = "one_time_links"
    purpose: Mapped[str] = mapped_column(String(20))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    staff_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("staff.id", ondelete="CASCADE"))
    portal_user_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("portal_users.id", ondelete="CASCADE")
    )
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class AuditRecord(Base, IdPk):
    """One NEN 7513 log line. Append-only; each record chains the previous one's hash."""

    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_org_client_at", "organisation_id", "client_id", "at"),
        Index("ix_audit_org_user_at", "organisation_id", "user_id", "at"),
    )
    organisation_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("organisations.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    # read, search, create, change, export, emergency_access, login, ...
    event: Mapped[str] = mapped_column(String(40))
    # staff, portal, api, system
    user_type: Mapped[str] = mapped_column(String(10))
    user_id: Mapped[int | None] = mapped_column(BigId)
    user_name: Mapped[str] = mapped_column(String(200), default="")
    role: Mapped[str] = mapped_column(String(30), default="")
    # on whose behalf (a representative acting for a client, an admin for a colleague)
    on_behalf_of: Mapped[str] = mapped_column(String(200), default="")
    client_id: Mapped[int | None] = mapped_column(BigId)
    # "conversation:12", "message:40", "client:3"
    object_ref: Mapped[str] = mapped_column(String(120), default="")
    access_point: Mapped[str] = mapped_column(String(64), default="")
    user_agent: Mapped[str] = mapped_column(String(300), default="")
    outcome: Mapped[str] = mapped_column(String(20), default="success")
    detail: Mapped[str] = mapped_column(Text, default="")
    prev_hash: Mapped[str] = mapped_column(String(64), default="")
    hash: Mapped[str] = mapped_column(String(64), default="")


class EmergencyAccess(Base, OrgScoped):
    """"Break the glass": an admin's time-limited access to one client, with a reason."""

    __tablename__ = "emergency_access"
    __table_args__ = (Index("ix_emergency_staff_client", "staff_id", "client_id"),)
    staff_id: Mapped[int] = mapped_column(BigId, ForeignKey("staff.id", ondelete="CASCADE"))
    client_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("clients.id", ondelete="CASCADE"), index=True
    )
    reason: Mapped[str] = mapped_column(Text)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    # the audit line that recorded it, so the privacy officer can follow it up
    audit_record_id: Mapped[int | None] = mapped_column(BigId)
