"""Uploads checked before they are kept, downloads only for who may see the message.

An upload (staff reply, portal message) must be on the allowed list by its extension AND
look like that type by its first bytes: ``rapport.pdf`` that is really HTML is refused.
The content type stored is ours, never the browser's. Downloads are checked against the
conversation's visibility (internal notes: staff only), written to the audit log, and
always sent as a download (``Content-Disposition: attachment``, ``nosniff``), so no file
is ever rendered as a page of ours.
"""

from __future__ import annotations

import dataclasses
import re
import unicodedata
from collections.abc import Sequence
from urllib.parse import quote

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.db.models import Attachment, Conversation, Message
from hub.db.models.messaging import Direction
from hub.errors import FileTypeNotAllowed, InvalidInput, NotFound, PayloadTooLarge
from hub.inbox.attachments import AttachmentStore, FileData
from hub.security import audit
from hub.security.access import conversation_visibility
from hub.security.principal import Principal
from hub.settings import Settings

MAX_FILES = 10


@dataclasses.dataclass(frozen=True)
class FileKind:
    content_type: str
    # possible first bytes; empty: any bytes that decode as text
    magic: tuple[bytes, ...]


_PDF = FileKind("application/pdf", (b"%PDF-",))
_ZIP = (b"PK\x03\x04",)
_OLE = (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",)
ALLOWED: dict[str, FileKind] = {
    "pdf": _PDF,
    "jpg": FileKind("image/jpeg", (b"\xff\xd8\xff",)),
    "jpeg": FileKind("image/jpeg", (b"\xff\xd8\xff",)),
    "png": FileKind("image/png", (b"\x89PNG\r\n\x1a\n",)),
    "gif": FileKind("image/gif", (b"GIF87a", b"GIF89a")),
    "webp": FileKind("image/webp", (b"RIFF",)),
    "heic": FileKind("image/heic", ()),
    "txt": FileKind("text/plain", ()),
    "docx": FileKind("application/vnd.openxmlformats-officedocument."
                     "wordprocessingml.document", _ZIP),
    "xlsx": FileKind("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                     _ZIP),
    "odt": FileKind("application/vnd.oasis.opendocument.text", _ZIP),
    "ods": FileKind("application/vnd.oasis.opendocument.spreadsheet", _ZIP),
    "doc": FileKind("application/msword", _OLE),
    "xls": FileKind("application/vnd.ms-excel", _OLE),
}
ALLOWED_LIST = ", ".join(sorted(ALLOWED))
# the types a browser form's accept= attribute offers
ACCEPT = ",".join(f".{ext}" for ext in sorted(ALLOWED))

_UNSAFE_NAME = re.compile(r"[\x00-\x1f\x7f/\\:*?\"<>|]+")


def clean_filename(raw: str) -> str:
    """A display name without folders, control characters or reserved characters."""
    name = unicodedata.normalize("NFC", raw).replace("\\", "/").rsplit("/", 1)[-1]
    name = _UNSAFE_NAME.sub("_", name).strip(" .")
    if len(name) > 200:
        stem, dot, ext = name.rpartition(".")
        name = f"{stem[:190]}.{ext[:9]}" if dot else name[:200]
    return name if name.strip("_ .") else "bijlage"


def _extension(name: str) -> str:
    stem, dot, ext = name.rpartition(".")
    return ext.lower() if dot and stem else ""


def _kind_of(name: str, data: bytes) -> FileKind:
    ext = _extension(name)
    kind = ALLOWED.get(ext)
    if kind is None:
        shown = f".{ext}" if ext else "zonder extensie"
        raise FileTypeNotAllowed(
            f"Bestandstype {shown} is niet toegestaan ({name}). Toegestaan: {ALLOWED_LIST}.",
            field="attachment", filename=name)
    if not _looks_like(kind, ext, data):
        raise FileTypeNotAllowed(f"{name} is geen echt .{ext}-bestand.",
                                 field="attachment", filename=name)
    return kind


def _looks_like(kind: FileKind, ext: str, data: bytes) -> bool:
    if kind.magic:
        return data.startswith(kind.magic) and (ext != "webp" or data[8:12] == b"WEBP")
    if ext == "heic":
        return data[4:8] == b"ftyp"
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return b"\x00" not in data


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):.0f} MB"


