"""Waiting, with a deadline, for something another task or process does."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable


async def eventually(check: Callable[[], Awaitable[bool]], seconds: float = 10.0,
                     every: float = 0.1) -> None:
    """Return once ``check()`` is true; fail when it is not within ``seconds``."""
    deadline = asyncio.get_running_loop().time() + seconds
    while not await check():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(every)
