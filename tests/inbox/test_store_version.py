"""A stored message raises the conversation's version in SQL, so it never undoes a
concurrent conditional update (``hub.inbox.actions``) made after the conversation was
loaded: a form drawn before either change is refused."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from hub.db.engine import transaction
from hub.db.models import Conversation
from hub.errors import Conflict
from hub.inbox import actions
from hub.inbox.store import NewMessage, store_message, store_new_messages
from hub.resources import Resources
from tests.factories import make_client, make_conversation, make_org, make_staff
from tests.helpers.inbox import principal_of


async def _version(hub: Resources, conversation_id: int) -> int:
    async with hub.sessions() as db:
        return int(await db.scalar(select(Conversation.version).where(
            Conversation.id == conversation_id)) or 0)


def _mail(n: int) -> NewMessage:
    return NewMessage(channel="email", direction="in", external_id=f"m{n}@familie.test",
                      body_text=f"Vraag {n}")


@pytest.mark.parametrize("batch", [False, True])
async def test_a_message_does_not_undo_a_concurrent_change(hub: Resources,
                                                           batch: bool) -> None:
    async with transaction(hub.sessions) as db:
        org = await make_org(db)
        anna = await make_staff(db, org, name="Anna de Vries")
        client = await make_client(db, org, caseload_of=anna)
        conversation = await make_conversation(db, org, client=client)
    seen = conversation.version  # the mail poller loaded it at this version ...
    async with transaction(hub.sessions) as db:  # ... then a colleague resolved it
        await actions.set_status(db, principal_of(anna), conversation.id, seen, "resolved")
    async with transaction(hub.sessions) as db:
        stale = await db.merge(conversation, load=False)  # still holds the old version
        if batch:
            await store_new_messages(db, [(stale, _mail(1)), (stale, _mail(2))])
        else:
            await store_message(db, stale, _mail(1))
        assert stale.version == seen + (3 if batch else 2)
    assert await _version(hub, conversation.id) == seen + (3 if batch else 2)
    async with transaction(hub.sessions) as db:
        with pytest.raises(Conflict):  # drawn after the colleague, before the mail
            await actions.set_status(db, principal_of(anna), conversation.id, seen + 1, "open")
