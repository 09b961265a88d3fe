from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select

from hub.db.base import utcnow
from hub.db.models import OneTimeLink, UserSession
from hub.resources import Resources
from tests.factories import make_org, make_staff
from workers.maintenance import purge_expired


async def test_purge_removes_only_dead_sessions_and_is_safe_to_rerun(hub: Resources) -> None:
    now = utcnow()
    async with hub.sessions.begin() as session:
        org = await make_org(session)
        staff = await make_staff(session, org)
        for key, expires, revoked in (("live", now + dt.timedelta(hours=1), None),
                                      ("old", now - dt.timedelta(minutes=1), None),
                                      ("gone", now + dt.timedelta(hours=1), now)):
            session.add(UserSession(organisation_id=org.id, key=key, staff_id=staff.id,
                                    csrf_token="x", expires_at=expires, revoked_at=revoked))
        session.add(OneTimeLink(organisation_id=org.id, purpose="invite", token_hash="a" * 64,
                                staff_id=staff.id, expires_at=now - dt.timedelta(days=31)))
    assert await purge_expired({"hub": hub}) == 3
    assert await purge_expired({"hub": hub}) == 0
    async with hub.sessions() as session:
        keys = (await session.scalars(select(UserSession.key))).all()
        links = await session.scalar(select(func.count()).select_from(OneTimeLink))
    assert keys == ["live"]
    assert links == 0
