"""The privacy officer's view of the audit log: filter, page, verify, export as CSV.

Only the privacy officer with a second factor gets here (``PRIVACY_OFFICER`` policy).
Looking at the log and exporting it are themselves audited. Emergency accesses of the
last 30 days are listed on top, with their reasons, so they are followed up.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response

from hub.db.base import utcnow
from hub.db.engine import transaction
from hub.db.models import AuditRecord, Client, EmergencyAccess, Staff
from hub.errors import InvalidInput
from hub.security import audit
from hub.security.guards import hub_of
from hub.security.policy import principal_of
from hub.security.principal import Principal
from hub.web.templates import render

PAGE_ROWS = 100
EXPORT_MAX_ROWS = 200_000
AMSTERDAM = ZoneInfo("Europe/Amsterdam")
CSV_COLUMNS = ("id", "at", "event", "user_type", "user_id", "user_name", "role",
               "on_behalf_of", "client_id", "object_ref", "access_point", "user_agent",
               "outcome", "detail", "prev_hash", "hash")


@dataclasses.dataclass(frozen=True)
class AuditFilter:
    client: str = ""
    user: str = ""
    since: dt.date | None = None
    until: dt.date | None = None
    event: str = ""
    before: int | None = None

    @classmethod
    def from_params(cls, params: Mapping[str, str]) -> AuditFilter:
        return cls(client=params.get("client", "").strip()[:40],
                   user=params.get("user", "").strip()[:40],
                   since=_date(params.get("from", "")), until=_date(params.get("to", "")),
                   event=params.get("event", "").strip()[:40],
                   before=_int(params.get("before", "")))

    def describe(self) -> str:
        parts = [f"{k}={v}" for k, v in (("client", self.client), ("user", self.user),
                 ("from", self.since), ("to", self.until), ("event", self.event)) if v]
        return "filter: " + (", ".join(parts) or "geen")


def _date(raw: str) -> dt.date | None:
    if not raw:
        return None
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        raise InvalidInput("Een datum schrijft u als JJJJ-MM-DD.", field="date") from None


def _int(raw: str) -> int | None:
    return int(raw) if raw.isdigit() else None


def _day_start(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), AMSTERDAM).astimezone(dt.UTC)


async def client_id_of(db: AsyncSession, who: Principal, text: str) -> int | None:
    """A client number (or, failing that, an id) in the organisation; -1 when unknown."""
    if not text:
        return None
    query = select(Client.id).where(Client.organisation_id == who.organisation_id)
    found = await db.scalar(query.where(Client.client_number == text))
    if found is None and text.isdigit():
        found = await db.scalar(query.where(Client.id == int(text)))
    return found if found is not None else -1


async def build_query(db: AsyncSession, who: Principal, f: AuditFilter) -> Select[Any]:
    query = select(AuditRecord).where(AuditRecord.organisation_id == who.organisation_id)
    client_id = await client_id_of(db, who, f.client)
    if client_id is not None:
        query = query.where(AuditRecord.client_id == client_id)
    if f.user:
        kind, _, raw = f.user.partition(":")
        query = query.where(AuditRecord.user_type == kind, AuditRecord.user_id == _int(raw))
    if f.since:
        query = query.where(AuditRecord.at >= _day_start(f.since))
    if f.until:
        query = query.where(AuditRecord.at < _day_start(f.until + dt.timedelta(days=1)))
    if f.event:
        query = query.where(AuditRecord.event == f.event)
    return query


async def audit_page(request: Request) -> Response:
    who = principal_of(request)
    f = AuditFilter.from_params(request.query_params)
    async with transaction(hub_of(request).sessions) as db:
        query = await build_query(db, who, f)
        if f.before:
            query = query.where(AuditRecord.id < f.before)
        rows = list(await db.scalars(query.order_by(AuditRecord.id.desc()).limit(PAGE_ROWS)))
        context = await _page_context(db, who)
        await audit.record(db, who, audit.Event.READ, object_ref="audit-log",
                           detail=f.describe())
    return render(request, "security/audit.html", {
        **context, "rows": rows, "filter": f, "query": _without_paging(request),
        "older": rows[-1].id if len(rows) == PAGE_ROWS else None})


def _without_paging(request: Request) -> str:
    return urlencode([(k, v) for k, v in request.query_params.multi_items() if k != "before"])


async def _page_context(db: AsyncSession, who: Principal) -> dict[str, Any]:
    staff = list(await db.scalars(select(Staff).where(
        Staff.organisation_id == who.organisation_id).order_by(Staff.name)))
    grants = await db.execute(select(EmergencyAccess, Staff.name, Client).join(
        Staff, Staff.id == EmergencyAccess.staff_id).join(
        Client, Client.id == EmergencyAccess.client_id).where(
        EmergencyAccess.organisation_id == who.organisation_id,
        EmergencyAccess.created_at > utcnow() - dt.timedelta(days=30),
    ).order_by(EmergencyAccess.id.desc()))
    broken = await audit.verify_chain(db, who.organisation_id)
    return {"staff": staff, "grants": [(g, n, c) for g, n, c in grants], "broken": broken,
            "events": [e.value for e in audit.Event]}


async def export_csv(request: Request) -> Response:
    who = principal_of(request)
    f = AuditFilter.from_params(request.query_params)
    async with transaction(hub_of(request).sessions) as db:
        query = await build_query(db, who, f)
        rows = list(await db.scalars(query.order_by(AuditRecord.id).limit(EXPORT_MAX_ROWS)))
        await audit.record(db, who, audit.Event.EXPORT, object_ref="audit-log",
                           detail=f"{f.describe()}; {len(rows)} regels als CSV")
    stamp = utcnow().strftime("%Y%m%d-%H%M")
    return Response(to_csv(rows), media_type="text/csv; charset=utf-8", headers={
        "content-disposition": f'attachment; filename="auditlog-{stamp}.csv"'})


def to_csv(rows: list[AuditRecord]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        writer.writerow([_cell(row, name) for name in CSV_COLUMNS])
    return buffer.getvalue()


def _cell(row: AuditRecord, name: str) -> str:
    value = getattr(row, name)
    if name == "at":
        return str(value.isoformat())
    text = "" if value is None else str(value)
    # a spreadsheet would run a cell starting with these as a formula (CSV injection)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
