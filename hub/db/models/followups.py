"""Automatic follow-ups: rules, and the concrete follow-ups they schedule."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from hub.db.base import Base, BigId, OrgScoped, UTCDateTime


class FollowUpTarget(enum.StrEnum):
    CLIENT = "client"  # stay in touch with a client
    VOLUNTEER = "volunteer"
    UNANSWERED = "unanswered"  # remind staff of an unanswered message


class FollowUpRule(Base, OrgScoped):
    __tablename__ = "followup_rules"
    name: Mapped[str] = mapped_column(String(120))
    target: Mapped[str] = mapped_column(String(20))
    # after how long without contact (or without answer) the follow-up is due
    interval_hours: Mapped[int] = mapped_column(Integer)
    channel: Mapped[str] = mapped_column(String(20), default="portal")
    template: Mapped[str] = mapped_column(Text, default="")
    team_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("teams.id", ondelete="CASCADE"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class ScheduledFollowUp(Base, OrgScoped):
    __tablename__ = "scheduled_followups"
    __table_args__ = (UniqueConstraint("dedupe_key"),)
    rule_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("followup_rules.id", ondelete="SET NULL")
    )
    client_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("clients.id", ondelete="CASCADE"), index=True
    )
    conversation_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("conversations.id", ondelete="CASCADE")
    )
    staff_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("staff.id", ondelete="SET NULL"))
    due_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)
    status: Mapped[str] = mapped_column(String(20), default="planned")
    done_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # rule + subject + period: a re-run of the scheduler never plans one twice
    dedupe_key: Mapped[str] = mapped_column(String(160))
