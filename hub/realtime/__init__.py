"""Websocket endpoints, the JSON frame protocol and per-process fan-out from Redis."""
