"""Pure functions that turn one raw value into its stored form, or say why they cannot.

Each raises ``FieldProblem`` with a Dutch message for people; callers collect those per
field (``hub.records.clients``) and turn them into one ``InvalidInput`` or a row error.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata

import phonenumbers

from hub.db.models.clients import ClientStatus, Relation

DEFAULT_REGION = "NL"
EARLIEST_BIRTH = dt.date(1900, 1, 1)


class FieldProblem(ValueError):
    """One value is not acceptable; the message says why, in Dutch."""


def fold(text: str) -> str:
    """Case-, accent- and spacing-insensitive form: 'Ëlla  de Vries' -> 'ella de vries'."""
    decomposed = unicodedata.normalize("NFKD", text)
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(bare.casefold().split())


def clean_text(raw: str, *, limit: int, required: bool = False) -> str:
    """Trimmed text with inner whitespace collapsed; no control characters."""
    text = " ".join(raw.split())
    if any(unicodedata.category(c) == "Cc" for c in text):
        raise FieldProblem("bevat ongeldige tekens")
    if required and not text:
        raise FieldProblem("is verplicht")
    if len(text) > limit:
        raise FieldProblem(f"is langer dan {limit} tekens")
    return text


def normalise_phone(raw: str, region: str = DEFAULT_REGION) -> str:
    """E.164 ('+31612345678'); numbers without country code are read as Dutch."""
    text = raw.strip()
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as exc:
        raise FieldProblem(f"{text!r} is geen geldig telefoonnummer") from exc
    if not phonenumbers.is_valid_number(number):
        raise FieldProblem(f"{text!r} is geen geldig telefoonnummer")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalise_whatsapp_id(raw: str) -> str:
    """WhatsApp's wa_id: the international number as digits, without '+'."""
    return normalise_phone(raw)[1:]


# RFC 5322 dot-atom for the local part; quoted local parts are not accepted on purpose
_LOCAL = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*")
_LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)")
_TLD = re.compile(r"[a-z]{2,63}|xn--[a-z0-9-]{1,59}")


def normalise_email(raw: str) -> str:
    """The address with its domain lower-cased; the local part is kept as written."""
    text = raw.strip()
    local, at, domain = text.rpartition("@")
    if not at or len(text) > 254 or len(local) > 64 or not _LOCAL.fullmatch(local):
        raise FieldProblem(f"{text!r} is geen geldig e-mailadres")
    domain = domain.lower()
    if not _valid_domain(domain):
        raise FieldProblem(f"{text!r} is geen geldig e-mailadres")
    return f"{local}@{domain}"


def _valid_domain(domain: str) -> bool:
    try:
        ascii_domain = domain.encode("idna").decode("ascii")
    except UnicodeError:
        return False
    labels = ascii_domain.split(".")
    return (len(labels) >= 2 and all(_LABEL.fullmatch(label) for label in labels)
            and _TLD.fullmatch(labels[-1]) is not None)


_DMY = re.compile(r"(\d{1,2})[-/.](\d{1,2})[-/.](\d{4})")
_ISO = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})")


def parse_birth_date(raw: str, today: dt.date | None = None) -> dt.date:
    """dd-mm-jjjj (also with / or .) or ISO jjjj-mm-dd; not in the future, not before 1900."""
    text = raw.strip()
    if match := _DMY.fullmatch(text):
        day, month, year = (int(g) for g in match.groups())
    elif match := _ISO.fullmatch(text):
        year, month, day = (int(g) for g in match.groups())
    else:
        raise FieldProblem(f"{text!r} is geen datum (dd-mm-jjjj of jjjj-mm-dd)")
    try:
        date = dt.date(year, month, day)
    except ValueError as exc:
        raise FieldProblem(f"{text!r} bestaat niet als datum") from exc
    if not EARLIEST_BIRTH <= date <= (today or dt.date.today()):
        raise FieldProblem(f"{text!r} ligt niet tussen 1900 en vandaag")
    return date


# Words older systems use, folded; the enum values themselves are accepted too.
_STATUS_WORDS = {
    "actief": ClientStatus.ACTIVE, "in zorg": ClientStatus.ACTIVE,
    "wachtlijst": ClientStatus.WAITING, "aangemeld": ClientStatus.WAITING,
    "wachtend": ClientStatus.WAITING,
    "beeindigd": ClientStatus.ENDED, "uit zorg": ClientStatus.ENDED,
    "afgesloten": ClientStatus.ENDED, "inactief": ClientStatus.ENDED,
}
_RELATION_WORDS = {
    "zelf": Relation.SELF, "client": Relation.SELF,
    "familie": Relation.FAMILY, "dochter": Relation.FAMILY, "zoon": Relation.FAMILY,
    "partner": Relation.FAMILY, "echtgenoot": Relation.FAMILY,
    "echtgenote": Relation.FAMILY, "moeder": Relation.FAMILY, "vader": Relation.FAMILY,
    "broer": Relation.FAMILY, "zus": Relation.FAMILY, "kind": Relation.FAMILY,
    "wettelijk vertegenwoordiger": Relation.LEGAL_REPRESENTATIVE,
    "vertegenwoordiger": Relation.LEGAL_REPRESENTATIVE,
    "curator": Relation.LEGAL_REPRESENTATIVE, "mentor": Relation.LEGAL_REPRESENTATIVE,
    "bewindvoerder": Relation.LEGAL_REPRESENTATIVE,
    "overig": Relation.OTHER, "anders": Relation.OTHER, "mantelzorger": Relation.OTHER,
    "buur": Relation.OTHER, "buurvrouw": Relation.OTHER, "buurman": Relation.OTHER,
}


def parse_status(raw: str) -> str:
    return _lookup(raw, ClientStatus, _STATUS_WORDS, "status")


def parse_relation(raw: str) -> str:
    return _lookup(raw, Relation, _RELATION_WORDS, "relatie")


def _lookup(raw: str, kind: type[ClientStatus] | type[Relation],
            words: dict[str, ClientStatus] | dict[str, Relation], what: str) -> str:
    key = fold(raw).replace("_", " ")
    for member in kind:
        if key == member.value.replace("_", " "):
            return member.value
    if key in words:
        return words[key].value
    allowed = ", ".join(sorted({*(m.value for m in kind), *words}))
    raise FieldProblem(f"onbekende {what} {raw.strip()!r}; kies uit: {allowed}")


_CLIENT_NUMBER = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,39}")


def parse_client_number(raw: str) -> str:
    """Letters, digits, '.', '_' and '-', up to 40; it appears in API paths as is."""
    text = raw.strip()
    if not text:
        raise FieldProblem("is verplicht")
    if not _CLIENT_NUMBER.fullmatch(text):
        raise FieldProblem(f"{text!r} is geen geldig cliëntnummer (letters, cijfers, . _ -)")
    return text
