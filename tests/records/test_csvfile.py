from __future__ import annotations

from pathlib import Path

import pytest

from hub.records.csvfile import ImportFileError, parse_table, read_table
from tests.records.conftest import CsvWriter


def test_header_variants_map_to_one_column() -> None:
    table = parse_table("Cliëntnummer,VOORNAAM,Achter-naam,Geb. datum,E-mailadres,Tel.nr,Kleur\n"
                        "C1,Jan,Bos,01-02-1940,jan@bos.test,0612345678,blauw\n", "utf-8")
    assert table.delimiter == ","
    assert table.columns == {"client_number": "Cliëntnummer", "given_name": "VOORNAAM",
                             "family_name": "Achter-naam", "date_of_birth": "Geb. datum",
                             "email": "E-mailadres", "phone": "Tel.nr"}
    assert table.ignored == ["Kleur"]
    assert table.rows[0].values["email"] == "jan@bos.test"


def test_a_missing_required_column_is_named() -> None:
    with pytest.raises(ImportFileError, match="verplichte kolom ontbreekt: geboortedatum"):
        parse_table("clientnummer;voornaam;achternaam\nC1;Jan;Bos\n", "utf-8")


def test_two_columns_for_one_field_are_refused() -> None:
    with pytest.raises(ImportFileError, match="betekenen allebei"):
        parse_table("clientnummer;voornaam;achternaam;geboortedatum;email;e-mail\n", "utf-8")


def test_line_numbers_count_physical_lines(write_csv: CsvWriter) -> None:
    path = write_csv('C1;Jan;;Bos;01-01-1940;;;;;;;;', '', 'C2;"Piet\nJan";;Bos;;;;;;;;;',
                     'C3;Kees;;Bos;;;;;;;;;')
    table = read_table(path)
    assert [(row.line, row.values["client_number"]) for row in table.rows] == [
        (2, "C1"), (4, "C2"), (6, "C3")]


@pytest.mark.parametrize("encoding", ["cp1252", "utf-8-sig", "utf-16", "utf-8"])
def test_encodings_are_detected(write_csv: CsvWriter, encoding: str) -> None:
    path = write_csv("C1;Zoë;;Brüggemann-Ćwik;01-01-1940;;;;;;;;"
                     if encoding != "cp1252" else "C1;Zoë;;Brüggemann;01-01-1940;;;;;;;;",
                     encoding=encoding)
    table = read_table(path)
    assert table.rows[0].values["given_name"] == "Zoë"
    assert table.rows[0].values["family_name"].startswith("Brüggemann")
    assert "client_number" in table.columns  # a BOM does not spoil the first header


def test_an_explicit_encoding_wins_and_a_wrong_one_is_reported(write_csv: CsvWriter) -> None:
    path = write_csv("C1;Zoë;;Bos;01-01-1940;;;;;;;;", encoding="cp1252")
    assert read_table(path, "latin-1").rows[0].values["given_name"] == "Zoë"
    with pytest.raises(ImportFileError, match="geen geldige utf-8"):
        read_table(path, "utf-8")
    with pytest.raises(ImportFileError, match="onbekende tekenset"):
        read_table(path, "klingon")


def test_unreadable_and_empty_files(tmp_path: Path) -> None:
    with pytest.raises(ImportFileError, match=r"kan .* niet lezen"):
        read_table(tmp_path / "nope.csv")
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(ImportFileError, match="leeg"):
        read_table(tmp_path / "empty.csv")
