"""arq workers: one job family per module (mail, outbound, webhooks, shifts, followups)."""
