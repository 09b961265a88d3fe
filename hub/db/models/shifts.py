"""Shifts, leave, sick-leave shift calls and the offers sent in waves."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from hub.db.base import Base, BigId, OrgScoped, UTCDateTime


class ShiftStatus(enum.StrEnum):
    PLANNED = "planned"
    OPEN = "open"  # its worker called in sick; a call is out
    FILLED = "filled"
    CANCELLED = "cancelled"


class CallStatus(enum.StrEnum):
    OPEN = "open"
    FILLED = "filled"
    UNFILLED = "unfilled"
    CANCELLED = "cancelled"


class OfferResponse(enum.StrEnum):
    ACCEPTED = "accepted"
    DECLINED = "declined"
    TOO_LATE = "too_late"


class Shift(Base, OrgScoped):
    __tablename__ = "shifts"
    team_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("teams.id"), index=True)
    staff_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("staff.id", ondelete="SET NULL"), index=True
    )
    starts_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)
    ends_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    required_qualification: Mapped[str | None] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(20), default=ShiftStatus.PLANNED.value)
    description: Mapped[str] = mapped_column(Text, default="")


class Leave(Base, OrgScoped):
    __tablename__ = "leave"
    staff_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("staff.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(20), default="sick")
    starts_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    reported_by_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("staff.id", ondelete="SET NULL")
    )


class ShiftCall(Base, OrgScoped):
    __tablename__ = "shift_calls"
    shift_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("shifts.id", ondelete="CASCADE"), index=True
    )
    created_by_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("staff.id", ondelete="SET NULL")
    )
    status: Mapped[str] = mapped_column(String(20), default=CallStatus.OPEN.value)
    wave: Mapped[int] = mapped_column(Integer, default=0)
    next_wave_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, index=True)
    filled_by_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("staff.id", ondelete="SET NULL")
    )
    filled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class ShiftOffer(Base, OrgScoped):
    __tablename__ = "shift_offers"
    __table_args__ = (UniqueConstraint("call_id", "staff_id"),)
    call_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("shift_calls.id", ondelete="CASCADE"), index=True
    )
    staff_id: Mapped[int] = mapped_column(BigId, ForeignKey("staff.id", ondelete="CASCADE"))
    wave: Mapped[int] = mapped_column(Integer)
    # for the accept link in the notification
    token: Mapped[str] = mapped_column(String(64), unique=True)
    sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    responded_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    response: Mapped[str | None] = mapped_column(String(20))
    told_filled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
