"""One organisation with every kind of user the access rules tell apart, and a second
organisation; used by the authorization matrix and the audit tests.

Who sees client ``client`` (and its portal conversation ``conversation``):

- ``carer``: yes, personal caseload;      ``coordinator``: yes, coordinates its team;
- ``stranger``: no, same organisation but no care relationship;
- ``admin``: no, unless through emergency access;  ``privacy_officer``: no;
- ``outsider``: no, an admin of the *other* organisation;
- ``portal_own``: yes, linked to the client;  ``portal_other``: no, linked to another;
- ``api_token``: client records of its organisation; ``api_other_org``: not this one;
- ``anonymous``: nobody signed in.
"""

from __future__ import annotations

import dataclasses

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.db.engine import transaction
from hub.db.models import (
    ChannelAccount,
    Client,
    ClientContact,
    Conversation,
    Message,
    Organisation,
    PortalUser,
    QuarantinedItem,
    Staff,
    Team,
)
from hub.inbox.attachments import AttachmentStore, FileData, attach_files
from hub.resources import Resources
from hub.security.principal import Principal
from hub.security.tokens import create_token
from tests.factories import (
    make_client,
    make_contact,
    make_conversation,
    make_mailbox,
    make_org,
    make_portal_user,
    make_staff,
    make_team,
)
from tests.helpers.auth import hashed

ROLES = ("carer", "stranger", "coordinator", "admin", "privacy_officer", "outsider",
         "portal_own", "portal_other", "api_token", "api_other_org", "anonymous")
TOTP_SECRET = "BXETI2ERZZKD6HNORLWBGHHAMBYMLMMJ"


@dataclasses.dataclass
class World:
    org: Organisation
    other_org: Organisation
    team: Team
    client: Client
    other_client: Client
    contact: ClientContact
    conversation: Conversation
    other_conversation: Conversation
    users: dict[str, Staff | PortalUser]
    tokens: dict[str, str]
    # a file on the conversation's first (inbound) message
    attachment_id: int = 0
    # a shared mailbox of the organisation, and a mail of it in quarantine
    mailbox_id: int = 0
    quarantine_id: int = 0
    # a WhatsApp number of the organisation, and a webhook item of it in quarantine
    channel_account_id: int = 0
    channel_item_id: int = 0

    def principal(self, role: str) -> Principal:
        """The principal the guards make for ``role`` (second factor done)."""
        user = self.users[role]
        if isinstance(user, Staff):
            return Principal("staff", user.organisation_id, user.id, user.name, user.role,
                             is_privacy_officer=user.is_privacy_officer,
                             second_factor=bool(user.totp_secret), ip="127.0.0.1")
        return Principal("portal", user.organisation_id, user.id, user.name, "portal",
                         ip="127.0.0.1")

    def kind_of(self, role: str) -> str:
        if role.startswith("api"):
            return "api"
        user = self.users.get(role)
        if user is None:
            return "anonymous"
        return "staff" if isinstance(user, Staff) else "portal"


async def build_world(hub: Resources, *, default_org: bool = True) -> World:
    """A world; its first organisation is the default one (``default_org_slug``) unless
    ``default_org=False`` (for a test that builds several worlds)."""
    async with transaction(hub.sessions) as db:
        slug = {"slug": hub.settings.default_org_slug} if default_org else {}
        org = await make_org(db, name="Thuiszorg De Linde", **slug)
        other = await make_org(db, name="Zorggroep Het Baken")
        world = await _populate(db, org, other)
        world.attachment_id = await _attachment(db, hub, world.conversation)
        world.mailbox_id, world.quarantine_id = await _mailbox(db, org)
        world.channel_account_id, world.channel_item_id = await _channel(db, org)
        return world


async def _mailbox(db: AsyncSession, org: Organisation) -> tuple[int, int]:
    mailbox = await make_mailbox(db, org, address="zorgteam@delinde.test", enabled=False)
    item = QuarantinedItem(organisation_id=org.id, source="email", mailbox_id=mailbox.id,
                           external_ref="1/1", raw=b"\x01 geen mail", reason="no headers")
    db.add(item)
    await db.flush()
    return mailbox.id, item.id


