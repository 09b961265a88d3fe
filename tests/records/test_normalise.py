from __future__ import annotations

import datetime as dt

import phonenumbers
import pytest

from hub.errors import InvalidInput
from hub.records.normalise import (
    FieldProblem,
    fold,
    normalise_email,
    normalise_phone,
    parse_birth_date,
    parse_relation,
    parse_status,
)
from hub.records.validation import parse_client, parse_client_changes


@pytest.mark.parametrize(("raw", "e164"), [
    ("06-12345678", "+31612345678"),
    ("06 1234 5678", "+31612345678"),
    ("+31 6 12345678", "+31612345678"),
    ("0031612345678", "+31612345678"),
    ("020-1234567", "+31201234567"),
    ("+32 470 12 34 56", "+32470123456"),
])
def test_phone_numbers_are_stored_as_e164(raw: str, e164: str) -> None:
    assert normalise_phone(raw) == e164
    assert phonenumbers.is_valid_number(phonenumbers.parse(e164))


@pytest.mark.parametrize("raw", ["06-123", "12345", "bel mij", "+31 6 1234567890", ""])
def test_invalid_phone_numbers_are_refused(raw: str) -> None:
    with pytest.raises(FieldProblem, match="geen geldig telefoonnummer"):
        normalise_phone(raw)


@pytest.mark.parametrize(("raw", "stored"), [
    ("Jan.Jansen@Example.NL", "Jan.Jansen@example.nl"),
    ("  ria+zorg@Zorg.Test ", "ria+zorg@zorg.test"),
    ("beheer@bücher.example.nl", "beheer@bücher.example.nl"),
])
def test_email_domain_is_lower_cased(raw: str, stored: str) -> None:
    assert normalise_email(raw) == stored


@pytest.mark.parametrize("raw", ["jan", "jan@", "@example.nl", "jan@example", "jan@@example.nl",
                                 "jan jansen@example.nl", "jan@-bad.nl", "jan..j@example.nl",
                                 "jan@example.n1"])
def test_invalid_email_addresses_are_refused(raw: str) -> None:
    with pytest.raises(FieldProblem, match="geen geldig e-mailadres"):
        normalise_email(raw)


def test_birth_dates_in_dutch_and_iso_form() -> None:
    assert parse_birth_date("07-03-1941") == dt.date(1941, 3, 7)
    assert parse_birth_date("7/3/1941") == dt.date(1941, 3, 7)
    assert parse_birth_date("1941-03-07") == dt.date(1941, 3, 7)
    for bad in ("31-02-1950", "1950/03/07", "maart 1950", "01-01-1850", "01-01-2999"):
        with pytest.raises(FieldProblem):
            parse_birth_date(bad)


def test_status_and_relation_accept_dutch_words() -> None:
    assert parse_status("Beëindigd") == "ended"
    assert parse_status("wachtlijst") == "waiting"
    assert parse_status("active") == "active"
    assert parse_relation("Wettelijk vertegenwoordiger") == "legal_representative"
    assert parse_relation("dochter") == "family"
    assert parse_relation("legal_representative") == "legal_representative"
    with pytest.raises(FieldProblem, match="kies uit"):
        parse_relation("achterneef")


def test_fold_ignores_case_accents_and_spacing() -> None:
    assert fold("  Ëlla   DE Vriës ") == fold("ella de vries") == "ella de vries"


def test_parse_client_names_every_problem_at_once() -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_client({"client_number": "C 1", "given_name": "Jan", "date_of_birth": "1-13-1950",
                      "contacts": [{"phone": "06-1"}, {"relation": "familie"}],
                      "bsn": "123"})
    fields = caught.value.fields["fields"]
    assert set(fields) == {"client_number", "family_name", "date_of_birth", "bsn",
                           "contacts.0.phone", "contacts.1.email", "contacts.1.name"}


def test_parse_client_fills_the_self_contacts_name() -> None:
    data = parse_client({"client_number": "C1", "given_name": "Jan", "family_name": "Bos",
                         "contacts": [{"email": "jan@Bos.test"}]})
    assert data.contacts[0].name == "Jan Bos"
    assert data.contacts[0].email == "jan@bos.test"
    assert data.status == "active"


def test_changes_may_leave_out_but_not_empty_required_fields() -> None:
    assert parse_client_changes({"status": "ended"}) == {"status": "ended"}
    with pytest.raises(InvalidInput) as caught:
        parse_client_changes({"family_name": "  ", "given_name": 12})
    assert caught.value.fields["fields"] == {"family_name": "is verplicht",
                                             "given_name": "moet tekst zijn"}
