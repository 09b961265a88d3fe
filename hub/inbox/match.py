"""Who wrote: the sender's address against the organisation's client contacts.

Reply-To is tried before From (a care portal or a relative's work account often sends
"on behalf of" with the real address in Reply-To). Addresses compare case-insensitively.
A contact that belongs to one client links the conversation to that client; a
representative known for several clients links none, and staff choose among the
``candidates`` (``candidate_clients`` gives them to the inbox UI). Unknown senders give
an unlinked conversation (``client_id=None``), which staff link in one step
(``hub.inbox.linking``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.db.models import ClientContact

# address -> [(contact_id, client_id)], oldest contact first
ContactIndex = dict[str, list[tuple[int, int]]]


@dataclasses.dataclass(frozen=True)
class SenderMatch:
    address: str  # the address that matched, else the first one tried
    contact_id: int | None = None
    client_id: int | None = None  # set only when the sender belongs to exactly one client
    candidates: tuple[int, ...] = ()  # every client this address is a contact for


async def load_contacts(session: AsyncSession, organisation_id: int,
                        addresses: Iterable[str]) -> ContactIndex:
    """One query for all ``addresses`` (a whole fetched batch at once)."""
    wanted = sorted({a.strip().lower() for a in addresses if a and a.strip()})
    index: ContactIndex = {a: [] for a in wanted}
    if not wanted:
        return index
    rows = await session.execute(
        select(func.lower(ClientContact.email), ClientContact.id, ClientContact.client_id)
        .where(ClientContact.organisation_id == organisation_id,
               func.lower(ClientContact.email).in_(wanted))
        .order_by(ClientContact.id))
    for address, contact_id, client_id in rows:
        index.setdefault(address, []).append((contact_id, client_id))
    return index


def pick_sender(index: ContactIndex, addresses: Sequence[str]) -> SenderMatch:
    """The first of ``addresses`` (Reply-To, then From) that is a known contact."""
    tried = [a.strip().lower() for a in addresses if a and a.strip()]
    for address in tried:
        rows = index.get(address) or []
        if rows:
            clients = tuple(dict.fromkeys(client for _, client in rows))
            only = clients[0] if len(clients) == 1 else None
            return SenderMatch(address, contact_id=rows[0][0], client_id=only,
                               candidates=clients)
    return SenderMatch(tried[0] if tried else "")


async def match_sender(session: AsyncSession, organisation_id: int,
                       addresses: Sequence[str]) -> SenderMatch:
    return pick_sender(await load_contacts(session, organisation_id, addresses), addresses)


async def candidate_clients(session: AsyncSession, organisation_id: int,
                            address: str | None) -> list[int]:
    """Every client ``address`` is a contact for (for staff to choose from)."""
    if not address:
        return []
    return list(pick_sender(await load_contacts(session, organisation_id, [address]),
                            [address]).candidates)
