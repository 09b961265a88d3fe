"""Outgoing mail of the hub itself (invitations, password resets, notifications)."""
