"""The JSON API under ``/api/v1``: token-authenticated, errors as JSON with a stable code."""

from __future__ import annotations

from starlette.routing import BaseRoute


def routes() -> list[BaseRoute]:
    return []
