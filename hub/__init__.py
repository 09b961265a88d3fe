"""Zorghub: one secure inbox, chat and shift hub for small Dutch care organisations."""

__version__ = "0.1.0"
