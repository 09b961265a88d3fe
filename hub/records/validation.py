"""From raw fields (a JSON body, a CSV row) to checked ``ClientData`` / ``ContactData``.

Every problem is collected per field, so one answer names all of them: the API returns
them as ``details.fields`` of a 422, the importer prints them per line. Keys are the API's
field names; contact fields are ``contacts.N.field``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any

from hub.db.models.clients import ClientStatus, Relation
from hub.errors import InvalidInput
from hub.records.normalise import (
    FieldProblem,
    clean_text,
    normalise_email,
    normalise_phone,
    normalise_whatsapp_id,
    parse_birth_date,
    parse_client_number,
    parse_relation,
    parse_status,
)

NOTES_LIMIT = 10_000
MAX_CONTACTS = 20


@dataclasses.dataclass
class ContactData:
    name: str = ""
    relation: str = Relation.SELF.value
    email: str | None = None
    phone: str | None = None
    whatsapp_id: str | None = None


@dataclasses.dataclass
class ClientData:
    client_number: str
    given_name: str
    family_name: str
    date_of_birth: dt.date | None = None
    team: str | None = None
    status: str = ClientStatus.ACTIVE.value
    notes: str = ""
    contacts: list[ContactData] = dataclasses.field(default_factory=list)


Parser = Callable[[str], Any]


def _optional(parse: Parser) -> Parser:
    """Empty means 'not known' (None), not an error."""
    return lambda raw: parse(raw) if raw.strip() else None


CLIENT_FIELDS: dict[str, Parser] = {
    "client_number": parse_client_number,
    "given_name": lambda raw: clean_text(raw, limit=120, required=True),
    "family_name": lambda raw: clean_text(raw, limit=120, required=True),
    "date_of_birth": _optional(parse_birth_date),
    "team": _optional(lambda raw: clean_text(raw, limit=120)),
    "status": lambda raw: parse_status(raw) if raw.strip() else ClientStatus.ACTIVE.value,
    "notes": lambda raw: clean_text(raw, limit=NOTES_LIMIT),
}
CONTACT_FIELDS: dict[str, Parser] = {
    "name": lambda raw: clean_text(raw, limit=200),
    "relation": lambda raw: parse_relation(raw) if raw.strip() else Relation.SELF.value,
    "email": _optional(normalise_email),
    "phone": _optional(normalise_phone),
    "whatsapp_id": _optional(normalise_whatsapp_id),
}
REQUIRED_CLIENT_FIELDS = ("client_number", "given_name", "family_name")


class Problems(dict[str, str]):
    """Field name -> what is wrong with it."""

    def raise_if_any(self, message: str = "ongeldige invoer") -> None:
        if self:
            raise InvalidInput(message, fields=dict(self))


def clean_fields(raw: Mapping[str, Any], parsers: Mapping[str, Parser],
                 problems: Problems, prefix: str = "") -> dict[str, Any]:
    """Parse the known fields present in ``raw``; unknown or non-text fields are problems."""
    cleaned: dict[str, Any] = {}
    for name, value in raw.items():
        key = f"{prefix}{name}"
        if name not in parsers:
            problems[key] = "onbekend veld"
        elif value is not None and not isinstance(value, str):
            problems[key] = "moet tekst zijn"
        else:
            try:
                cleaned[name] = parsers[name](value or "")
            except FieldProblem as exc:
                problems[key] = str(exc)
    return cleaned


def parse_client(raw: Mapping[str, Any]) -> ClientData:
    """A complete client (to create), with its contacts."""
    problems = Problems()
    fields = clean_fields({k: v for k, v in raw.items() if k != "contacts"},
                          CLIENT_FIELDS, problems)
    for name in REQUIRED_CLIENT_FIELDS:
        if not fields.get(name) and name not in problems:
            problems[name] = "is verplicht"
    contacts = parse_contact_list(raw.get("contacts", []), problems)
    problems.raise_if_any()
    data = ClientData(**fields, contacts=contacts)
    for contact in data.contacts:
        if contact.relation == Relation.SELF and not contact.name:
            contact.name = f"{data.given_name} {data.family_name}"
    return data


def parse_client_changes(raw: Mapping[str, Any]) -> dict[str, Any]:
    """The fields a PATCH changes; required fields may be left out but not emptied."""
    problems = Problems()
    if "contacts" in raw:
        problems["contacts"] = "wijzig contactgegevens via /contacts"
    changes = clean_fields({k: v for k, v in raw.items() if k != "contacts"},
                           CLIENT_FIELDS, problems)
    for name in REQUIRED_CLIENT_FIELDS:
        if name in changes and not changes[name]:
            problems[name] = "mag niet leeg zijn"
    problems.raise_if_any()
    return changes


def parse_contact_list(raw: Any, problems: Problems) -> list[ContactData]:
    if not isinstance(raw, list):
        problems["contacts"] = "moet een lijst zijn"
        return []
    if len(raw) > MAX_CONTACTS:
        problems["contacts"] = f"hoogstens {MAX_CONTACTS} contacten"
        return []
    contacts = []
    for index, item in enumerate(raw):
        contact = _contact_into(item, problems, f"contacts.{index}.")
        if contact is not None:
            contacts.append(contact)
    return contacts


def parse_contact(raw: Any) -> ContactData:
    problems = Problems()
    contact = _contact_into(raw, problems, "")
    problems.raise_if_any()
    assert contact is not None
    return contact


def _contact_into(raw: Any, problems: Problems, prefix: str) -> ContactData | None:
    if not isinstance(raw, Mapping):
        problems[prefix.rstrip(".") or "body"] = "moet een object zijn"
        return None
    before = len(problems)
    contact = ContactData(**clean_fields(raw, CONTACT_FIELDS, problems, prefix))
    if len(problems) == before:  # a bad phone number is one problem, not also "no phone"
        check_contact(contact, problems, prefix)
    return contact if len(problems) == before else None


def check_contact(contact: ContactData, problems: Problems, prefix: str = "") -> None:
    """Rules over several fields: a way to reach them, a name for anyone but the client."""
    if not (contact.email or contact.phone or contact.whatsapp_id):
        problems.setdefault(f"{prefix}email", "e-mail, telefoon of WhatsApp is nodig")
    if contact.relation != Relation.SELF and not contact.name:
        problems.setdefault(f"{prefix}name", "is verplicht voor een contactpersoon")


def apply_contact_changes(contact: ContactData, raw: Any) -> ContactData:
    """``contact`` with the fields of a PATCH body applied, checked as a whole."""
    problems = Problems()
    if not isinstance(raw, Mapping):
        raise InvalidInput("ongeldige invoer", fields={"body": "moet een object zijn"})
    changes = clean_fields(raw, CONTACT_FIELDS, problems)
    problems.raise_if_any()
    merged = dataclasses.replace(contact, **changes)
    check_contact(merged, problems)
    problems.raise_if_any()
    return merged
