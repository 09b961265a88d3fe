"""The database for one-shot commands (import, create-admin, demo, create-token).

These run outside the web process, without Redis: they change rows and nothing else.
They bring the schema up to date first, so they work on a fresh install too.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.db.engine import SessionFactory, create_engine, create_session_factory
from hub.db.migrate import upgrade
from hub.db.models import Organisation
from hub.errors import InvalidInput, NotFound
from hub.settings import Settings

_SLUG = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")


@asynccontextmanager
async def command_database(settings: Settings) -> AsyncIterator[SessionFactory]:
    # Alembic runs its own event loop (asyncio.run), so it gets a thread of its own;
    # its INFO lines would bury the command's own output
    logging.getLogger("alembic").setLevel(max(logging.WARNING, logging.root.level))
    await asyncio.to_thread(upgrade, settings)
    engine = create_engine(settings)
    try:
        yield create_session_factory(engine)
    finally:
        await engine.dispose()


async def find_organisation(session: AsyncSession, slug: str) -> Organisation:
    org = await session.scalar(select(Organisation).where(Organisation.slug == slug))
    if org is None:
        raise NotFound(f"organisatie {slug!r} bestaat niet", slug=slug)
    return org


async def ensure_organisation(session: AsyncSession, slug: str, name: str = "") -> Organisation:
    """The organisation with this slug, created (named ``name`` or the slug) when missing."""
    if not _SLUG.fullmatch(slug):
        raise InvalidInput("ongeldige organisatiecode (kleine letters, cijfers en -)",
                           fields={"org": slug})
    org = await session.scalar(select(Organisation).where(Organisation.slug == slug))
    if org is None:
        org = Organisation(slug=slug, name=name or slug)
        session.add(org)
        await session.flush()
    return org
