"""The demo's staff chat: a room per team and a direct conversation between colleagues,
stored through ``hub.chat`` like any chat (sequence numbers, membership checks), so the
chat pages show something real at first login, with unread messages."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncSession

from hub.chat import messages, rooms
from hub.db.models import Staff
from hub.records import demo_data as data
from hub.security.principal import Principal

if TYPE_CHECKING:
    from hub.records.demo import Seeded


def _email(local: str) -> str:
    return f"{local}@{data.STAFF_DOMAIN}"


# per team (index into data.TEAMS): who writes what, in order
TEAM_LINES: tuple[tuple[tuple[str, str], ...], ...] = (
    (
        ("joost.vanleeuwen", "Goedemorgen allemaal. Mevrouw Visser heeft vannacht onrustig "
                             "geslapen; wil de ochtenddienst letten op wat ze drinkt?"),
        ("sanne.dewit", "Doe ik, ik ben er om negen uur."),
        ("pieter.mulder", "De nieuwe steunkousen voor meneer De Jong liggen op kantoor."),
        ("joost.vanleeuwen", "Dank je. @Daan, kun jij ze vanmiddag meenemen?"),
    ),
    (
        ("fatima.elamrani", "Herinnering: donderdag om 14.00 uur teamoverleg in de "
                            "Lindezaal."),
        ("lotte.kramer", "Ik ben er. Zal ik de nieuwe werkwijze voor de medicatieronde "
                         "toelichten?"),
        ("kees.brouwer", "Graag, dan neem ik de vragen van de avonddienst mee."),
    ),
)
DIRECT = ("ilse.verbeek", "noor.hendriks", (
    ("ilse.verbeek", "Wil jij zaterdag met mij ruilen? Ik heb een bruiloft."),
    ("noor.hendriks", "Prima, dan neem ik jouw vroege dienst en jij mijn late op zondag."),
))


def _principal(staff: Staff) -> Principal:
    return Principal("staff", staff.organisation_id, staff.id, staff.name, staff.role)


async def seed_rooms(session: AsyncSession, seeded: Seeded) -> None:
    """The team rooms (made by each team's coordinator) and one direct conversation."""
    coordinators = {s.team: seeded.staff[s.email] for s in data.STAFF
                    if s.role == "coordinator"}
    for index, (team, lines) in enumerate(zip(seeded.teams, TEAM_LINES, strict=True)):
        room = await rooms.create_team_room(session, _principal(coordinators[index]), team.id)
        await _post(session, seeded, room.id, lines)
    first, other, lines = DIRECT
    room = await rooms.direct_room(session, _principal(seeded.staff[_email(first)]),
                                   seeded.staff[_email(other)].id)
    await _post(session, seeded, room.id, lines)


async def _post(session: AsyncSession, seeded: Seeded, room_id: int,
                lines: tuple[tuple[str, str], ...]) -> None:
    for number, (local, text) in enumerate(lines, 1):
        sender = seeded.staff[_email(local)]
        mentioned = [s.id for s in seeded.staff.values()
                     if f"@{s.name.split()[0]}" in text]
        await messages.post_message(session, _principal(sender), room_id, f"demo-{number}",
                                    text, mentioned)
