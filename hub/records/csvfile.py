"""Reading a client export: encoding, delimiter, header names, rows with line numbers.

Older Windows systems write cp1252 and Dutch Excel separates with ';', so both are
detected: the text is read as UTF-8 (with or without BOM; UTF-16 when it has a BOM),
else as cp1252 (else latin-1, which reads any byte); the delimiter is whichever of
';', ',', TAB and '|' splits the header most. Headers are matched after folding case,
accents, spaces and punctuation, so 'Cliëntnummer', 'client_nr' and 'CLIENTNUMMER' are
one column.
"""

from __future__ import annotations

import codecs
import csv
import dataclasses
import io
from pathlib import Path

from hub.errors import InvalidInput
from hub.records.normalise import fold

# canonical field -> accepted header names (folded, without punctuation)
ALIASES: dict[str, tuple[str, ...]] = {
    "client_number": ("clientnummer", "clientnr", "clientno", "clientnumber", "clientid",
                      "dossiernummer", "dossiernr"),
    "given_name": ("voornaam", "roepnaam", "voornamen", "givenname", "firstname"),
    "name_prefix": ("tussenvoegsel", "tussenvoegsels", "voorvoegsel", "prefix"),
    "family_name": ("achternaam", "familienaam", "geslachtsnaam", "familyname", "lastname",
                    "surname"),
    "date_of_birth": ("geboortedatum", "gebdatum", "geboren", "dateofbirth", "birthdate",
                      "dob"),
    "team": ("team", "teamnaam", "wijkteam", "teamname"),
    "status": ("status", "zorgstatus"),
    "notes": ("opmerkingen", "opmerking", "notities", "notes"),
    "email": ("email", "emailadres", "mail"),
    "phone": ("telefoon", "telefoonnummer", "tel", "telnr", "mobiel", "mobielnummer",
              "phone", "gsm"),
    "contact_name": ("contactnaam", "contactpersoon", "contactname"),
    "contact_relation": ("contactrelatie", "relatie", "contactrelation"),
    "contact_email": ("contactemail", "contactemailadres", "contactmail"),
    "contact_phone": ("contacttelefoon", "contacttel", "contacttelefoonnummer",
                      "contactphone"),
}
REQUIRED = ("client_number", "given_name", "family_name", "date_of_birth")
# the name a column is documented under, for messages about a missing column
DUTCH = {field: names[0] for field, names in ALIASES.items()} | {"contact_name": "contact_naam",
         "contact_relation": "contact_relatie", "contact_email": "contact_email",
         "contact_phone": "contact_telefoon"}
_BY_ALIAS = {alias: field for field, names in ALIASES.items() for alias in names}
_DELIMITERS = ";,\t|"
MAX_FILE_BYTES = 50 * 1024 * 1024


class ImportFileError(InvalidInput):
    """The file as a whole cannot be imported (missing column, unreadable encoding...)."""

    code = "import_file_invalid"


@dataclasses.dataclass
class Row:
    line: int  # line in the file where the record starts (the header is line 1)
    values: dict[str, str]  # canonical field -> raw text


@dataclasses.dataclass
class Table:
    encoding: str
    delimiter: str
    columns: dict[str, str]  # canonical field -> header as written in the file
    ignored: list[str]  # headers we do not know
    rows: list[Row]


def header_key(name: str) -> str:
    return "".join(c for c in fold(name) if c.isalnum())


def decode(raw: bytes, encoding: str | None) -> tuple[str, str]:
    """(text, encoding used)."""
    if encoding:
        try:
            codecs.lookup(encoding)
            return raw.decode(encoding), encoding
        except LookupError:
            raise ImportFileError(f"onbekende tekenset {encoding!r}") from None
        except UnicodeDecodeError as exc:
            raise ImportFileError(f"het bestand is geen geldige {encoding} "
                                  f"(byte {exc.start})") from None
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return raw.decode("utf-16"), "utf-16"
    for candidate in ("utf-8-sig", "cp1252", "latin-1"):
        try:
            return raw.decode(candidate), candidate
        except UnicodeDecodeError:
            continue
    raise AssertionError("latin-1 decodes every byte")


def sniff_delimiter(header_line: str) -> str:
    counts = {d: header_line.count(d) for d in _DELIMITERS}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def map_columns(header: list[str]) -> tuple[dict[str, str], list[str], dict[int, str]]:
    """(field -> header text, unknown headers, column index -> field)."""
    columns: dict[str, str] = {}
    by_index: dict[int, str] = {}
    ignored: list[str] = []
    for index, name in enumerate(header):
        field = _BY_ALIAS.get(header_key(name))
        if field is None:
            if name.strip():
                ignored.append(name.strip())
            continue
        if field in columns:
            raise ImportFileError(f"kolommen {columns[field]!r} en {name.strip()!r} "
                                  f"betekenen allebei {DUTCH[field]}")
        columns[field] = name.strip()
        by_index[index] = field
    missing = [DUTCH[field] for field in REQUIRED if field not in columns]
    if missing:
        raise ImportFileError(f"verplichte kolom ontbreekt: {', '.join(missing)}",
                              missing=missing)
    return columns, ignored, by_index


def read_table(path: Path, encoding: str | None = None) -> Table:
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise ImportFileError(f"bestand groter dan {MAX_FILE_BYTES // 2**20} MB")
        raw = path.read_bytes()
    except OSError as exc:
        raise ImportFileError(f"kan {path} niet lezen: {exc.strerror}") from None
    text, used = decode(raw, encoding)
    return parse_table(text, used)


def parse_table(text: str, encoding: str) -> Table:
    text = text.removeprefix("\ufeff")
    delimiter = sniff_delimiter(text.split("\n", 1)[0])
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    header = next(reader, None)
    if not header or not any(cell.strip() for cell in header):
        raise ImportFileError("het bestand is leeg (geen kopregel)")
    columns, ignored, by_index = map_columns(header)
    rows = []
    start = reader.line_num + 1
    for cells in reader:
        if any(cell.strip() for cell in cells):
            rows.append(_row(start, cells, by_index, len(header)))
        start = reader.line_num + 1
    return Table(encoding, delimiter, columns, ignored, rows)


def _row(line: int, cells: list[str], by_index: dict[int, str], width: int) -> Row:
    values = {field: cells[i] if i < len(cells) else "" for i, field in by_index.items()}
    if any(cell.strip() for cell in cells[width:]):
        # a cell past the last header: the columns of this line have shifted
        values["_extra"] = f"{len(cells)} velden, de kopregel heeft er {width}"
    return Row(line, values)
