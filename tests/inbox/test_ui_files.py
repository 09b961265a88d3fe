"""Uploads: size cap, allowed types by name and content; downloads: authorised, audited."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from hub.db.engine import transaction
from hub.db.models import AuditRecord
from hub.errors import FileTypeNotAllowed, InvalidInput, NotFound, PayloadTooLarge
from hub.inbox import actions
from hub.inbox.attachments import AttachmentStore, attach_files
from hub.inbox.files import (
    MAX_FILES,
    audit_refused_download,
    check_upload,
    check_uploads,
    clean_filename,
    open_attachment,
)
from hub.resources import Resources
from hub.settings import Settings
from tests.factories import (
    make_client,
    make_conversation,
    make_org,
    make_portal_user,
    make_staff,
    make_team,
)
from tests.helpers.inbox import inbound, principal_of

PDF = b"%PDF-1.7\n1 0 obj <<>> endobj\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 20


def test_allowed_files_get_our_content_type() -> None:
    settings = Settings()
    assert check_upload(settings, "verslag.PDF", PDF).content_type == "application/pdf"
    assert check_upload(settings, "foto.png", PNG).content_type == "image/png"
    assert check_upload(settings, "notitie.txt", "Graag €5".encode()).content_type == \
        "text/plain"


@pytest.mark.parametrize("name", ["setup.exe", "pagina.html", "plaatje.svg", "script.js",
                                  "geen_extensie", ".pdf", "macro.docm"])
def test_forbidden_types_get_a_clear_message(name: str) -> None:
    with pytest.raises(FileTypeNotAllowed) as caught:
        check_upload(Settings(), name, PDF)
    assert "niet toegestaan" in caught.value.message and "pdf" in caught.value.message
    assert caught.value.status == 415


@pytest.mark.parametrize(("name", "data"), [
    ("rapport.pdf", b"<html><script>alert(1)</script></html>"),
    ("foto.jpg", PNG), ("brief.docx", PDF), ("tekst.txt", b"\xff\xfe\x00binary"),
])
def test_a_file_must_be_what_its_name_says(name: str, data: bytes) -> None:
    with pytest.raises(FileTypeNotAllowed, match="geen echt"):
        check_upload(Settings(), name, data)


def test_oversize_uploads_are_refused_with_the_limit() -> None:
    settings = Settings(max_attachment_bytes=1024 * 1024)
    with pytest.raises(PayloadTooLarge) as caught:
        check_upload(settings, "scan.pdf", PDF + b"0" * (2 * 1024 * 1024))
    assert "te groot" in caught.value.message and "1 MB" in caught.value.message
    with pytest.raises(InvalidInput):
        check_upload(settings, "leeg.pdf", b"")
    with pytest.raises(InvalidInput):
        check_uploads(settings, [("a.pdf", PDF)] * (MAX_FILES + 1))


def test_filenames_lose_folders_and_markup() -> None:
    assert clean_filename("../../etc/passwd") == "passwd"
    assert clean_filename('C:\\Users\\x\\<img src=x onerror=alert(1)>.pdf') == \
        "_img src=x onerror=alert(1)_.pdf"
    assert clean_filename("\x00\x1f") == "bijlage"
    assert len(clean_filename("a" * 400 + ".pdf")) <= 200


async def test_downloads_are_authorised_and_audited(hub: Resources, tmp_path: Path) -> None:
    store = AttachmentStore(tmp_path / "files")
    async with transaction(hub.sessions) as db:
        org = await make_org(db)
        team = await make_team(db, org)
        anna = await make_staff(db, org, team=team)
        outsider = await make_staff(db, org)
        client = await make_client(db, org, team=team)
        daughter = await make_portal_user(db, org, clients=(client,))
        conv = await make_conversation(db, org, client=client, channel="portal")
        message = await inbound(db, conv, "zie bijlage")
        note = await actions.add_note(db, principal_of(anna), conv.id, "intern verslag")
        [public] = attach_files(db, store, org.id, message.id,
                                [check_upload(hub.settings, "brief<b>.txt", b"hallo")])
        [private] = attach_files(db, store, org.id, note.id,
                                 [check_upload(hub.settings, "intern.pdf", PDF)])
        await db.flush()
        got = await open_attachment(db, principal_of(anna), store, public.id)
        assert got.data == b"hallo"
        assert got.headers["Content-Disposition"].startswith('attachment; filename="brief_b_.txt"')
        assert got.headers["X-Content-Type-Options"] == "nosniff"
        assert got.media_type == "application/octet-stream"
        assert (await open_attachment(db, principal_of(daughter), store, public.id)).data
        for who, attachment in ((outsider, public), (daughter, private)):
            with pytest.raises(NotFound):
                await open_attachment(db, principal_of(who), store, attachment.id)
        await audit_refused_download(db, principal_of(outsider), public.id)
        lines = (await db.scalars(select(AuditRecord).where(
            AuditRecord.object_ref == f"attachment:{public.id}"))).all()
        assert [(a.event, a.user_type, a.client_id) for a in lines] == [
            ("read", "staff", client.id), ("read", "portal", client.id),
            ("denied", "staff", client.id)]
