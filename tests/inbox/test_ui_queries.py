"""The inbox list: visibility, filters, unread counts and keyset paging."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from hub.db.engine import transaction
from hub.db.models import Client, Conversation, Organisation, Staff, Team
from hub.errors import InvalidInput
from hub.inbox import actions
from hub.inbox.queries import Cursor, InboxFilter, inbox_page, unread_counts
from hub.resources import Resources
from tests.factories import make_client, make_conversation, make_org, make_staff, make_team
from tests.helpers.inbox import inbound, principal_of

T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
ALL = InboxFilter(status="all")


@dataclasses.dataclass
class World:
    org: Organisation
    team: Team
    anna: Staff  # in the team
    bram: Staff  # own caseload only
    team_client: Client
    bram_client: Client


async def _world(db: AsyncSession) -> World:
    org = await make_org(db)
    team = await make_team(db, org)
    anna = await make_staff(db, org, team=team, name="Anna de Boer")
    bram = await make_staff(db, org, name="Bram Visser")
    team_client = await make_client(db, org, team=team, given_name="Henk")
    bram_client = await make_client(db, org, caseload_of=bram, given_name="Truus")
    return World(org, team, anna, bram, team_client, bram_client)


async def _conv(db: AsyncSession, world: World, minutes: int, **fields: Any) -> Conversation:
    return await make_conversation(db, world.org, last_message_at=T0 + dt.timedelta(
        minutes=minutes), **fields)


async def _ids(db: AsyncSession, staff: Staff, flt: InboxFilter) -> list[int]:
    page = await inbox_page(db, principal_of(staff), flt)
    return [row.conversation.id for row in page.rows]


async def test_staff_see_their_clients_and_unlinked_newest_first(hub: Resources) -> None:
    async with transaction(hub.sessions) as db:
        w = await _world(db)
        mail = await _conv(db, w, 1, client=w.team_client, channel="email")
        portal = await _conv(db, w, 3, client=w.team_client, channel="portal")
        unlinked = await _conv(db, w, 2, channel="whatsapp")
        hidden = await _conv(db, w, 4, client=w.bram_client)
        other_org = await make_org(db)
        foreign = await make_conversation(db, other_org, last_message_at=T0)
        assert await _ids(db, w.anna, ALL) == [portal.id, unlinked.id, mail.id]
        assert await _ids(db, w.bram, ALL) == [hidden.id, unlinked.id]
        assert foreign.id not in await _ids(db, w.bram, ALL)


async def test_each_filter_narrows_the_list(hub: Resources) -> None:
    async with transaction(hub.sessions) as db:
        w = await _world(db)
        mine = await _conv(db, w, 1, client=w.team_client, assignee_staff_id=w.anna.id)
        team = await _conv(db, w, 2, client=w.team_client, assignee_team_id=w.team.id,
                           channel="whatsapp")
        free = await _conv(db, w, 3, client=w.team_client, status="pending",
                           channel="portal")
        done = await _conv(db, w, 4, channel="messenger", status="resolved")
        anna = w.anna
        assert await _ids(db, anna, InboxFilter(scope="mine", status="all")) == [mine.id]
        assert await _ids(db, anna, InboxFilter(scope="team", status="all")) == [team.id]
        assert await _ids(db, anna, InboxFilter(scope="unassigned", status="all")) == [
            done.id, free.id]
        assert await _ids(db, anna, InboxFilter(status="pending")) == [free.id]
        assert await _ids(db, anna, InboxFilter(status="resolved")) == [done.id]
        assert await _ids(db, anna, InboxFilter()) == [team.id, mine.id]  # open only
        assert await _ids(db, anna, InboxFilter(status="all", channel="whatsapp")) == [team.id]
        assert await _ids(db, anna, InboxFilter(status="all", client_id=w.team_client.id)) == [
            free.id, team.id, mine.id]


async def test_unread_counts_follow_the_read_marker(hub: Resources) -> None:
    async with transaction(hub.sessions) as db:
        w = await _world(db)
        conv = await _conv(db, w, 0, client=w.team_client)
        quiet = await _conv(db, w, 0, client=w.team_client)
        await inbound(db, conv, "Kunt u morgen later komen?")
        second = await inbound(db, conv, "Om tien uur graag")
        anna = principal_of(w.anna)
        page = await inbox_page(db, anna, ALL)
        assert {r.conversation.id: r.unread for r in page.rows} == {conv.id: 2, quiet.id: 0}
        assert await _ids(db, w.anna, dataclasses.replace(ALL, unread=True)) == [conv.id]
        assert (await unread_counts(db, anna))["all"] == 1
        await actions.mark_read(db, anna, conv.id, second.seq)
        await actions.mark_read(db, anna, quiet.id, 0)  # several markers: each its own
        assert await _ids(db, w.anna, dataclasses.replace(ALL, unread=True)) == []
        assert (await unread_counts(db, anna))["all"] == 0
        await inbound(db, conv, "Of toch om elf uur")
        page = await inbox_page(db, anna, ALL)
        assert page.rows[0].conversation.id == conv.id and page.rows[0].unread == 1


async def test_keyset_paging_visits_every_row_once_in_order(hub: Resources) -> None:
    async with transaction(hub.sessions) as db:
        w = await _world(db)
        made = [await _conv(db, w, i // 3, client=w.team_client) for i in range(23)]
        expected = [c.id for c in sorted(made, key=lambda c: (c.last_message_at, c.id),
                                         reverse=True)]
        seen: list[int] = []
        after = None
        for _ in range(10):
            page = await inbox_page(db, principal_of(w.anna), ALL, after=after, limit=5)
            seen += [row.conversation.id for row in page.rows]
            after = page.next_cursor
            if after is None:
                break
        assert seen == expected


async def test_page_rows_carry_names(hub: Resources) -> None:
    async with transaction(hub.sessions) as db:
        w = await _world(db)
        await _conv(db, w, 0, client=w.team_client, assignee_staff_id=w.anna.id,
                    assignee_team_id=w.team.id)
        row = (await inbox_page(db, principal_of(w.anna), ALL)).rows[0]
        assert row.client_name == w.team_client.full_name
        assert (row.assignee_name, row.team_name) == ("Anna de Boer", w.team.name)


@pytest.mark.parametrize("params", [{"scope": "everything"}, {"status": "gone"},
                                    {"channel": "fax"}, {"client": "1 OR 1=1"}])
def test_unknown_filter_values_are_refused(params: dict[str, str]) -> None:
    with pytest.raises(InvalidInput):
        InboxFilter.from_params(params)


def test_filters_round_trip_through_query_parameters() -> None:
    flt = InboxFilter(scope="mine", status="snoozed", channel="email", client_id=7, unread=True)
    assert InboxFilter.from_params(flt.as_params()) == flt
    assert InboxFilter.from_params({}) == InboxFilter()


@pytest.mark.parametrize("token", ["", "!!", "bm90IGEgY3Vyc29y", "MjAyNi0wMS0wMXw1"])
def test_malformed_cursors_are_refused(token: str) -> None:
    with pytest.raises(InvalidInput):
        Cursor.decode(token or "x")


def test_cursor_round_trip() -> None:
    cursor = Cursor(T0, 42)
    assert Cursor.decode(cursor.encode()) == cursor
