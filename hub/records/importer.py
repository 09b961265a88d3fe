"""``hub import-clients FILE.csv``: client records and contacts from an older system.

The format (one row per client) is described in ``docs/import-clients.md``. The rule:

- every row is checked first, with the same code as the JSON API (``hub.records``);
- a row that duplicates a client (same number, or same name and date of birth) in the
  database or on an earlier line is reported and skipped, never imported twice;
- when any row has an error, nothing at all is imported (exit code 1): fix the file and
  run it again. Otherwise all other rows are imported in one transaction (exit code 0);
- a problem with the file itself (missing column, unknown organisation) is exit code 2;
- ``--dry-run`` does all the checks and prints the same report, and writes nothing.

Each imported client gets an audit record (NEN 7513) in the same transaction.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from tqdm import tqdm

from hub.db.engine import SessionFactory, transaction
from hub.db.models import Team
from hub.errors import HubError, InvalidInput
from hub.records.clients import add_client, ensure_team, find_team
from hub.records.csvfile import DUTCH, Row, Table, read_table
from hub.records.db import command_database, find_organisation
from hub.records.duplicates import Duplicate, DuplicateIndex
from hub.records.normalise import fold
from hub.records.validation import ClientData, parse_client
from hub.security.audit import Event, Line, record_many
from hub.security.principal import system_principal
from hub.settings import Settings

EXIT_OK, EXIT_BAD_ROWS, EXIT_BAD_FILE = 0, 1, 2
T = TypeVar("T")


@dataclasses.dataclass
class ImportReport:
    source: str
    encoding: str
    delimiter: str
    rows: int
    dry_run: bool
    ignored_columns: list[str]
    errors: list[tuple[int, str]] = dataclasses.field(default_factory=list)
    duplicates: list[tuple[int, str, Duplicate]] = dataclasses.field(default_factory=list)
    to_import: list[tuple[int, str]] = dataclasses.field(default_factory=list)
    new_teams: list[str] = dataclasses.field(default_factory=list)
    imported: int = 0

    @property
    def exit_code(self) -> int:
        return EXIT_BAD_ROWS if self.errors else EXIT_OK

    def lines(self) -> list[str]:
        delimiter = "TAB" if self.delimiter == "\t" else self.delimiter
        out = [f"Bestand: {self.source} (tekenset {self.encoding}, scheidingsteken "
               f"'{delimiter}', {self.rows} rijen)"]
        if self.ignored_columns:
            out.append(f"Genegeerde kolommen: {', '.join(self.ignored_columns)}")
        out += _section("Fouten", [f"regel {line}: {text}" for line, text in self.errors])
        out += _section("Dubbel, niet geïmporteerd", [
            f"regel {line} ({number}): {dup.describe()}" for line, number, dup in self.duplicates])
        if self.new_teams:
            verb = "Zou nieuwe teams aanmaken" if self.dry_run else "Nieuwe teams"
            out.append(f"{verb}: {', '.join(self.new_teams)}")
        out.append(self._summary())
        return out

    def _summary(self) -> str:
        skipped = f"{len(self.duplicates)} dubbel overgeslagen"
        if self.errors:
            return (f"Niets geïmporteerd: {len(self.errors)} regel(s) met fouten; "
                    f"verbeter het bestand en probeer opnieuw ({skipped}).")
        if self.dry_run:
            return (f"Proefdraai (--dry-run), er is niets veranderd: {len(self.to_import)} "
                    f"cliënt(en) zouden worden geïmporteerd, {skipped}.")
        return f"Klaar: {self.imported} cliënt(en) geïmporteerd, {skipped}."


def _section(title: str, items: list[str]) -> list[str]:
    return [f"{title} ({len(items)}):", *(f"  {item}" for item in items)] if items else []


def _bar(items: Iterable[T], label: str, total: int, show: bool) -> Iterable[T]:
    return tqdm(items, desc=label, total=total, unit=" rij", file=sys.stderr,
                disable=not show, leave=False)


def row_to_raw(row: Row) -> tuple[dict[str, Any], dict[str, str]]:
    """(input for ``parse_client``, its field names -> the CSV field they came from)."""
    v = row.values
    family = v.get("family_name", "").strip()
    if family and v.get("name_prefix", "").strip():
        family = f"{v['name_prefix'].strip()} {family}"
    raw: dict[str, Any] = {k: v[k] for k in ("client_number", "given_name", "date_of_birth",
                                           "team", "status", "notes") if k in v}
    raw["family_name"] = family
    origin = {k: k for k in raw}
    contacts: list[dict[str, str]] = []
    if v.get("email", "").strip() or v.get("phone", "").strip():
        origin |= {"contacts.0.email": "email", "contacts.0.phone": "phone"}
        contacts.append({"relation": "self", "email": v.get("email", ""),
                         "phone": v.get("phone", "")})
    other = {f: v.get(f"contact_{f}", "") for f in ("name", "relation", "email", "phone")}
    if any(value.strip() for value in other.values()):
        n = len(contacts)
        origin |= {f"contacts.{n}.{f}": f"contact_{f}" for f in other}
        contacts.append(other | {"relation": other["relation"] or "overig"})
    raw["contacts"] = contacts
    return raw, origin


def parse_row(row: Row, columns: dict[str, str]) -> ClientData | list[str]:
    """The client of one row, or what is wrong with it (one text per problem)."""
    if "_extra" in row.values:
        return [f"te veel velden ({row.values['_extra']})"]
    raw, origin = row_to_raw(row)
    try:
        return parse_client(raw)
    except InvalidInput as exc:
        problems: dict[str, str] = exc.fields["fields"]
    return [f"{_column(origin.get(key, key), columns)}: {text}" for key, text in problems.items()]


def _column(field: str, columns: dict[str, str]) -> str:
    return columns.get(field) or DUTCH.get(field, field)


def check_rows(table: Table, report: ImportReport, progress: bool) -> list[tuple[int, ClientData]]:
    parsed = []
    for row in _bar(table.rows, "Controleren", len(table.rows), progress):
        result = parse_row(row, table.columns)
        if isinstance(result, ClientData):
            parsed.append((row.line, result))
        else:
            report.errors += [(row.line, text) for text in result]
    return parsed


def classify(parsed: list[tuple[int, ClientData]], index: DuplicateIndex,
             report: ImportReport) -> list[tuple[int, ClientData]]:
    """Drop (and report) duplicates of the database and of earlier lines."""
    fresh = []
    for line, data in parsed:
        duplicate = index.find(data)
        if duplicate is None:
            index.add(data, line)
            fresh.append((line, data))
        else:
            report.duplicates.append((line, data.client_number, duplicate))
    return fresh


async def missing_teams(session: AsyncSession, org_id: int,
                        fresh: list[tuple[int, ClientData]]) -> list[str]:
    names: dict[str, str] = {}
    for _, data in fresh:
        if data.team:
            names.setdefault(fold(data.team), data.team)
    return [name for name in names.values() if await find_team(session, org_id, name) is None]


async def write_clients(session: AsyncSession, org_id: int, fresh: list[tuple[int, ClientData]],
                        source: str, progress: bool) -> None:
    who = system_principal(org_id, f"import-clients {source}")
    teams: dict[str, Team] = {}
    lines = []
    for _, data in _bar(fresh, "Importeren", len(fresh), progress):
        team = None
        if data.team:
            key = fold(data.team)
            team = teams.get(key) or await ensure_team(session, org_id, data.team)
            teams[key] = team
        client = await add_client(session, org_id, data, team)
        lines.append(Line(Event.CREATE, client_id=client.id, object_ref=f"client:{client.id}",
                          detail=f"import uit {source}"))
    # in the same transaction, chained at once: one lock and one INSERT, not one per client
    await record_many(session, who, lines)


async def import_clients(sessions: SessionFactory, org_slug: str, table: Table, *,
                         source: str, dry_run: bool = False, progress: bool = False
                         ) -> ImportReport:
    report = ImportReport(source, table.encoding, table.delimiter, len(table.rows), dry_run,
                          table.ignored)
    parsed = check_rows(table, report, progress)
    async with transaction(sessions) as session:
        org = await find_organisation(session, org_slug)
        fresh = classify(parsed, await DuplicateIndex.load(session, org.id), report)
        report.to_import = [(line, data.client_number) for line, data in fresh]
        report.new_teams = await missing_teams(session, org.id, fresh)
        if report.errors or dry_run:
            return report
        await write_clients(session, org.id, fresh, source, progress)
    report.imported = len(fresh)
    return report


async def run_import_command(settings: Settings, path: Path, *, org_slug: str,
                             dry_run: bool = False, encoding: str | None = None) -> int:
    """The CLI: prints the report on stdout, progress and file errors on stderr."""
    try:
        table = read_table(path, encoding)
        async with command_database(settings) as sessions:
            report = await import_clients(sessions, org_slug, table, source=path.name,
                                          dry_run=dry_run, progress=True)
    except HubError as exc:
        print(f"fout: {exc.message}", file=sys.stderr)
        return EXIT_BAD_FILE
    except IntegrityError:
        print("fout: de database veranderde tijdens het importeren; er is niets "
              "geïmporteerd, probeer het opnieuw", file=sys.stderr)
        return EXIT_BAD_FILE
    print("\n".join(report.lines()))
    return report.exit_code
