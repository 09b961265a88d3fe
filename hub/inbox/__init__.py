"""The way into the inbox: normalise (pure) -> match to client -> thread -> store -> events."""
