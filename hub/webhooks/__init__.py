"""Inbound webhooks from outside vendors: Meta's WhatsApp Cloud API and Messenger.

Each endpoint only verifies, stores and acknowledges; the work happens in a worker
(``workers.webhooks``), so Meta gets its 200 quickly and nothing is lost when the worker
is busy or down.
"""

from hub.webhooks.meta import routes

__all__ = ["routes"]
