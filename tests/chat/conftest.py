"""The chat tests share the realtime tests' organisation (``zorg``)."""

from __future__ import annotations

from tests.realtime.conftest import zorg

__all__ = ["zorg"]
