"""The invented people of the demo organisation "Zorggroep De Linde".

Fixed lists, so every run makes the same organisation and prints the same logins. All
names are made up; staff mail is at ``delinde.test``, clients and family at
``example.nl`` / ``.test``; phone numbers are valid Dutch numbers in E.164.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

from hub.db.models.clients import ClientStatus, Relation

ORG_NAME = "Zorggroep De Linde"
PASSWORD = "Demo-Zorg-2026"
TEAMS = ("Wijkteam Centrum", "Wijkteam Oost")
STAFF_DOMAIN = "delinde.test"


@dataclasses.dataclass(frozen=True)
class DemoStaff:
    name: str
    email: str
    role: str  # admin, coordinator, staff
    team: int | None  # index into TEAMS
    qualifications: tuple[str, ...] = ()
    privacy_officer: bool = False
    phone: str = ""


def _staff(name: str, local: str, role: str, team: int | None, quals: tuple[str, ...],
           phone_tail: int, privacy: bool = False) -> DemoStaff:
    return DemoStaff(name, f"{local}@{STAFF_DOMAIN}", role, team, quals, privacy,
                     f"+3161100{phone_tail:04d}")


STAFF = (
    _staff("Annelies Bakker", "annelies.bakker", "admin", None, (), 1),
    _staff("Joost van Leeuwen", "joost.vanleeuwen", "coordinator", 0, ("verpleegkundige",), 2),
    _staff("Fatima el Amrani", "fatima.elamrani", "coordinator", 1, ("verpleegkundige",), 3),
    _staff("Sanne de Wit", "sanne.dewit", "staff", 0, ("verzorgende-ig",), 4, privacy=True),
    _staff("Pieter Mulder", "pieter.mulder", "staff", 0, ("verzorgende-ig",), 5),
    _staff("Ilse Verbeek", "ilse.verbeek", "staff", 0, ("helpende",), 6),
    _staff("Daan Smits", "daan.smits", "staff", 0, ("verpleegkundige",), 7),
    _staff("Noor Hendriks", "noor.hendriks", "staff", 0, ("helpende",), 8),
    _staff("Kees Brouwer", "kees.brouwer", "staff", 1, ("verzorgende-ig",), 9),
    _staff("Lotte Kramer", "lotte.kramer", "staff", 1, ("verpleegkundige",), 10),
    _staff("Mohamed Yilmaz", "mohamed.yilmaz", "staff", 1, ("helpende",), 11),
    _staff("Eva Jacobs", "eva.jacobs", "staff", 1, ("verzorgende-ig",), 12),
)

_GIVEN = ("Johanna", "Hendrik", "Maria", "Cornelis", "Wilhelmina", "Gerrit", "Geertruida",
          "Jacobus", "Aaltje", "Willem", "Hendrika", "Pieter", "Elisabeth", "Jan", "Grietje",
          "Teunis", "Alida", "Dirk", "Neeltje", "Klaas", "Trijntje", "Bernard", "Femmigje",
          "Arie", "Jannetje", "Evert", "Berendina", "Marinus", "Dina", "Roelof")
_FAMILY = ("de Jong", "Visser", "van den Berg", "Dekker", "Vermeulen", "Bos", "Peters",
           "Hoekstra", "van Dam", "Prins", "Kuipers", "Veenstra", "Postma", "van Dijk",
           "Schouten", "Boer", "Vos", "Huisman", "Koster", "de Graaf", "Wouters", "Blom",
           "van Wijk", "Zwart", "Timmermans", "Groen", "Lammers", "Mol", "Wijnands", "Brink")
_CHILD_GIVEN = ("Ingrid", "Marco", "Petra", "Ruud", "Monique", "Erik", "Sandra", "Bas")


@dataclasses.dataclass(frozen=True)
class DemoContact:
    name: str
    relation: str
    email: str | None
    phone: str | None
    whatsapp: bool = False


@dataclasses.dataclass(frozen=True)
class DemoClient:
    number: str
    given_name: str
    family_name: str
    born: dt.date
    team: int
    status: str
    contacts: tuple[DemoContact, ...]

    @property
    def full_name(self) -> str:
        return f"{self.given_name} {self.family_name}"


def _mail_local(*parts: str) -> str:
    return ".".join(p.lower().replace(" ", "") for p in parts)


def _client(i: int) -> DemoClient:
    given, family = _GIVEN[i], _FAMILY[i]
    phone = f"+3161200{i + 1:04d}"
    contacts = [DemoContact(f"{given} {family}", Relation.SELF.value,
                            f"{_mail_local(given, family)}@example.nl", phone,
                            whatsapp=i % 3 == 0)]
    if i == 1:  # a daughter who is her father's legal representative (and uses the portal)
        contacts.append(DemoContact("Petra Visser", Relation.LEGAL_REPRESENTATIVE.value,
                                    "petra.visser@familie.test", "+31613000099",
                                    whatsapp=True))
    elif i % 4 == 1:  # a daughter or son who keeps in touch
        child = _CHILD_GIVEN[i % len(_CHILD_GIVEN)]
        contacts.append(DemoContact(f"{child} {family}", Relation.FAMILY.value,
                                    f"{_mail_local(child, family)}@familie.test",
                                    f"+3161300{i + 1:04d}", whatsapp=i % 8 == 1))
    if i % 7 == 1 and i != 1:  # a legal representative (mentor, curator) at an office
        contacts.append(DemoContact(f"Mr. R. Aydin (mentor van {given})",
                                    Relation.LEGAL_REPRESENTATIVE.value,
                                    f"mentorschap+{i + 1}@example.nl", "+31201234567"))
    status = ClientStatus.WAITING.value if i in (28, 29) else ClientStatus.ACTIVE.value
    return DemoClient(f"DL-{1001 + i}", given, family,
                      dt.date(1928 + i, (i % 12) + 1, (i * 7) % 28 + 1), i % 2, status,
                      tuple(contacts))


CLIENTS = tuple(_client(i) for i in range(30))


@dataclasses.dataclass(frozen=True)
class DemoPortalUser:
    name: str
    email: str
    client: int  # index into CLIENTS
    relation: str


PORTAL_USERS = (
    # the client herself
    DemoPortalUser(CLIENTS[0].full_name, CLIENTS[0].contacts[0].email or "", 0,
                   Relation.SELF.value),
    # a daughter, her father's legal representative: writes about him, not as him
    DemoPortalUser("Petra Visser", "petra.visser@familie.test", 1,
                   Relation.LEGAL_REPRESENTATIVE.value),
)
