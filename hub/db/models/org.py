"""Organisations (tenants), staff, teams and API tokens."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from hub.db.base import Base, BigId, IdPk, OrgScoped, Timestamped, UTCDateTime


class Role(enum.StrEnum):
    ADMIN = "admin"
    COORDINATOR = "coordinator"
    STAFF = "staff"


class Organisation(Base, IdPk, Timestamped):
    __tablename__ = "organisations"
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    # appended to outgoing email replies
    signature: Mapped[str] = mapped_column(Text, default="")
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class Team(Base, OrgScoped):
    __tablename__ = "teams"
    __table_args__ = (UniqueConstraint("organisation_id", "name"),)
    name: Mapped[str] = mapped_column(String(120))


class Staff(Base, OrgScoped):
    __tablename__ = "staff"
    __table_args__ = (UniqueConstraint("organisation_id", "email"),)
    email: Mapped[str] = mapped_column(String(254))
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20), default=Role.STAFF.value)
    # the privacy officer reads the audit log (with a second factor)
    is_privacy_officer: Mapped[bool] = mapped_column(Boolean, default=False)
    phone: Mapped[str | None] = mapped_column(String(20))
    language: Mapped[str] = mapped_column(String(5), default="nl")
    # free-form qualification codes used to decide who may take a shift
    qualifications: Mapped[list[str]] = mapped_column(JSON, default=list)
    password_hash: Mapped[str | None] = mapped_column(String(255))
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    # last accepted TOTP time step, so a code cannot be replayed
    totp_last_step: Mapped[int | None] = mapped_column(Integer)
    recovery_codes: Mapped[list[str]] = mapped_column(JSON, default=list)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    last_login_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class TeamMembership(Base, OrgScoped):
    __tablename__ = "team_memberships"
    __table_args__ = (UniqueConstraint("team_id", "staff_id"),)
    team_id: Mapped[int] = mapped_column(BigId, ForeignKey("teams.id", ondelete="CASCADE"))
    staff_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("staff.id", ondelete="CASCADE"), index=True
    )
    # a coordinator of this team sees all of the team's clients
    is_coordinator: Mapped[bool] = mapped_column(Boolean, default=False)


class ApiToken(Base, OrgScoped):
    """Bearer token for the JSON API (an ECD syncing client records). Only a hash is kept."""

    __tablename__ = "api_tokens"
    name: Mapped[str] = mapped_column(String(120))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_by_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("staff.id"))
    last_used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
