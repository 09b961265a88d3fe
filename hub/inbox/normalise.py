"""Raw MIME bytes -> ``Inbound``: pure (no I/O, no database), and never fooled into a crash.

Parsing uses the stdlib ``email`` package with ``policy.default``. Real mail is messy, so
every step has a lenient fallback: wrong or unknown charsets (``hub.inbox.charsets``),
raw 8-bit headers, multiparts without a boundary, broken base64, nested
``message/rfc822`` (kept whole as an ``.eml`` attachment). Only input that is not mail
at all raises ``Unparseable``; the caller quarantines it with its raw bytes.

``policy.default`` parses a header every time it is read, and the MIME walk reads
``Content-Type`` dozens of times per message; the content headers are therefore parsed
through a small cache (the header objects are immutable), which makes parsing ~10x faster.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import hashlib
import mimetypes
import re
from email import message_from_bytes, policy
from email.headerregistry import HeaderRegistry
from email.message import EmailMessage, Message
from email.utils import parsedate_to_datetime
from typing import Any

from hub.inbox.attachments import FileData
from hub.inbox.bounces import Bounce, find_bounce
from hub.inbox.charsets import decode_text, fix_8bit_header
from hub.inbox.mailids import message_id, message_ids
from hub.inbox.quotes import trim_quoted
from hub.inbox.sanitise import clean_html

CHANNEL = "email"
# HTML beyond this is shown cut short; the whole is kept as an attachment
MAX_HTML_CHARS = 2_000_000
_ADDRESS = re.compile(r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$")
_CACHED = frozenset({"content-type", "content-disposition", "content-transfer-encoding"})
# headers that say what the message is; trace headers added on the way are left out, so
# the same mail fetched again (or from another mailbox) has the same fingerprint
_IDENTITY_HEADERS = (b"from", b"to", b"cc", b"subject", b"date", b"message-id",
                     b"in-reply-to", b"references", b"content-type")


class Unparseable(Exception):
    """Not mail at all; the caller quarantines the raw bytes with ``reason``."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclasses.dataclass(frozen=True)
class Limits:
    max_attachment_bytes: int
    max_message_bytes: int


@dataclasses.dataclass
class Inbound:
    """One message from outside, in the shape the inbox stores (channel-neutral fields
    first, email specifics after)."""

    channel: str
    external_id: str  # Message-ID, or a synthetic id derived from the content
    fingerprint: str  # sha256 over what the message says (not how it travelled)
    sender_address: str  # lower-case From address ("" when missing or broken)
    sender_name: str
    subject: str
    body_text: str  # quoted history trimmed
    full_text: str
    body_html: str  # sanitised, quoted history trimmed
    files: list[FileData]
    skipped: list[dict[str, Any]]  # over a cap: listed on the message, never silent
    message_id: str | None = None  # as the sender set it; None when synthetic
    reply_to: list[str] = dataclasses.field(default_factory=list)
    to: list[str] = dataclasses.field(default_factory=list)
    cc: list[str] = dataclasses.field(default_factory=list)
    in_reply_to: list[str] = dataclasses.field(default_factory=list)
    references: list[str] = dataclasses.field(default_factory=list)
    sent_at: dt.datetime | None = None
    auto_submitted: bool = False
    bounce: Bounce | None = None
    defects: list[str] = dataclasses.field(default_factory=list)
    size: int = 0

    @property
    def reply_address(self) -> str:
        """Where an answer goes: Reply-To when given, else From."""
        return self.reply_to[0] if self.reply_to else self.sender_address

    def meta(self) -> dict[str, Any]:
        """The email headers kept on ``Message.meta`` (threading, display, bounces)."""
        return {
            "message_id": self.message_id, "in_reply_to": self.in_reply_to,
            "references": self.references, "reply_to": self.reply_to, "to": self.to,
            "cc": self.cc, "date": self.sent_at.isoformat() if self.sent_at else None,
            "fingerprint": self.fingerprint, "auto_submitted": self.auto_submitted,
            "size": self.size, "defects": self.defects[:20],
        }


