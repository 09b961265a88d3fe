"""Shared mailboxes as an admin configures them, and the connection settings built from them.

An admin adds a mailbox (IMAP to read, SMTP to answer), can test the connection before
saving, and sees its health: when it was last polled successfully, the last error and
how many attempts in a row failed. A failing mailbox is retried with backoff forever; it
is never switched off behind anyone's back.
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.channels.email import ImapConfig, ImapMailbox
from hub.channels.email_responses import FolderState
from hub.channels.email_smtp import SmtpConfig
from hub.db.models import Mailbox
from hub.errors import InvalidInput, NotFound
from hub.security import audit
from hub.security.principal import Principal
from hub.settings import Settings

SECURITY_CHOICES = ("tls", "starttls", "none")
TEST_TIMEOUT = 15.0
# fields an admin form sets; passwords are only replaced when a new one is typed
FORM_FIELDS = ("name", "address", "imap_host", "imap_port", "imap_security", "imap_user",
               "imap_password", "folder", "smtp_host", "smtp_port", "smtp_security",
               "smtp_user", "smtp_password", "mark_seen", "delete_after_import", "enabled")
_SECRETS = ("imap_password", "smtp_password")
_INTS = ("imap_port", "smtp_port")
_BOOLS = ("mark_seen", "delete_after_import", "enabled")


def tls_context(settings: Settings) -> ssl.SSLContext | None:
    """The system's trust store plus ``settings.mail_ca_file``; None when that is unset."""
    if not settings.mail_ca_file:
        return None
    context = ssl.create_default_context()
    context.load_verify_locations(settings.mail_ca_file)
    return context


def imap_config(mailbox: Mailbox, settings: Settings, timeout: float = 30.0) -> ImapConfig:
    return ImapConfig(host=mailbox.imap_host, port=mailbox.imap_port,
                      security=mailbox.imap_security, user=mailbox.imap_user,
                      password=mailbox.imap_password, folder=mailbox.folder or "INBOX",
                      timeout=timeout, ssl_context=tls_context(settings))


def smtp_config(mailbox: Mailbox, settings: Settings) -> SmtpConfig:
    """The mailbox's own SMTP server, else the hub's (``HUB_SMTP_*``)."""
    if mailbox.smtp_host:
        return SmtpConfig(host=mailbox.smtp_host, port=mailbox.smtp_port,
                          security=mailbox.smtp_security, user=mailbox.smtp_user,
                          password=mailbox.smtp_password, tls_context=tls_context(settings))
    return SmtpConfig(host=settings.smtp_host, port=settings.smtp_port,
                      security=settings.smtp_security, user=settings.smtp_user,
                      password=settings.smtp_password, tls_context=tls_context(settings))


def config_fingerprint(mailbox: Mailbox) -> tuple[Any, ...]:
    """What a running poller depends on; a change means restart it."""
    return (mailbox.imap_host, mailbox.imap_port, mailbox.imap_security, mailbox.imap_user,
            mailbox.imap_password, mailbox.folder, mailbox.enabled, mailbox.mark_seen,
            mailbox.delete_after_import)


async def check_connection(mailbox: Mailbox, settings: Settings) -> FolderState:
    """Connect, log in and open the folder; raises ChannelError saying what failed."""
    async with ImapMailbox(imap_config(mailbox, settings, TEST_TIMEOUT)) as connection:
        return await connection.open()


async def list_mailboxes(session: AsyncSession, organisation_id: int) -> Sequence[Mailbox]:
    return (await session.scalars(select(Mailbox).where(
        Mailbox.organisation_id == organisation_id).order_by(Mailbox.name))).all()


async def get_mailbox(session: AsyncSession, organisation_id: int, mailbox_id: int) -> Mailbox:
    mailbox = await session.scalar(select(Mailbox).where(
        Mailbox.id == mailbox_id, Mailbox.organisation_id == organisation_id))
    if mailbox is None:
        raise NotFound("mailbox niet gevonden", id=mailbox_id)
    return mailbox


def clean_form(form: Mapping[str, Any], *, new: bool) -> dict[str, Any]:
    """Validated field values from an admin form (a checkbox absent means off)."""
    values: dict[str, Any] = {}
    for name in FORM_FIELDS:
        raw = form.get(name)
        if name in _BOOLS:
            values[name] = raw in ("on", "1", "true", True)
        elif name in _SECRETS:
            if raw:
                values[name] = str(raw)
            elif new and name == "imap_password":
                raise InvalidInput("wachtwoord is verplicht", field=name)
        elif name in _INTS:
            values[name] = _port(raw, name)
        else:
            values[name] = str(raw or "").strip()
    _check(values)
    return values


def _port(raw: Any, name: str) -> int:
    try:
        port = int(str(raw).strip())
    except ValueError as exc:
        raise InvalidInput("poort moet een getal zijn", field=name) from exc
    if not 0 < port < 65536:
        raise InvalidInput("poort buiten bereik", field=name)
    return port


def _check(values: dict[str, Any]) -> None:
    for name in ("name", "address", "imap_host", "imap_user"):
        if not values[name]:
            raise InvalidInput(f"{name} is verplicht", field=name)
    if "@" not in values["address"]:
        raise InvalidInput("geen geldig e-mailadres", field="address")
    for name in ("imap_security", "smtp_security"):
        if values[name] not in SECURITY_CHOICES:
            raise InvalidInput("kies tls, starttls of none", field=name)
    values["folder"] = values["folder"] or "INBOX"


async def save_mailbox(session: AsyncSession, who: Principal, values: dict[str, Any],
                       mailbox_id: int | None = None) -> Mailbox:
    """Create or update a mailbox; audited (it says where client mail comes from)."""
    if mailbox_id is None:
        mailbox = Mailbox(organisation_id=who.organisation_id, **values)
        session.add(mailbox)
    else:
        mailbox = await get_mailbox(session, who.organisation_id, mailbox_id)
        for name, value in values.items():
            setattr(mailbox, name, value)
    await session.flush()
    changed = sorted(k for k in values if k not in _SECRETS)
    await audit.record(session, who, audit.Event.CREATE if mailbox_id is None
                       else audit.Event.CHANGE, object_ref=f"mailbox:{mailbox.id}",
                       detail=f"mailbox {mailbox.address}: {', '.join(changed)}")
    return mailbox


def health(mailbox: Mailbox) -> dict[str, Any]:
    """The health line an admin sees."""
    return {
        "last_poll_at": mailbox.last_poll_at, "last_error": mailbox.last_error,
        "last_error_at": mailbox.last_error_at, "failures": mailbox.consecutive_failures,
        "uidvalidity": mailbox.uidvalidity, "last_uid": mailbox.last_uid,
    }
