"""Pure parts of mail ingest: caps, ids, fingerprints, charsets, quotes, subjects, HTML."""

from __future__ import annotations

import time
from email.message import EmailMessage

import pytest

from hub.inbox.charsets import decode_text, fix_8bit_header
from hub.inbox.ingest import Fetched, parse_one
from hub.inbox.mailids import message_ids
from hub.inbox.normalise import Limits, content_fingerprint, parse_email
from hub.inbox.quotes import trim_quoted
from hub.inbox.sanitise import clean_html
from hub.inbox.thread import base_subject, is_reply_subject, make_message_id, thread_tokens
from tests.channels import mailgen

LIMITS = Limits(max_attachment_bytes=15 * 2**20, max_message_bytes=25 * 2**20)


def test_attachments_over_a_cap_are_listed_not_dropped() -> None:
    raw = mailgen.with_attachment("Jan Visser", "Scan", 5_000, filename="scan.pdf")
    small = parse_email(raw, Limits(max_attachment_bytes=1_000, max_message_bytes=10_000))
    assert small.files == []
    assert small.skipped == [{"filename": "scan.pdf", "size": 5_000,
                              "reason": "attachment_too_large"}]
    total = parse_email(raw, Limits(max_attachment_bytes=10_000, max_message_bytes=2_000))
    assert total.skipped[0]["reason"] == "message_too_large"
    fits = parse_email(raw, LIMITS)
    assert [len(f.data) for f in fits.files] == [5_000] and fits.skipped == []


def test_a_truncated_message_keeps_its_text_and_lists_its_attachments() -> None:
    raw = mailgen.with_attachment("Jan Visser", "Groot", 50_000)
    inbound = parse_email(raw[:20_000], LIMITS, truncated_from=len(raw))
    assert inbound.subject == "Groot" and inbound.body_text == "Zie bijlage."
    assert inbound.files == [] and inbound.size == len(raw)
    assert inbound.skipped[0]["reason"] == "message_too_large"


def test_fingerprint_ignores_trace_headers_and_line_endings() -> None:
    raw = mailgen.plain(message_id="same@familie.test")
    travelled = (b"Received: from mx1.test by mx2.test; Mon, 4 Mar 2024\r\n"
                 b"Delivered-To: zorgteam@zorg.test\r\n" + raw)
    assert content_fingerprint(travelled) == content_fingerprint(raw)
    assert content_fingerprint(raw.replace(b"\r\n", b"\n")) == content_fingerprint(raw)
    assert content_fingerprint(raw.replace(b"Vraag", b"Antwoord")) != content_fingerprint(raw)


def test_message_ids_are_normalised_and_bounded() -> None:
    assert message_ids("<a@x>  <b@y>\r\n <c@z>") == ["a@x", "b@y", "c@z"]
    assert message_ids(None) == []
    long_id = "x" * 600 + "@familie.test"
    raw = mailgen.plain(message_id=long_id)
    inbound = parse_email(raw, LIMITS)
    assert inbound.external_id.startswith("long-id:") and len(inbound.external_id) < 80


@pytest.mark.parametrize(("data", "charset", "expected"), [
    ("één".encode(), "utf-8", "één"),
    ("één".encode("latin-1"), "utf-8", "één"),
    ("één".encode(), "iso-8859-1", "één"),
    ("€ 5".encode("cp1252"), "iso-8859-1", "€ 5"),
    (b"caf\xe9", None, "café"),
    (b"caf\xe9", "x-no-such-charset", "café"),
    ("こんにちは".encode("iso2022_jp"), "iso-2022-jp", "こんにちは"),
    ("한국".encode("cp949"), "ks_c_5601-1987", "한국"),
    (b"\xff\xfe\xfa", "utf-8", "ÿþú"),
])
def test_text_is_decoded_whatever_the_label_says(data: bytes, charset: str | None,
                                                 expected: str) -> None:
    assert decode_text(data, charset) == expected


def test_html_charset_from_meta_when_the_header_has_none() -> None:
    data = '<meta charset="windows-1252"><p>Caf\xe9 \x80</p>'.encode("latin-1")
    assert "Café €" in decode_text(data, None, html=True)


def test_8bit_headers_become_text() -> None:
    assert fix_8bit_header("Zo\udcc3\udcab") == "Zoë"
    assert fix_8bit_header("Zo\udceb") == "Zoë"
    assert fix_8bit_header("gewoon") == "gewoon"


@pytest.mark.parametrize(("text", "expected"), [
    ("Ja.\n\nOn Mon, 4 Mar 2024 at 10:00, Zorg <z@zorg.test> wrote:\n> vraag\n", "Ja."),
    ("Ja.\n\nOp 4 mrt. 2024 om 10:00 heeft Zorg <z@zorg.test> het volgende geschreven:\n\n"
     "> vraag", "Ja."),
    ("Ja.\n\n-----Original Message-----\nFrom: x\n\nvraag", "Ja."),
    ("Ja.\n________________________________\nVan: Zorg\nVerzonden: maandag\n\nvraag", "Ja."),
    ("Ja.\n\nVon: Zorg <z@zorg.test>\nGesendet: Montag\n\nvraag", "Ja."),
    ("Antwoord\n> geciteerd\n> nog meer\n\n", "Antwoord"),
])
def test_quoted_history_is_trimmed(text: str, expected: str) -> None:
    assert trim_quoted(text) == expected


