"""Fixtures for the mail worker tests: a real Dovecot account and a mailbox row on it."""

from __future__ import annotations

import dataclasses

import pytest

from hub.resources import Resources
from tests.channels.servers import Dovecot, dovecot, mail_user  # noqa: F401
from tests.factories import make_mailbox, make_org
from tests.helpers.smtp import smtp_server  # noqa: F401


@dataclasses.dataclass
class MailEnv:
    hub: Resources
    dovecot: Dovecot
    user: str
    organisation_id: int
    mailbox_id: int

    def append(self, *raws: bytes, folder: str = "INBOX") -> list[int]:
        return self.dovecot.append(self.user, list(raws), folder)


@pytest.fixture
async def mail_env(hub: Resources, dovecot: Dovecot, mail_user: str) -> MailEnv:  # noqa: F811
    async with hub.sessions() as session, session.begin():
        org = await make_org(session, signature="Met vriendelijke groet,\nThuiszorg De Linde")
        mailbox = await make_mailbox(session, org, imap_port=dovecot.port, imap_user=mail_user,
                                     address="zorgteam@zorg.test")
    return MailEnv(hub, dovecot, mail_user, org.id, mailbox.id)