class _CachingFactory:
    """``HeaderRegistry`` with two caches: the header class per name (the registry
    builds a new class on every call) and parsed content headers per value."""

    def __init__(self) -> None:
        self.registry = HeaderRegistry()
        self.classes: dict[str, Any] = {}
        self.cached = functools.lru_cache(maxsize=2048)(self._parse)

    def _parse(self, name: str, value: str) -> Any:
        kind = self.classes.get(name)
        if kind is None:
            kind = self.classes[name] = self.registry[name]
        return kind(name, value)

    def __call__(self, name: str, value: str) -> Any:
        if name.lower() in _CACHED:
            return self.cached(name, value)
        return self._parse(name, value)


POLICY = policy.default.clone(header_factory=_CachingFactory())


def parse_email(raw: bytes, limits: Limits, *, truncated_from: int | None = None) -> Inbound:
    """Read one message. ``truncated_from`` is the real size when only a prefix was
    fetched (the message was over the cap): its attachments are then listed, not kept."""
    _check_is_mail(raw)
    msg = message_from_bytes(raw, policy=POLICY)
    assert isinstance(msg, EmailMessage)
    headers = _first_headers(msg)
    mid = message_id(headers.get("message-id", ""))
    fingerprint = content_fingerprint(raw)
    inbound = Inbound(
        channel=CHANNEL, external_id=mid or f"sha256:{fingerprint}", fingerprint=fingerprint,
        message_id=mid, sender_address="", sender_name="",
        subject=_text_header(headers, "subject")[:500], body_text="", full_text="",
        body_html="", files=[], skipped=[], size=truncated_from or len(raw),
        defects=[type(d).__name__ for d in msg.defects],
    )
    _read_addresses(inbound, headers)
    _read_threading(inbound, headers)
    inbound.sent_at = _date(headers.get("date"))
    inbound.auto_submitted = _is_automatic(headers)
    _read_bodies(inbound, msg, limits, truncated=truncated_from is not None)
    inbound.bounce = find_bounce(msg, inbound.sender_address, inbound.subject, raw)
    return inbound


def _check_is_mail(raw: bytes) -> None:
    if not raw.strip():
        raise Unparseable("empty message")
    head = raw[:8192].split(b"\n\n", 1)[0].split(b"\r\n\r\n", 1)[0]
    if not re.search(rb"^[!-9;-~]{1,76}:", head, re.M):
        raise Unparseable("no mail headers found at the start of the message")


def content_fingerprint(raw: bytes) -> str:
    """sha256 over the identity headers and the body, independent of trace headers and
    line endings: stable for the same mail wherever and whenever it is fetched."""
    text = raw.replace(b"\r\n", b"\n")
    head, _, body = text.partition(b"\n\n")
    unfolded = re.sub(rb"\n[ \t]+", b" ", head).split(b"\n")
    kept = sorted(line.strip() for line in unfolded
                  if line.split(b":", 1)[0].strip().lower() in _IDENTITY_HEADERS)
    digest = hashlib.sha256(b"\n".join(kept))
    digest.update(b"\n\n" + body.rstrip())
    return digest.hexdigest()


def _first_headers(msg: Message) -> dict[str, str]:
    first: dict[str, str] = {}
    for name, value in msg.raw_items():
        first.setdefault(name.strip().lower(), fix_8bit_header(str(value)))
    return first


def _text_header(headers: dict[str, str], name: str) -> str:
    value = headers.get(name)
    if value is None:
        return ""
    try:
        return " ".join(str(POLICY.header_factory(name, value)).split())
    except Exception:  # a header the stdlib parser chokes on: keep it as written
        return " ".join(value.split())


def _addresses(headers: dict[str, str], name: str) -> list[tuple[str, str]]:
    value = headers.get(name)
    if not value:
        return []
    try:
        parsed = POLICY.header_factory(name, value)
        found = [(a.display_name, a.addr_spec) for a in parsed.addresses]
    except Exception:  # unparseable address list: pick out what looks like addresses
        found = [("", m) for m in re.findall(r"[^\s<>,;\"]+@[^\s<>,;\"]+", value)]
    return [(display[:200], spec.strip().lower()) for display, spec in found
            if _ADDRESS.match(spec.strip())]


