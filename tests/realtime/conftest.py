"""Fixtures of the realtime tests: an organisation with a team, three colleagues and a
group room two of them are in."""

from __future__ import annotations

import dataclasses

import pytest

from hub.chat import rooms
from hub.db.engine import transaction
from hub.db.models import Organisation, Room, Staff, Team
from hub.resources import Resources
from hub.security.principal import Principal
from hub.settings import Settings
from tests.conftest import LiveServer
from tests.factories import make_org, make_staff, make_team


def principal(staff: Staff) -> Principal:
    return Principal("staff", staff.organisation_id, staff.id, staff.name, staff.role)


@dataclasses.dataclass
class Zorg:
    org: Organisation
    team: Team
    coordinator: Staff
    anouk: Staff
    bram: Staff
    room: Room


@pytest.fixture
async def zorg(hub: Resources) -> Zorg:
    async with transaction(hub.sessions) as db:
        org = await make_org(db)
        team = await make_team(db, org, name="Team Zuid")
        coordinator = await make_staff(db, org, team=team, coordinator_of_team=True,
                                       role="coordinator", name="Carla Smit")
        anouk = await make_staff(db, org, team=team, name="Anouk Visser")
        bram = await make_staff(db, org, name="Bram de Jong")
        room = await rooms.create_group_room(db, principal(coordinator), "Overdracht",
                                             {anouk.id})
    return Zorg(org, team, coordinator, anouk, bram, room)


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Small limits, so the tests reach them with little traffic."""
    return settings.with_changes(ws_max_frame_bytes=4096, ws_send_buffer_bytes=32 * 1024,
                                 ws_rate_limit=60)


@pytest.fixture
def live(live_server: LiveServer) -> LiveServer:
    """The app under uvicorn as ``hub web`` serves it, with this folder's small limits."""
    return live_server