async def _channel(db: AsyncSession, org: Organisation) -> tuple[int, int]:
    number = str(3_100_000_000 + org.id)  # unique across the worlds of one test
    account = ChannelAccount(organisation_id=org.id, kind="whatsapp",
                             external_account_id=number, name="WhatsApp De Linde",
                             access_token="EAA-world-token")
    db.add(account)
    item = QuarantinedItem(organisation_id=org.id, source="whatsapp", external_ref="webhook:1",
                           raw=b'{"object": "whatsapp_business_account", "entry": []}',
                           reason="onleesbaar: test")
    db.add(item)
    await db.flush()
    return account.id, item.id


async def _attachment(db: AsyncSession, hub: Resources, conversation: Conversation) -> int:
    first = await db.scalar(select(Message.id).where(
        Message.conversation_id == conversation.id, Message.seq == 1))
    assert first is not None
    store = AttachmentStore(hub.settings.attachments_dir)
    [row] = attach_files(db, store, conversation.organisation_id, first, [
        FileData("recept.pdf", "application/pdf", b"%PDF-1.4 recept")])
    await db.flush()
    return row.id


async def _populate(db: AsyncSession, org: Organisation, other: Organisation) -> World:
    team = await make_team(db, org, name="Team Noord")
    staff = {
        "carer": await make_staff(db, org, name="Fatima El Amrani", password_hash=hashed()),
        "stranger": await make_staff(db, org, name="Joost Smit", password_hash=hashed()),
        "coordinator": await make_staff(db, org, team=team, coordinator_of_team=True,
                                        name="Petra de Boer", role="coordinator"),
        "admin": await make_staff(db, org, name="Willem Bos", role="admin"),
        "privacy_officer": await make_staff(db, org, name="Marieke Jansen",
                                            is_privacy_officer=True, totp_secret=TOTP_SECRET),
        "outsider": await make_staff(db, other, name="Karel Peeters", role="admin"),
    }
    client = await make_client(db, org, caseload_of=staff["carer"], given_name="Henk",
                               family_name="Vermeulen", client_number="C-1001")
    client.team_id = team.id  # coordinated by the team, without a team relationship
    other_client = await make_client(db, org, given_name="Truus", family_name="Kok",
                                     client_number="C-1002")
    contact = await make_contact(db, client, name="Ans Vermeulen", relation="family",
                                 email="ans.vermeulen@familie.test")
    conversation = await make_conversation(db, org, client=client, channel="portal",
                                           subject="Medicatie")
    other_conversation = await make_conversation(db, org, client=other_client,
                                                 channel="portal", subject="Afspraak")
    await _messages(db, conversation)
    users: dict[str, Staff | PortalUser] = {**staff}
    users["portal_own"] = await make_portal_user(db, org, clients=(client,), relation="family",
                                                 password_hash=hashed())
    users["portal_other"] = await make_portal_user(db, org, clients=(other_client,))
    tokens = {"api_token": await create_token(db, org.id, "ECD-koppeling"),
              "api_other_org": await create_token(db, other.id, "ECD Het Baken")}
    return World(org, other, team, client, other_client, contact, conversation,
                 other_conversation, users, tokens)


async def _messages(db: AsyncSession, conversation: Conversation) -> None:
    for seq, (direction, body) in enumerate([
        ("in", "Mag mijn vader zijn medicijnen later innemen?"),
        ("out", "Ja, dat kan tot twee uur later."),
        ("note", "Interne notitie: arts gebeld."),
    ], start=1):
        db.add(Message(organisation_id=conversation.organisation_id,
                       conversation_id=conversation.id, seq=seq, direction=direction,
                       channel="note" if direction == "note" else "portal",
                       external_id=f"test-{conversation.id}-{seq}", body_text=body,
                       sender_name="Ans Vermeulen" if direction == "in" else "Fatima"))
    conversation.last_seq = 3
    await db.flush()