def check_upload(settings: Settings, filename: str, data: bytes) -> FileData:
    """One uploaded file, checked: size, allowed type, real type. Raises with a clear text."""
    name = clean_filename(filename)
    if len(data) > settings.max_attachment_bytes:
        raise PayloadTooLarge(
            f"{name} is te groot ({_megabytes(len(data))}); "
            f"de grens is {_megabytes(settings.max_attachment_bytes)}.",
            field="attachment", filename=name)
    if not data:
        raise InvalidInput(f"{name} is leeg.", field="attachment", filename=name)
    kind = _kind_of(name, data)
    return FileData(filename=name, content_type=kind.content_type, data=data)


def check_uploads(settings: Settings, files: Sequence[tuple[str, bytes]]) -> list[FileData]:
    """All files of one message; the first problem is reported, nothing is kept."""
    if len(files) > MAX_FILES:
        raise InvalidInput(f"Hoogstens {MAX_FILES} bijlagen per bericht.", field="attachment")
    checked = [check_upload(settings, name, data) for name, data in files]
    if sum(len(f.data) for f in checked) > settings.max_message_bytes:
        raise PayloadTooLarge("De bijlagen samen zijn te groot.", field="attachment")
    return checked


@dataclasses.dataclass(frozen=True)
class Download:
    attachment: Attachment
    data: bytes

    @property
    def headers(self) -> dict[str, str]:
        """Always a download, never rendered; the name survives any character set."""
        name = self.attachment.filename
        ascii_name = name.encode("ascii", "replace").decode().replace('"', "_") or "bijlage"
        disposition = f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name)}"
        return {"Content-Disposition": disposition, "X-Content-Type-Options": "nosniff",
                "Content-Security-Policy": "sandbox; default-src 'none'",
                "Cache-Control": "private, no-store"}

    @property
    def media_type(self) -> str:
        allowed = {kind.content_type for kind in ALLOWED.values()}
        kind = self.attachment.content_type
        return kind if kind in allowed and kind != "text/plain" else "application/octet-stream"


async def open_attachment(session: AsyncSession, who: Principal, store: AttachmentStore,
                          attachment_id: int, conversation_id: int | None = None) -> Download:
    """The file, if ``who`` may see its message (in ``conversation_id`` when given)."""
    query = (select(Attachment, Conversation.client_id, Message.direction)
             .join(Message, Message.id == Attachment.message_id)
             .join(Conversation, Conversation.id == Message.conversation_id)
             .where(Attachment.id == attachment_id, conversation_visibility(who)))
    if conversation_id is not None:
        query = query.where(Conversation.id == conversation_id)
    row = (await session.execute(query)).first()
    if row is None or (who.is_portal and row[2] == Direction.NOTE.value):
        raise NotFound("bijlage niet gevonden", attachment_id=attachment_id)
    attachment, client_id, _direction = row
    data = store.get(attachment.sha256)
    await audit.record(session, who, audit.Event.READ, client_id=client_id,
                       object_ref=f"attachment:{attachment.id}",
                       detail=f"download {attachment.filename}")
    return Download(attachment, data)


async def audit_refused_download(session: AsyncSession, who: Principal,
                                 attachment_id: int) -> None:
    """A refused download is logged too (in its own transaction, as the caller raises)."""
    client_id = await session.scalar(
        select(Conversation.client_id).join(Message, Message.conversation_id == Conversation.id)
        .join(Attachment, Attachment.message_id == Message.id)
        .where(Attachment.id == attachment_id,
               Attachment.organisation_id == who.organisation_id))
    await audit.record(session, who, audit.Event.DENIED, client_id=client_id,
                       object_ref=f"attachment:{attachment_id}",
                       outcome=audit.Outcome.DENIED, detail="download geweigerd")
