"""Attachment bytes on disk, once per content: ``attachments_dir/ab/cd/abcd...`` by sha256.

The same file mailed ten times is stored once; the rows in ``attachments`` say which
message had it, under which name. Files are written to a temporary name and renamed, so
a reader never sees half a file. They are written before the transaction that records
them commits: a rolled-back ingest leaves an unreferenced file behind (harmless; the same
mail fetched again finds it in place), never a row pointing at nothing.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import re
import secrets
from collections.abc import Iterable, Sequence
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from hub.db.models import Attachment
from hub.errors import NotFound

_SHA256 = re.compile(r"^[0-9a-f]{64}$")


@dataclasses.dataclass(frozen=True)
class FileData:
    """A file on its way into the store (inbound attachment or outbound upload)."""

    filename: str
    content_type: str
    data: bytes
    content_id: str | None = None
    inline: bool = False


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class AttachmentStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        # folders known to exist (creating them is the slow part of a small write)
        self._folders: set[Path] = set()

    def path_for(self, sha256: str) -> Path:
        if not _SHA256.match(sha256):
            raise NotFound("no such attachment", sha256=sha256)
        return self.root / sha256[:2] / sha256[2:4] / sha256

    def put(self, data: bytes) -> str:
        """Store ``data`` (if not there yet) and return its sha256."""
        sha256 = digest(data)
        path = self.path_for(sha256)
        if path.exists():
            return sha256
        if path.parent not in self._folders:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._folders.add(path.parent)
        temporary = path.with_name(f".{sha256}.{secrets.token_hex(4)}.tmp")
        temporary.write_bytes(data)
        os.replace(temporary, path)
        return sha256

    def put_many(self, blobs: Iterable[bytes]) -> None:
        """Store several at once (run in a thread while the database works)."""
        for data in blobs:
            self.put(data)

    def get(self, sha256: str) -> bytes:
        path = self.path_for(sha256)
        if not path.exists():
            raise NotFound("attachment bytes missing", sha256=sha256)
        return path.read_bytes()

    def sync(self) -> None:
        """Flush written files to disk (before mail is deleted on the server)."""
        os.sync()


def attachment_rows(store: AttachmentStore, organisation_id: int, message_id: int,
                    files: Sequence[FileData], *, stored: bool = False) -> list[Attachment]:
    """The rows for ``files`` (not yet added to a session), storing their bytes unless
    the caller has ``stored`` them already."""
    return [
        Attachment(organisation_id=organisation_id, message_id=message_id,
                   sha256=digest(item.data) if stored else store.put(item.data),
                   filename=item.filename[:255] or "bijlage",
                   content_type=item.content_type[:120] or "application/octet-stream",
                   size=len(item.data), content_id=item.content_id, inline=item.inline)
        for item in files
    ]


def attach_files(session: AsyncSession, store: AttachmentStore, organisation_id: int,
                 message_id: int, files: Sequence[FileData]) -> list[Attachment]:
    """Store the bytes of ``files`` and add their rows to the message."""
    rows = attachment_rows(store, organisation_id, message_id, files)
    session.add_all(rows)
    return rows