def _read_addresses(inbound: Inbound, headers: dict[str, str]) -> None:
    senders = _addresses(headers, "from") or _addresses(headers, "sender")
    if senders:
        inbound.sender_name, inbound.sender_address = senders[0]
    inbound.sender_address = inbound.sender_address[:254]
    inbound.reply_to = [a for _, a in _addresses(headers, "reply-to")][:5]
    inbound.to = [a for _, a in _addresses(headers, "to")][:50]
    inbound.cc = [a for _, a in _addresses(headers, "cc")][:50]


def _read_threading(inbound: Inbound, headers: dict[str, str]) -> None:
    inbound.in_reply_to = message_ids(headers.get("in-reply-to"))[:5]
    # the root and the most recent ancestors are what threading needs
    references = message_ids(headers.get("references"))
    inbound.references = references[:1] + references[1:][-49:]


def _date(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed.astimezone(dt.UTC)


def _is_automatic(headers: dict[str, str]) -> bool:
    auto = headers.get("auto-submitted", "no").strip().lower()
    precedence = headers.get("precedence", "").strip().lower()
    return (auto not in ("", "no") or precedence in ("bulk", "junk", "auto_reply")
            or "x-autoreply" in headers or "x-autorespond" in headers)


def _read_bodies(inbound: Inbound, msg: EmailMessage, limits: Limits, truncated: bool) -> None:
    plain, markup = _pick_bodies(msg)
    extra_text: list[str] = []
    files: list[FileData] = []
    for index, (part, parent) in enumerate(_leaves(msg), 1):
        if part is plain or part is markup or (parent == "alternative" and not _named(part)):
            continue
        if part.get_content_maintype() == "text" and not _named(part) \
                and part.get_content_subtype() == "plain":
            extra_text.append(_text_of(part))
            continue
        files.append(_file(part, index))
    text = "\n\n".join([_text_of(plain), *extra_text]) if plain is not None else ""
    if markup is not None:
        _read_html(inbound, _text_of(markup), files)
    if text.strip() or not inbound.full_text:
        inbound.full_text = text.strip()
        inbound.body_text = trim_quoted(text)
    _keep_files(inbound, files, limits, truncated)


def _pick_bodies(msg: EmailMessage) -> tuple[EmailMessage | None, EmailMessage | None]:
    if not msg.is_multipart():
        kind = msg.get_content_type()
        if kind == "text/html":
            return None, msg
        if msg.get_content_maintype() in ("text", "multipart") or not msg.get_payload():
            return msg, None  # a multipart without boundary reads as text
        return None, None
    plain = msg.get_body(preferencelist=("plain",))
    markup = msg.get_body(preferencelist=("html",))
    return (plain if isinstance(plain, EmailMessage) else None,
            markup if isinstance(markup, EmailMessage) else None)


def _leaves(part: EmailMessage, parent: str = "") -> list[tuple[EmailMessage, str]]:
    """Every non-multipart part, with its parent's subtype; ``message/rfc822`` is a leaf."""
    found: list[tuple[EmailMessage, str]] = []
    stack: list[tuple[EmailMessage, str]] = [(part, parent)]
    while stack:
        current, parent_kind = stack.pop()
        if current.get_content_maintype() == "multipart" and current.is_multipart():
            subtype = current.get_content_subtype()
            stack.extend((sub, subtype) for sub in reversed(list(_parts(current))))
        else:
            found.append((current, parent_kind))
    return found


def _parts(part: EmailMessage) -> list[EmailMessage]:
    payload = part.get_payload()
    return [p for p in payload if isinstance(p, EmailMessage)] if isinstance(payload, list) else []


def _named(part: EmailMessage) -> bool:
    return bool(part.get_filename()) or part.get_content_disposition() == "attachment"


def _text_of(part: EmailMessage | None) -> str:
    if part is None:
        return ""
    data = _payload_bytes(part)
    text = decode_text(data, part.get_content_charset(),
                       html=part.get_content_subtype() == "html")
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _payload_bytes(part: Message) -> bytes:
    data = part.get_payload(decode=True)
    if isinstance(data, bytes):
        return data
    payload = part.get_payload()
    if isinstance(payload, str):
        return payload.encode("utf-8", "surrogateescape")
    return b""


def _read_html(inbound: Inbound, markup: str, files: list[FileData]) -> None:
    if len(markup) > MAX_HTML_CHARS:
        # sanitising is slow on huge HTML: show the start, keep the whole as a file
        files.append(FileData("bericht.html", "text/html", markup.encode("utf-8")))
        inbound.defects.append("html_truncated")
        markup = markup[:MAX_HTML_CHARS]
    clean = clean_html(markup)
    inbound.body_html = clean.html
    inbound.full_text = clean.full_text
    inbound.body_text = clean.text
    for image in clean.images:
        extension = mimetypes.guess_extension(image.content_type) or ".bin"
        files.append(FileData(f"afbeelding{extension}", image.content_type, image.data,
                                 image.content_id, inline=True))
    inbound.skipped.extend({"filename": "", "size": 0, "reason": text} for text in clean.dropped)


def _file(part: EmailMessage, index: int) -> FileData:
    kind = part.get_content_type()
    if part.get_content_maintype() == "message" and part.is_multipart():
        data = _inner_message_bytes(part)
    else:
        data = _payload_bytes(part)
    content_id = message_id(str(part.get("content-id", ""))) if "content-id" in part else None
    disposition = part.get_content_disposition()
    return FileData(
        filename=_filename(part, index, kind), content_type=kind[:120], data=data,
        content_id=content_id[:255] if content_id else None,
        inline=disposition == "inline" or (content_id is not None and disposition is None),
    )


def _inner_message_bytes(part: EmailMessage) -> bytes:
    """A message/* part as bytes: the whole forwarded mail for message/rfc822, every
    block (per-message and per-recipient) for a delivery-status report."""
    blocks = [b for b in part.get_payload() if isinstance(b, Message)]
    return b"\r\n".join(_message_bytes(block) for block in blocks)


def _message_bytes(inner: Message) -> bytes:
    try:
        return bytes(inner.as_bytes(policy=POLICY.clone(linesep="\r\n")))
    except Exception:  # a broken inner message: keep what the parser held
        return str(inner).encode("utf-8", "surrogateescape")


def _filename(part: EmailMessage, index: int, kind: str) -> str:
    try:
        name = part.get_filename() or ""
    except Exception:  # malformed RFC 2231 parameters
        name = ""
    name = re.sub(r"[\x00-\x1f\x7f/\\]+", "_", fix_8bit_header(str(name))).strip(" .")
    if not name and kind == "message/rfc822":
        name = f"{_inner_subject(part) or f'bericht-{index}'}.eml"
    if not name:
        fallback = ".txt" if kind.startswith(("text/", "message/")) else ".bin"
        name = f"bijlage-{index}{mimetypes.guess_extension(kind) or fallback}"
    return name[-255:]


def _inner_subject(part: EmailMessage) -> str:
    inner = part.get_payload(0) if part.is_multipart() else None
    if not isinstance(inner, Message):
        return ""
    subject = _text_header(_first_headers(inner), "subject")
    return re.sub(r"[\x00-\x1f\x7f/\\:*?\"<>|]+", "_", subject).strip(" ._")[:120]


def _keep_files(inbound: Inbound, files: list[FileData], limits: Limits,
                truncated: bool) -> None:
    total = 0
    for item in files:
        size = len(item.data)
        reason = None
        if truncated:
            reason = "message_too_large"
        elif size > limits.max_attachment_bytes:
            reason = "attachment_too_large"
        elif total + size > limits.max_message_bytes:
            reason = "message_too_large"
        if reason is None:
            total += size
            inbound.files.append(item)
        else:
            inbound.skipped.append({"filename": item.filename, "size": size, "reason": reason})
