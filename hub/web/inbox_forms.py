"""Reading the inbox forms: numbers, moments in Dutch local time, uploaded files.

Everything a form sends is text until checked here; what does not fit becomes an
``InvalidInput`` with a message for the person who filled it in.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Mapping
from typing import Any
from zoneinfo import ZoneInfo

from starlette.datastructures import FormData, UploadFile

from hub.errors import InvalidInput, PayloadTooLarge
from hub.inbox.attachments import FileData
from hub.inbox.files import MAX_FILES, check_upload, clean_filename
from hub.settings import Settings

LOCAL = ZoneInfo("Europe/Amsterdam")
# form fields are small; files are limited by max_attachment_bytes, checked per file
MAX_FIELDS = 40


def new_form_id() -> str:
    """A random id for one rendering of a form: a double submit stores one message."""
    return secrets.token_hex(12)


def text_field(form: Mapping[str, Any], name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


def int_field(form: Mapping[str, Any], name: str) -> int:
    found = optional_int(form, name)
    if found is None:
        raise InvalidInput("Ongeldig nummer in het formulier.", field=name)
    return found


def optional_int(form: Mapping[str, Any], name: str) -> int | None:
    raw = text_field(form, name).strip()
    if not raw:
        return None
    if not raw.isdigit() or len(raw) > 18:
        raise InvalidInput("Ongeldig nummer in het formulier.", field=name)
    return int(raw)


def local_moment(raw: str, field: str = "until") -> dt.datetime:
    """A ``datetime-local`` value, meant in Dutch time, as an aware UTC datetime."""
    try:
        naive = dt.datetime.fromisoformat(raw.strip())
    except ValueError:
        raise InvalidInput("Kies een datum en tijd.", field=field) from None
    if naive.tzinfo is not None:
        return naive.astimezone(dt.UTC)
    return naive.replace(tzinfo=LOCAL).astimezone(dt.UTC)


def local_input_value(moment: dt.datetime) -> str:
    """The value for a ``datetime-local`` input showing ``moment`` in Dutch time."""
    return moment.astimezone(LOCAL).strftime("%Y-%m-%dT%H:%M")


def tomorrow_morning(now: dt.datetime) -> dt.datetime:
    local = now.astimezone(LOCAL) + dt.timedelta(days=1)
    return local.replace(hour=8, minute=0, second=0, microsecond=0).astimezone(dt.UTC)


def _uploads(form: FormData, name: str) -> list[UploadFile]:
    found = [f for f in form.getlist(name) if isinstance(f, UploadFile)]
    # an empty file input still sends one nameless, empty part
    return [f for f in found if f.filename or (f.size or 0) > 0]


async def read_uploads(form: FormData, settings: Settings, name: str = "files") -> list[FileData]:
    """The form's files, each checked (size before reading, then type) for a clear error."""
    uploads = _uploads(form, name)
    if len(uploads) > MAX_FILES:
        raise InvalidInput(f"Hoogstens {MAX_FILES} bijlagen per bericht.", field="attachment")
    files = []
    for upload in uploads:
        label = clean_filename(upload.filename or "")
        if (upload.size or 0) > settings.max_attachment_bytes:
            limit = settings.max_attachment_bytes // (1024 * 1024)
            raise PayloadTooLarge(f"{label} is te groot; de grens is {limit} MB.",
                                  field="attachment", filename=label)
        data = await upload.read(settings.max_attachment_bytes + 1)
        files.append(check_upload(settings, upload.filename or "", data))
    return files


async def parse_form(request: Any) -> FormData:
    """The request's form with bounded field count and file count."""
    form: FormData = await request.form(max_files=MAX_FILES + 1, max_fields=MAX_FIELDS)
    return form