@pytest.mark.parametrize("text", [
    "> vraag 1\nantwoord 1\n> vraag 2\nantwoord 2",  # inline answers
    "On Mon, 4 Mar 2024, Zorg wrote:\n> vraag\nmijn antwoord onderaan",  # bottom posting
    "---------- Forwarded message ---------\nFrom: Gemeente\n\nBesluit",  # a forward
])
def test_answers_between_quotes_and_forwards_are_kept(text: str) -> None:
    assert trim_quoted(text) == text.strip()


def test_subjects_compare_without_reply_prefixes() -> None:
    assert base_subject("Re: AW: Antw:  Afspraak   dinsdag") == "afspraak dinsdag"
    assert base_subject("RE[2]: Fwd: Afspraak dinsdag") == "afspraak dinsdag"
    assert is_reply_subject("Antw: x") and is_reply_subject("RE: x")
    assert not is_reply_subject("Fwd: x") and not is_reply_subject("Reactie: x")


def test_our_message_ids_carry_the_thread_token() -> None:
    message_id = make_message_id("0123456789abcdef", "zorg.test")
    assert message_id.startswith("zh.0123456789abcdef.") and message_id.endswith("@zorg.test")
    assert thread_tokens([message_id, "other@x.test"]) == ["0123456789abcdef"]
    assert make_message_id("0123456789abcdef", "zorg.test") != message_id


def test_html_is_made_safe() -> None:
    dirty = ('<p onclick="x()" style="color:red;background:url(https://e.test/x);'
             'position:fixed">Hoi <script>steal()</script><b>Jan</b></p>'
             '<iframe src="https://e.test"></iframe><form action="/x"><input name="a"></form>'
             '<a href="javascript:alert(1)">a</a><a href="vbscript:x">b</a>'
             '<img src="http://e.test/track.gif" onerror="x()"><svg><script>y()</script></svg>'
             '<a href="https://zorg.test">ok</a><!-- [if mso]> geheim <![endif] -->')
    clean = clean_html(dirty)
    for bad in ("onclick", "script", "steal", "url(", "position", "iframe", "<form", "<input",
                "javascript", "vbscript", "onerror", "svg", "y()", "geheim", ' src="http'):
        assert bad not in clean.html, bad
    assert 'style="color:red;"' in clean.html
    assert 'data-remote-src="http://e.test/track.gif"' in clean.html
    assert '<a href="https://zorg.test" target="_blank" rel="noopener noreferrer nofollow">' \
        in clean.html
    assert clean.text.startswith("Hoi Jan")


def test_html_quote_trimming_keeps_the_answer_and_the_full_text() -> None:
    markup = ('<div>Prima!</div><div id="appendonsend"></div><hr>'
              '<div id="divRplyFwdMsg"><b>Van:</b> Zorg</div><div>oude vraag</div>')
    clean = clean_html(markup)
    assert clean.text == "Prima!" and "oude vraag" not in clean.html
    assert "oude vraag" in clean.full_text
    only_quote = '<blockquote type="cite">alles is citaat</blockquote>'
    assert clean_html(only_quote).text == "alles is citaat"


def test_plain_text_of_html_reads_blocks_and_entities() -> None:
    assert clean_html("<p>A &amp; B</p><p>C<br>D</p><ul><li>E</li></ul>").text == \
        "A & B\n\nC\nD\n\nE"


def test_hostile_nesting_is_flattened_quickly() -> None:
    started = time.perf_counter()
    clean = clean_html("<div>" * 60_000 + "diep" + "</div>" * 60_000)
    assert time.perf_counter() - started < 5
    assert clean.text == "diep" and clean.html.count("<div>") <= 800


def test_huge_html_is_shown_in_part_and_kept_whole() -> None:
    mail = EmailMessage()
    mail["From"] = "Nieuwsbrief <nieuws@gemeente.test>"
    mail["Subject"] = "Nieuwsbrief"
    markup = "<p>" + "Gemeentenieuws. " * 150_000 + "</p>"
    mail.set_content(markup, subtype="html")
    inbound = parse_email(bytes(mail), LIMITS)
    assert "html_truncated" in inbound.defects
    [kept] = inbound.files
    assert kept.filename == "bericht.html" and kept.data.decode().strip() == markup
    assert inbound.body_text.startswith("Gemeentenieuws.")


def _nested(levels: int) -> bytes:
    head = b"From: a@familie.test\r\nSubject: diep\r\nMessage-ID: <diep@familie.test>\r\n"
    opening = b"".join(b'Content-Type: multipart/mixed; boundary="b%d"\r\n\r\n--b%d\r\n' % (i, i)
                       for i in range(levels))
    closing = b"".join(b"--b%d--\r\n" % i for i in reversed(range(levels)))
    return head + opening + b"Content-Type: text/plain\r\n\r\nkern\r\n" + closing


def test_a_mime_bomb_is_refused_not_crashed_on() -> None:
    assert parse_one(Fetched(1, _nested(200)), LIMITS).inbound is not None
    bomb = parse_one(Fetched(2, _nested(3000)), LIMITS)  # deeper than the parser recurses
    assert bomb.inbound is None and "RecursionError" in (bomb.error or "")
