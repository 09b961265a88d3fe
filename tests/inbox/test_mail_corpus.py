"""The corpus of unusual real-world mail (``tests/fixtures/mail``) through ``parse_email``:
what each file must come out as. Every file in the folder must have an entry here."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from hub.inbox.normalise import Inbound, Limits, Unparseable, parse_email

CORPUS = Path(__file__).parent.parent / "fixtures" / "mail"
LIMITS = Limits(max_attachment_bytes=15 * 2**20, max_message_bytes=25 * 2**20)

# file -> expectations; "files" lists (filename, content_type, size)
EXPECTED: dict[str, dict[str, Any]] = {
    "01-plain-utf8.eml": {"id": "plain-utf8@familie.test", "from": "anna.deboer@familie.test",
                          "text": "Ze heeft één vraag."},
    "02-latin1-declared-utf8.eml": {"text": "Café, crème brûlée en één afspraak."},
    "03-utf8-declared-latin1.eml": {"text": "Café, crème brûlée en één afspraak."},
    "04-missing-charset-8bit.eml": {"text": "zorg – hartelijk dank! € 10,-"},
    "05-unknown-charset.eml": {"text": "onbekende tekenset: café."},
    "06-8bit-headers.eml": {"subject": "Overleg over Jaël en Zoë", "name": "Ruud Brühl"},
    "07-rfc2047-and-rfc2231.eml": {
        "subject": "Verslag van het ééndaagse bezoek (concept)", "name": "Renée Müller",
        "files": [("verslag ééndaags bezoek.pdf", "application/pdf", 16)]},
    "08-outlook-html-only.eml": {
        "text": "Dag collega’s,\n\nDe overdracht is akkoord. Zie ook dit en het protocol.",
        "full": "Oude tekst van ons eerdere bericht.",
        "html_has": ['href="https://huisarts.test/protocol"',
                     'data-remote-src="https://tracker.test/open.gif"'],
        "html_lacks": ["script", "onload", "onclick", "javascript:", "Oude tekst", "<style",
                       "MsoNormal {"],
        "in_reply_to": ["zh.abcdef0123456789.1111222233334444@zorg.test"]},
    "09-gmail-reply-alternative.eml": {
        "text": "Dinsdag is goed.", "full": "> Past dinsdag om 14:00?",
        "html_lacks": ["gmail_quote", "Past dinsdag"],
        "references": ["root@zorg.test", "earlier@zorg.test"]},
    "10-inline-image-related.eml": {
        "html_has": ['src="cid:wond.png@familie.test"'],
        "files": [("wond.png", "image/png", 70)], "inline": ["wond.png@familie.test"]},
    "11-attachments-and-zero-length.eml": {
        "files": [("machtiging.pdf", "application/pdf", 19),
                  ("leeg.txt", "application/octet-stream", 0),
                  ("winmail.dat", "application/vnd.ms-tnef", 7)]},
    "12-nested-rfc822.eml": {"text": "Zie doorgestuurd bericht.",
                             "files": [("Besluit Wmo.eml", "message/rfc822", None)],
                             "file_has": b"Uw aanvraag is toegekend."},
    "13-multipart-without-boundary.eml": {"text": "maar heeft geen grens.",
                                          "defects": "NoBoundaryInMultipartDefect"},
    "14-broken-base64.eml": {"text": "Hallo wereld",
                             "files": [("kapot.pdf", "application/pdf", None)]},
    "15-missing-message-id.eml": {"synthetic": True},
    "16-bogus-headers.eml": {"from": "", "text": "de tekst wel.", "reply_to": []},
    "17-dsn-bounce.eml": {
        "bounce": ("zh.0123456789abcdef.aaaabbbbccccdddd@zorg.test", "5.1.1",
                   "verkeerd@familie.test"), "auto": True},
    "18-freeform-bounce.eml": {
        "bounce": ("zh.0123456789abcdef.eeeeffff00001111@zorg.test", "", "")},
    "19-apple-split-text.eml": {"text": "Hier is de foto:\n\nEn dat was de foto.",
                                "files": [("foto.png", "image/png", 70)]},
    "20-iso-2022-jp.eml": {"subject": "こんにちは", "text": "こんにちは、ありがとう。"},
    "21-garbage-not-mail.eml": {"unparseable": "no mail headers"},
    "22-empty.eml": {"unparseable": "empty"},
    "23-quoted-printable-soft-breaks.eml": {
        "text": "afgebroken met een zachte regeleinde, met café en crème en een gelijkteken "
                "= aan het einde."},
    "24-deeply-nested-html.eml": {"text": "diep verstopte tekst"},
    "25-auto-reply.eml": {"auto": True, "text": "Ik ben afwezig tot maandag."},
    "26-reply-to-differs.eml": {"reply_to": ["ingrid.bakker@familie.test"],
                                "from": "noreply@portaal.test"},
    "27-calendar-invite.eml": {"text": "MDO op donderdag.",
                               "files": [("invite.ics", "application/ics", 30)]},
    "28-lf-line-endings.eml": {"text": "Regel een.\nRegel twee."},
    "29-data-uri-image.eml": {"html_has": ['src="cid:data-'], "html_lacks": ["onmouseover"],
                              "files": [("afbeelding.png", "image/png", 70)]},
    "30-headers-only.eml": {"subject": "Alleen een onderwerp", "text": ""},
    "31-uuencode.eml": {"files": [("notitie.txt", "application/octet-stream", None)]},
    "32-same-id-other-sender.eml": {"id": "plain-utf8@familie.test",
                                    "from": "anders@elders.test"},
}


def test_every_corpus_file_has_expectations() -> None:
    assert sorted(p.name for p in CORPUS.glob("*.eml")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_corpus_file(name: str) -> None:
    raw = (CORPUS / name).read_bytes()
    expected = EXPECTED[name]
    if "unparseable" in expected:
        with pytest.raises(Unparseable, match=expected["unparseable"]):
            parse_email(raw, LIMITS)
        return
    inbound = parse_email(raw, LIMITS)
    check(inbound, expected)
    # parsing is deterministic: same input, same ids (deduplication relies on it)
    again = parse_email(raw, LIMITS)
    assert (again.external_id, again.fingerprint) == (inbound.external_id, inbound.fingerprint)


def check(inbound: Inbound, expected: dict[str, Any]) -> None:
    simple = {"id": "external_id", "from": "sender_address", "name": "sender_name",
              "subject": "subject", "reply_to": "reply_to", "auto": "auto_submitted",
              "in_reply_to": "in_reply_to", "references": "references"}
    for key, attribute in simple.items():
        if key in expected:
            assert getattr(inbound, attribute) == expected[key], key
    if "text" in expected:
        assert expected["text"] in inbound.body_text if expected["text"] \
            else inbound.body_text == ""
    if "full" in expected:
        assert expected["full"] in inbound.full_text
    for fragment in expected.get("html_has", []):
        assert fragment in inbound.body_html
    for fragment in expected.get("html_lacks", []):
        assert fragment not in inbound.body_html
    if "files" in expected:
        got = [(f.filename, f.content_type, len(f.data)) for f in inbound.files]
        assert [(n, t) for n, t, _ in got] == [(n, t) for n, t, _ in expected["files"]]
        assert all(size is None or size == g[2] for (_, _, size), g in zip(
            expected["files"], got, strict=True))
        assert inbound.skipped == []
    if "file_has" in expected:
        assert expected["file_has"] in inbound.files[0].data
    if "inline" in expected:
        assert [f.content_id for f in inbound.files if f.inline] == expected["inline"]
    if "defects" in expected:
        assert expected["defects"] in inbound.defects
    if expected.get("synthetic"):
        assert inbound.message_id is None
        assert inbound.external_id == f"sha256:{inbound.fingerprint}"
    if "bounce" in expected:
        original, status, recipient = expected["bounce"]
        assert inbound.bounce is not None and inbound.bounce.failed
        assert (inbound.bounce.original_message_id, inbound.bounce.status,
                inbound.bounce.recipient) == (original, status, recipient)
    else:
        assert inbound.bounce is None
