from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import func, select

from hub.db.models import CareRelationship, Client, Organisation
from hub.errors import DuplicateClient
from hub.records import clients as records
from hub.records.validation import parse_client
from hub.resources import Resources
from tests.factories import make_client, make_staff, make_team


async def test_a_number_taken_between_check_and_insert_is_still_a_duplicate(
        hub: Resources, org: Organisation, monkeypatch: pytest.MonkeyPatch) -> None:
    async with hub.sessions() as session, session.begin():
        await make_client(session, org, client_number="C7")
    real_check = records.find_duplicate
    calls = []

    async def blind_first_time(*args: Any, **kwargs: Any) -> Any:
        # as if a concurrent request inserted C7 right after this request checked
        calls.append(args)
        return None if len(calls) == 1 else await real_check(*args, **kwargs)

    monkeypatch.setattr(records, "find_duplicate", blind_first_time)
    data = parse_client({"client_number": "C7", "given_name": "Wim", "family_name": "Kok"})
    async with hub.sessions() as session, session.begin():
        with pytest.raises(DuplicateClient) as caught:
            await records.create_client(session, org.id, data)
        # the savepoint was rolled back; the transaction itself is still usable
        assert await session.scalar(select(func.count()).select_from(Client)) == 1
    assert caught.value.fields == {"reason": "client_number", "client_number": "C7"}


async def test_moving_team_ends_the_old_team_relationship_and_keeps_the_caseload(
        hub: Resources, org: Organisation) -> None:
    async with hub.sessions() as session, session.begin():
        north = await make_team(session, org, name="Noord")
        carer = await make_staff(session, org, team=north)
        client = await make_client(session, org, team=north, caseload_of=carer)
        changed = await records.change_client(session, client, {"team": "Zuid"})
        assert changed == ["team"]
        changed = await records.change_client(session, client, {"team": None})
        assert changed == ["team"] and client.team_id is None
    async with hub.sessions() as session:
        rows = list(await session.scalars(select(CareRelationship).order_by(CareRelationship.id)))
    yesterday = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)
    team_rows = [r for r in rows if r.team_id is not None]
    assert len(team_rows) == 2 and all(r.ends_on == yesterday for r in team_rows)
    assert [(r.staff_id, r.ends_on) for r in rows if r.team_id is None] == [(carer.id, None)]
