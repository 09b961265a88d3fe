from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from hub.db.models import AuditRecord, CareRelationship, Client, ClientContact, Organisation, Team
from hub.records.csvfile import read_table
from hub.records.importer import ImportReport, import_clients, run_import_command
from hub.resources import Resources
from hub.security.audit import verify_chain
from hub.settings import Settings
from tests.factories import make_client, make_team
from tests.records.conftest import CsvWriter, table_counts

GOOD = (
    "1001;Johanna;de;Jong;07-03-1941;Wijkteam Centrum;actief;J.deJong@Example.NL;06-12345678;"
    "Ingrid de Jong;dochter;ingrid@familie.test;06 2345 6789",
    "1002;Hendrik;;Visser;1936-11-02;wijkteam centrum;wachtlijst;;020-1234567;;;;",
    "1003;Maria;van den;Berg;12-12-1950;Wijkteam Oost;;;;Mr. A. Aydin;curator;"
    "mentor@example.nl;",
)


async def _import(hub: Resources, path: object, **options: object) -> ImportReport:
    table = read_table(path)  # type: ignore[arg-type]
    return await import_clients(hub.sessions, "linde", table, source="clienten.csv",
                                **options)  # type: ignore[arg-type]


async def _clients(hub: Resources) -> dict[str, Client]:
    async with hub.sessions() as session:
        return {c.client_number: c for c in await session.scalars(select(Client))}


async def test_a_clean_file_imports_clients_contacts_and_teams(
        hub: Resources, org: Organisation, write_csv: CsvWriter) -> None:
    report = await _import(hub, write_csv(*GOOD))
    assert (report.errors, report.duplicates, report.imported) == ([], [], 3)
    assert report.new_teams == ["Wijkteam Centrum", "Wijkteam Oost"]
    clients = await _clients(hub)
    assert clients["1001"].family_name == "de Jong"
    assert clients["1003"].family_name == "van den Berg"
    assert clients["1002"].date_of_birth == dt.date(1936, 11, 2)
    assert clients["1002"].status == "waiting"
    async with hub.sessions() as session:
        teams: dict[int | None, str] = {t.id: t.name for t in await session.scalars(select(Team))}
        contacts = list(await session.scalars(select(ClientContact).order_by(ClientContact.id)))
        relations = list(await session.scalars(select(CareRelationship)))
        audit = list(await session.scalars(select(AuditRecord)))
        assert await verify_chain(session, org.id) is None
    # both spellings of the team are one team
    assert teams[clients["1001"].team_id] == teams[clients["1002"].team_id] == "Wijkteam Centrum"
    assert [(c.relation, c.email, c.phone) for c in contacts] == [
        ("self", "J.deJong@example.nl", "+31612345678"),
        ("family", "ingrid@familie.test", "+31623456789"),
        ("self", None, "+31201234567"),
        ("legal_representative", "mentor@example.nl", None),
    ]
    assert sorted(r.client_id for r in relations if r.team_id) == sorted(
        c.id for c in clients.values())
    assert sorted(a.client_id or 0 for a in audit if a.event == "create") == sorted(
        c.id for c in clients.values())


async def test_duplicates_in_the_file_and_the_database_are_reported_not_imported(
        hub: Resources, org: Organisation, write_csv: CsvWriter) -> None:
    async with hub.sessions() as session, session.begin():
        await make_client(session, org, client_number="1001", given_name="Anna",
                          family_name="Smit", date_of_birth=dt.date(1945, 1, 1))
        await make_client(session, org, client_number="2000", given_name="Kees",
                          family_name="Prins", date_of_birth=dt.date(1938, 5, 4))
    path = write_csv(
        "1001;Johanna;;Jong;07-03-1941;;;;;;;;",        # line 2: number in the database
        "1010;KEES;;Prins;04-05-1938;;;;;;;;",          # line 3: name + birth date in the db
        "1011;Wim;;Kok;01-01-1950;;;;;;;;",             # line 4: new
        "1011;Willem;;Kok;02-02-1952;;;;;;;;",          # line 5: number of line 4
        "1012;Wím;;Kók;01-01-1950;;;;;;;;",             # line 6: name + date of line 4
        "1013;Wim;;Kok;;;;;;;;;",                       # line 7: no birth date: not a duplicate
    )
    report = await _import(hub, path)
    assert report.errors == []
    assert [(line, number, dup.reason, dup.client_number, dup.line)
            for line, number, dup in report.duplicates] == [
        (2, "1001", "client_number", "1001", None),
        (3, "1010", "name_and_date_of_birth", "2000", None),
        (5, "1011", "client_number", "1011", 4),
        (6, "1012", "name_and_date_of_birth", "1011", 4),
    ]
    assert report.imported == 2
    assert set(await _clients(hub)) == {"1001", "2000", "1011", "1013"}
    text = "\n".join(report.lines())
    assert "regel 5 (1011): cliëntnummer 1011 staat al in regel 4" in text
    assert "regel 3 (1010): zelfde naam en geboortedatum als cliënt 2000 in de database" in text
    assert "Klaar: 2 cliënt(en) geïmporteerd, 4 dubbel overgeslagen." in text
    # running the same file again imports nothing twice
    again = await _import(hub, path)
    assert again.imported == 0 and len(again.duplicates) == 6


