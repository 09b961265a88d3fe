"""Staff chat: direct messages, team rooms and group rooms, with members, mentions,
unread counts and search. Every room is a realtime stream with its own sequence numbers
(``hub.db.sequence``); events leave only after commit (``hub.events``)."""
