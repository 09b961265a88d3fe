"""Synthetic mail for tests and the benchmark (invented Dutch names, .test addresses)."""

from __future__ import annotations

import datetime as dt
import random
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, make_msgid

NAMES = ["Anna de Boer", "Jan Visser", "Fatima El Amrani", "Kees van Dijk", "Sanne Mulder",
         "Wim Bakker", "Noor Smit", "Ahmed Yilmaz", "Ria de Groot", "Henk Jansen"]
PHRASES = [
    "Mijn moeder heeft vandaag weer last van haar heup.",
    "Kan de wijkverpleegkundige morgen iets eerder komen?",
    "De medicatie is bijna op, graag een nieuw recept.",
    "Bedankt voor de goede zorg van afgelopen week.",
    "Wij zijn volgende week op vakantie; wie is het aanspreekpunt?",
    "Het zorgplan is besproken en ondertekend, zie bijlage.",
]


def address_of(name: str, domain: str = "familie.test") -> str:
    return name.lower().replace(" ", ".") + "@" + domain


def plain(sender: str = "Anna de Boer", to: str = "zorgteam@zorg.test", subject: str = "Vraag",
          body: str | None = None, message_id: str | None = None,
          in_reply_to: str | None = None, references: list[str] | None = None,
          sender_address: str | None = None, reply_to: str | None = None) -> bytes:
    mail = _headers(sender, to, subject, message_id, in_reply_to, references,
                    sender_address, reply_to)
    mail.set_content(body or PHRASES[0])
    return bytes(mail)


def html_alternative(sender: str, subject: str, paragraphs: int = 3,
                     message_id: str | None = None, rng: random.Random | None = None) -> bytes:
    rng = rng or random.Random(1)
    texts = [rng.choice(PHRASES) for _ in range(paragraphs)]
    mail = _headers(sender, "zorgteam@zorg.test", subject, message_id)
    mail.set_content("\n\n".join(texts))
    body = "".join(f'<p class="MsoNormal" style="font-family:Calibri;color:#1f1f1f">{t}</p>'
                   for t in texts)
    mail.add_alternative(
        "<html><head><style>p.MsoNormal{margin:0}</style></head><body>"
        f'<div class="WordSection1">{body}<img src="https://tracker.example/p.gif">'
        "</div></body></html>", subtype="html")
    return bytes(mail)


def with_attachment(sender: str, subject: str, size: int, message_id: str | None = None,
                    filename: str = "zorgplan.pdf") -> bytes:
    mail = _headers(sender, "zorgteam@zorg.test", subject, message_id)
    mail.set_content("Zie bijlage.")
    payload = (b"%PDF-1.4\n" + bytes(range(256)) * (size // 256 + 1))[:size]
    mail.add_attachment(payload, maintype="application", subtype="pdf", filename=filename)
    return bytes(mail)


def _headers(sender: str, to: str, subject: str, message_id: str | None,
             in_reply_to: str | None = None, references: list[str] | None = None,
             sender_address: str | None = None, reply_to: str | None = None) -> EmailMessage:
    mail = EmailMessage()
    mail["From"] = formataddr((sender, sender_address or address_of(sender)))
    mail["To"] = to
    mail["Subject"] = subject
    mail["Date"] = format_datetime(dt.datetime(2024, 3, 4, 10, 0, tzinfo=dt.UTC))
    mail["Message-ID"] = f"<{message_id}>" if message_id else make_msgid(domain="familie.test")
    if reply_to:
        mail["Reply-To"] = reply_to
    if in_reply_to:
        mail["In-Reply-To"] = f"<{in_reply_to}>"
    if references:
        mail["References"] = " ".join(f"<{r}>" for r in references)
    return mail


def mixed_corpus(count: int, seed: int = 7) -> list[bytes]:
    """A realistic mix: plain, HTML with a plain alternative, attachments, reply chains."""
    rng = random.Random(seed)
    out: list[bytes] = []
    threads: list[tuple[str, str, str]] = []  # (sender, subject, last message id)
    for n in range(count):
        sender = rng.choice(NAMES)
        kind = rng.random()
        message_id = f"bench{n}.{seed}@familie.test"
        if kind < 0.25 and threads:
            parent_sender, subject, parent = rng.choice(threads)
            out.append(plain(parent_sender, subject=f"Re: {subject}", message_id=message_id,
                             in_reply_to=parent, references=[parent],
                             body=rng.choice(PHRASES) + "\n\n> " + rng.choice(PHRASES)))
        elif kind < 0.45:
            out.append(plain(sender, subject=f"Vraag {n}", message_id=message_id,
                             body="\n\n".join(rng.choice(PHRASES) for _ in range(3))))
        elif kind < 0.85:
            out.append(html_alternative(sender, f"Zorg {n}", rng.randint(2, 8), message_id, rng))
        else:
            out.append(with_attachment(sender, f"Bijlage {n}", rng.randint(2_000, 60_000),
                                       message_id))
        if rng.random() < 0.3:
            threads.append((sender, f"Vraag {n}", message_id))
    return out
