"""Connect a WhatsApp Business number or a Facebook Page to an organisation.

Used by ``hub add-channel``. The account's external id is what Meta's webhooks name
(WhatsApp ``phone_number_id``, Messenger page id), so it belongs to one organisation
only. Running the command again for the same account updates its name, token and
notice template (rotating an expired token), and never moves it to another
organisation.
"""

from __future__ import annotations

import dataclasses
import re

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.db.engine import transaction
from hub.db.models import ChannelAccount
from hub.db.models.messaging import Channel
from hub.errors import Conflict, InvalidInput
from hub.records.db import command_database, find_organisation
from hub.settings import Settings

KINDS = (Channel.WHATSAPP.value, Channel.MESSENGER.value)
_ACCOUNT_ID = re.compile(r"^[0-9]{3,40}$")
_TEMPLATE = re.compile(r"^[a-z0-9_]{1,512}$")
_LANGUAGE = re.compile(r"^[a-z]{2,3}(_[A-Z]{2})?$")


@dataclasses.dataclass(frozen=True)
class AccountInput:
    kind: str
    external_account_id: str
    name: str
    access_token: str
    notice_template: str = ""
    notice_language: str = "nl"
    enabled: bool = True


def check(account: AccountInput) -> None:
    """Refuse what Meta would refuse later (or never deliver to)."""
    problems = {}
    if account.kind not in KINDS:
        problems["kind"] = f"kies uit {', '.join(KINDS)}"
    if not _ACCOUNT_ID.match(account.external_account_id):
        problems["account_id"] = "Meta's id bestaat uit cijfers"
    if not account.name.strip() or len(account.name) > 120:
        problems["name"] = "een naam van 1 tot 120 tekens"
    if not account.access_token.strip() or any(c.isspace() for c in account.access_token):
        problems["token"] = "een toegangstoken zonder spaties"
    if account.notice_template and not _TEMPLATE.match(account.notice_template):
        problems["notice_template"] = "sjabloonnamen bestaan uit a-z, 0-9 en _"
    if not _LANGUAGE.match(account.notice_language):
        problems["notice_language"] = "een taalcode zoals nl of nl_NL"
    if problems:
        raise InvalidInput("ongeldige kanaalgegevens", fields=problems)


async def save_account(session: AsyncSession, organisation_id: int,
                       account: AccountInput) -> tuple[ChannelAccount, bool]:
    """Create or update the account; (row, created)."""
    check(account)
    row = await session.scalar(select(ChannelAccount).where(
        ChannelAccount.kind == account.kind,
        ChannelAccount.external_account_id == account.external_account_id))
    if row is not None and row.organisation_id != organisation_id:
        raise Conflict("dit account is al aan een andere organisatie gekoppeld",
                       account_id=account.external_account_id)
    created = row is None
    if row is None:
        row = ChannelAccount(organisation_id=organisation_id, kind=account.kind,
                             external_account_id=account.external_account_id)
        session.add(row)
    row.name = account.name.strip()
    row.access_token = account.access_token.strip()
    row.notice_template = account.notice_template
    row.notice_language = account.notice_language
    row.enabled = account.enabled
    await session.flush()
    return row, created


async def add_channel(settings: Settings, org_slug: str, account: AccountInput) -> str:
    """The ``hub add-channel`` command: a line saying what was done."""
    async with command_database(settings) as sessions, transaction(sessions) as session:
        org = await find_organisation(session, org_slug)
        row, created = await save_account(session, org.id, account)
        verb = "gekoppeld" if created else "bijgewerkt"
        return f"{row.kind}-account {row.external_account_id} ({row.name}) {verb} " \
               f"voor {org.slug} (id {row.id})"
