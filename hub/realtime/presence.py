"""Presence (online, away, offline) kept in Redis, per organisation, across processes.

Each socket is one entry of its user; the user is online when any socket is online, away
when all are away, offline without sockets. A Lua script changes an entry, recomputes
the user's state and publishes a change on ``presence_channel`` in one step, so two
processes cannot publish a stale state. Entries carry an expiry that the process
refreshes with its heartbeat: the sockets of a killed process expire and any process's
janitor turns their users offline. Staff presence is published (to staff who subscribe
to ``presence``); a portal user's is kept only to decide about offline notifications.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Collection, Iterable
from typing import cast

from redis.asyncio import Redis

from hub.realtime.topics import presence_channel

EXPIRY_INDEX = "hub:presence:expiry"
# up to this many users are looked up by name; more, by reading who is online at all
FEW_KEYS = 32

_SET = """
local userhash, statehash, zset, channel = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local conn, state, member, expiry, userkey, name, ttl = unpack(ARGV)
if state == '' then
  redis.call('HDEL', userhash, conn)
  redis.call('ZREM', zset, member)
else
  redis.call('HSET', userhash, conn, state)
  redis.call('EXPIRE', userhash, ttl)
  redis.call('ZADD', zset, expiry, member)
end
local new = 'offline'
for _, v in ipairs(redis.call('HVALS', userhash)) do
  if v == 'online' then new = 'online' break end
  if v == 'away' then new = 'away' end
end
local old = redis.call('HGET', statehash, userkey) or 'offline'
if new == 'offline' then redis.call('HDEL', statehash, userkey)
else redis.call('HSET', statehash, userkey, new) end
if new ~= old and channel ~= '-' then
  local frame = {type='presence', user=userkey, state=new}
  if name ~= '' then frame['name'] = name end
  redis.call('PUBLISH', channel, cjson.encode(frame))
end
return new
"""


def _user_hash(org: int, userkey: str) -> str:
    return f"hub:{org}:presence:user:{userkey}"


def _state_hash(org: int) -> str:
    return f"hub:{org}:presence:state"


class Presence:
    def __init__(self, redis: Redis, heartbeat: float) -> None:
        self.redis = redis
        self.ttl = max(10, int(heartbeat * 3))
        self.script = redis.register_script(_SET)

    async def update(self, org: int, userkey: str, conn_id: str, state: str,
                  name: str = "") -> str:
        """Set (``state`` "online"/"away") or remove (``""``) one socket's entry."""
        member = f"{org}|{userkey}|{conn_id}"
        channel = presence_channel(org) if userkey.startswith("staff:") else ""
        keys = [_user_hash(org, userkey), _state_hash(org), EXPIRY_INDEX, channel or "-"]
        args = [conn_id, state, member, time.time() + self.ttl, userkey, name, self.ttl]
        result = await self.script(keys=keys, args=[str(a) for a in args])
        return result.decode() if isinstance(result, bytes) else str(result)

    async def refresh(self, entries: Iterable[tuple[int, str, str]]) -> None:
        """Push the expiry of live sockets ``(org, userkey, conn_id)`` forward."""
        expiry = time.time() + self.ttl
        async with self.redis.pipeline(transaction=False) as pipe:
            for org, userkey, conn_id in entries:
                pipe.zadd(EXPIRY_INDEX, {f"{org}|{userkey}|{conn_id}": expiry}, xx=True)
                pipe.expire(_user_hash(org, userkey), self.ttl)
            await pipe.execute()

    async def expire(self, limit: int = 500) -> int:
        """Remove entries whose process stopped refreshing them (a crash, kill -9)."""
        stale = await self.redis.zrangebyscore(EXPIRY_INDEX, "-inf", time.time(),
                                               start=0, num=limit)
        for raw in stale:
            org, userkey, conn_id = raw.decode().split("|", 2)
            await self.update(int(org), userkey, conn_id, "")
        return len(stale)

    async def snapshot(self, org: int) -> dict[str, str]:
        """Staff who are online or away now."""
        found = await cast(Awaitable[dict[bytes, bytes]], self.redis.hgetall(_state_hash(org)))
        states = {k.decode(): v.decode() for k, v in found.items()}
        return {k: v for k, v in states.items() if k.startswith("staff:")}

    async def online_ids(self, org: int, kind: str, ids: Collection[int]) -> set[int]:
        """Which of the ``kind`` users ``ids`` have a socket now (online or away)."""
        if not ids:
            return set()
        prefix = f"{kind}:"
        if len(ids) > FEW_KEYS:
            # who is online in the organisation at all: one small reply, where naming a
            # room's thousand members costs more to send than the answer (measured: 0.08
            # against 0.64 ms for 1,000)
            present = await cast(Awaitable[list[bytes]], self.redis.hkeys(_state_hash(org)))
            raw = prefix.encode()
            return {int(k[len(raw):]) for k in present if k.startswith(raw)}.intersection(ids)
        asked = list(ids)
        values = await cast(Awaitable[list[bytes | None]], self.redis.hmget(
            _state_hash(org), [f"{prefix}{i}" for i in asked]))
        return {i for i, v in zip(asked, values, strict=True) if v}


def presence_frame(userkey: str, state: str, name: str = "") -> str:
    frame = {"type": "presence", "user": userkey, "state": state}
    if name:
        frame["name"] = name
    return json.dumps(frame)