async def test_bad_rows_stop_the_whole_import_and_are_reported_per_line(
        hub: Resources, org: Organisation, write_csv: CsvWriter) -> None:
    path = write_csv(
        GOOD[0],
        "1002;Hendrik;;Visser;31-02-1936;;;;06-123;;;;",
        "1003;Maria;;Berg;12-12-1950;;;maria@;;Piet;buurman;;",
        "1004;;;Bos;01-01-1940;;ooit;;;;;;",
        "1005;Kees;;Bos;01-01-1940;;;;;;;;;extra",
    )
    before = await table_counts(hub)
    report = await _import(hub, path)
    assert report.exit_code == 1
    assert report.errors == [
        (3, "geboortedatum: '31-02-1936' bestaat niet als datum"),
        (3, "telefoon: '06-123' is geen geldig telefoonnummer"),
        (4, "email: 'maria@' is geen geldig e-mailadres"),
        (4, "contact_email: e-mail, telefoon of WhatsApp is nodig"),
        (5, "voornaam: is verplicht"),
        (5, "status: onbekende status 'ooit'; kies uit: aangemeld, actief, active, "
            "afgesloten, beeindigd, ended, in zorg, inactief, uit zorg, wachtend, wachtlijst, "
            "waiting"),
        (6, "te veel velden (14 velden, de kopregel heeft er 13)"),
    ]
    assert report.imported == 0
    assert await table_counts(hub) == before
    assert report.lines()[-1].startswith("Niets geïmporteerd: 7 regel(s) met fouten")


async def test_dry_run_reports_and_changes_nothing(
        hub: Resources, org: Organisation, write_csv: CsvWriter) -> None:
    async with hub.sessions() as session, session.begin():
        await make_team(session, org, name="Wijkteam Oost")
        await make_client(session, org, client_number="1002")
    before = await table_counts(hub)
    report = await _import(hub, write_csv(*GOOD), dry_run=True)
    assert await table_counts(hub) == before
    assert report.to_import == [(2, "1001"), (4, "1003")]
    assert [line for line, _, _ in report.duplicates] == [3]
    assert report.new_teams == ["Wijkteam Centrum"]
    text = "\n".join(report.lines())
    assert "Zou nieuwe teams aanmaken: Wijkteam Centrum" in text
    assert text.endswith("Proefdraai (--dry-run), er is niets veranderd: 2 cliënt(en) "
                         "zouden worden geïmporteerd, 1 dubbel overgeslagen.")
    real = await _import(hub, write_csv(*GOOD))
    assert real.imported == 2


async def test_a_cp1252_export_imports_with_its_accents(
        hub: Resources, org: Organisation, write_csv: CsvWriter) -> None:
    path = write_csv("2001;Zoë;;Brüggemann;1-2-1944;Team Zuid;beëindigd;zoe@example.nl;;;;;",
                     encoding="cp1252")
    report = await _import(hub, path)
    assert (report.encoding, report.imported) == ("cp1252", 1)
    client = (await _clients(hub))["2001"]
    assert (client.given_name, client.family_name, client.status) == (
        "Zoë", "Brüggemann", "ended")


async def test_the_command_reports_file_problems_with_exit_code_2(
        hub: Resources, org: Organisation, settings: Settings, write_csv: CsvWriter,
        capsys: pytest.CaptureFixture[str]) -> None:
    path = write_csv("1001;Jan;Bos", header="clientnummer;voornaam;achternaam")
    assert await run_import_command(settings, path, org_slug="linde") == 2
    assert "fout: verplichte kolom ontbreekt: geboortedatum" in capsys.readouterr().err
    good = write_csv(*GOOD, name="goed.csv")
    assert await run_import_command(settings, good, org_slug="bestaat-niet") == 2
    assert "organisatie 'bestaat-niet' bestaat niet" in capsys.readouterr().err
    assert await _clients(hub) == {}
