"""The client record, its contacts, care relationships and portal accounts."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from hub.db.base import Base, BigId, OrgScoped, UTCDateTime


class ClientStatus(enum.StrEnum):
    ACTIVE = "active"
    WAITING = "waiting"
    ENDED = "ended"


class Relation(enum.StrEnum):
    SELF = "self"
    FAMILY = "family"
    LEGAL_REPRESENTATIVE = "legal_representative"
    OTHER = "other"


class Client(Base, OrgScoped):
    __tablename__ = "clients"
    __table_args__ = (
        UniqueConstraint("organisation_id", "client_number"),
        Index("ix_clients_org_name_dob", "organisation_id", "family_name", "date_of_birth"),
    )
    client_number: Mapped[str] = mapped_column(String(40))
    given_name: Mapped[str] = mapped_column(String(120))
    family_name: Mapped[str] = mapped_column(String(120))
    date_of_birth: Mapped[dt.date | None] = mapped_column(Date)
    team_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("teams.id"), index=True)
    status: Mapped[str] = mapped_column(String(20), default=ClientStatus.ACTIVE.value)
    notes: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    @property
    def full_name(self) -> str:
        return f"{self.given_name} {self.family_name}".strip()


class ClientContact(Base, OrgScoped):
    """A way to reach a client or someone writing about them (daughter, guardian...)."""

    __tablename__ = "client_contacts"
    client_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("clients.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200), default="")
    relation: Mapped[str] = mapped_column(String(30), default=Relation.SELF.value)
    email: Mapped[str | None] = mapped_column(String(254), index=True)
    # E.164, normalised with phonenumbers
    phone: Mapped[str | None] = mapped_column(String(20), index=True)
    whatsapp_id: Mapped[str | None] = mapped_column(String(32), index=True)
    messenger_psid: Mapped[str | None] = mapped_column(String(64), index=True)
    verified: Mapped[bool] = mapped_column(Boolean, default=False)


class CareRelationship(Base, OrgScoped):
    """Who may see a client: one staff member (caseload) or a whole team."""

    __tablename__ = "care_relationships"
    client_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("clients.id", ondelete="CASCADE"), index=True
    )
    staff_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("staff.id", ondelete="CASCADE"), index=True
    )
    team_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("teams.id", ondelete="CASCADE"), index=True
    )
    starts_on: Mapped[dt.date | None] = mapped_column(Date)
    ends_on: Mapped[dt.date | None] = mapped_column(Date)


class PortalUser(Base, OrgScoped):
    __tablename__ = "portal_users"
    __table_args__ = (UniqueConstraint("organisation_id", "email"),)
    email: Mapped[str] = mapped_column(String(254))
    name: Mapped[str] = mapped_column(String(200))
    language: Mapped[str] = mapped_column(String(5), default="nl")
    password_hash: Mapped[str | None] = mapped_column(String(255))
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    totp_last_step: Mapped[int | None] = mapped_column()
    # hashes of the one-time recovery codes of the (optional) second factor
    recovery_codes: Mapped[list[str]] = mapped_column(JSON, default=list)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    failed_logins: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    last_login_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class PortalLink(Base, OrgScoped):
    """A portal account may act for one or more clients, each with a relation."""

    __tablename__ = "portal_links"
    __table_args__ = (UniqueConstraint("portal_user_id", "client_id"),)
    portal_user_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("portal_users.id", ondelete="CASCADE"), index=True
    )
    client_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("clients.id", ondelete="CASCADE"), index=True
    )
    relation: Mapped[str] = mapped_column(String(30), default=Relation.SELF.value)
