"""Likely duplicates: the same client number, or the same name and date of birth.

Names are compared folded (case, accents and spacing ignored), so 'Ëlla  de Vries' and
'ella de vries' born on the same day are one person. Without a date of birth only the
number counts: a shared name alone is too common to call a duplicate.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.db.models import Client
from hub.errors import DuplicateClient
from hub.records.normalise import fold
from hub.records.validation import ClientData

NameKey = tuple[str, str, dt.date]

BY_NUMBER = "client_number"
BY_NAME = "name_and_date_of_birth"


@dataclasses.dataclass(frozen=True)
class Duplicate:
    reason: str  # BY_NUMBER or BY_NAME
    client_number: str  # the number of the record it duplicates
    line: int | None = None  # set when that record is an earlier line of the same file

    def describe(self) -> str:
        where = f"regel {self.line}" if self.line else "de database"
        if self.reason == BY_NUMBER:
            return f"cliëntnummer {self.client_number} staat al in {where}"
        return (f"zelfde naam en geboortedatum als cliënt {self.client_number} "
                f"in {where}")

    def error(self) -> DuplicateClient:
        return DuplicateClient(self.describe(), reason=self.reason,
                               client_number=self.client_number)


def name_key(given_name: str, family_name: str, date_of_birth: dt.date | None
             ) -> NameKey | None:
    if date_of_birth is None:
        return None
    return fold(given_name), fold(family_name), date_of_birth


@dataclasses.dataclass(frozen=True)
class _Seen:
    client_number: str
    line: int | None


class DuplicateIndex:
    """All clients of one organisation in memory, plus those added while importing."""

    def __init__(self) -> None:
        self._numbers: dict[str, _Seen] = {}
        self._names: dict[NameKey, _Seen] = {}

    @classmethod
    async def load(cls, session: AsyncSession, organisation_id: int) -> DuplicateIndex:
        index = cls()
        rows = await session.execute(
            select(Client.client_number, Client.given_name, Client.family_name,
                   Client.date_of_birth).where(Client.organisation_id == organisation_id))
        for number, given, family, born in rows:
            index._remember(number, name_key(given, family, born), None)
        return index

    def find(self, data: ClientData) -> Duplicate | None:
        if (seen := self._numbers.get(data.client_number)) is not None:
            return Duplicate(BY_NUMBER, seen.client_number, seen.line)
        key = name_key(data.given_name, data.family_name, data.date_of_birth)
        if key is not None and (seen := self._names.get(key)) is not None:
            return Duplicate(BY_NAME, seen.client_number, seen.line)
        return None

    def add(self, data: ClientData, line: int | None = None) -> None:
        key = name_key(data.given_name, data.family_name, data.date_of_birth)
        self._remember(data.client_number, key, line)

    def _remember(self, number: str, key: NameKey | None, line: int | None) -> None:
        seen = _Seen(number, line)
        self._numbers.setdefault(number, seen)
        if key is not None:
            self._names.setdefault(key, seen)


async def find_duplicate(session: AsyncSession, organisation_id: int, client_number: str,
                         key: NameKey | None, *, exclude_id: int | None = None
                         ) -> Duplicate | None:
    """The same check as ``DuplicateIndex`` against the database, for one record."""
    in_org = [Client.organisation_id == organisation_id]
    if exclude_id is not None:
        in_org.append(Client.id != exclude_id)
    if await session.scalar(select(Client.id).where(
            *in_org, Client.client_number == client_number)) is not None:
        return Duplicate(BY_NUMBER, client_number)
    if key is None:
        return None
    # few people share a birthday, so compare their folded names here rather than in SQL
    same_day = await session.execute(
        select(Client.client_number, Client.given_name, Client.family_name)
        .where(*in_org, Client.date_of_birth == key[2]))
    for number, given, family in same_day:
        if name_key(given, family, key[2]) == key:
            return Duplicate(BY_NAME, number)
    return None
