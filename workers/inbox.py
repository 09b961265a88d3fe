"""Inbox jobs: reopen snoozed conversations when they are due.

``reopen_snoozed`` is both a cron sweep (every minute) and the deferred job that
``hub.inbox.actions.set_status`` enqueues for the exact moment; either way it only looks
at the database, so running it twice or late changes nothing twice (invariant 3).
"""

from __future__ import annotations

from typing import Any

from arq import cron

from hub.events import unit_of_work
from hub.inbox.snooze import BATCH, reopen_due


async def reopen_snoozed(ctx: dict[str, Any]) -> int:
    hub = ctx["hub"]
    total = 0
    # bounded: a backlog is worked off in batches, each in its own transaction
    for _ in range(100):
        async with unit_of_work(hub.sessions, hub.events) as session:
            woken = await reopen_due(session)
        total += woken
        if woken < BATCH:
            break
    return total


FUNCTIONS = [reopen_snoozed]
CRON_JOBS = [cron(reopen_snoozed, second={0}, run_at_startup=True)]
