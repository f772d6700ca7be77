"""The owners' lists (``GET /status``): precomputed by the projector's fan-out, read a page at
a time by the API, in one round trip whatever the owner's size.

Per owner and generation (keys in ``deploystatus.view.keys``, all hash-tagged on the owner so
that one script updates them atomically on a Redis Cluster):

- ``list``: a sorted set, every score 0, so that it is ordered by its members' bytes. A member
  is the entry's *key*, ``<health rank><name><0x00 0x00><deployment id>``, followed by the
  list item's JSON exactly as served: ranks order worst health first, then names (their first
  ``NAME_KEY_BYTES`` bytes of UTF-8, NUL bytes escaped so a shorter name sorts first), then
  ids. A page is a ZRANGEBYLEX from the cursor's key; no second read, no sort per request.
- ``list-status``: the same members, each behind its status's letter: a status filter reads
  the range of each status asked for.
- ``listed``: deployment id -> ``<position>:<status letter><key>``, to find the member to
  replace; ``<position>:`` once it is no longer listed. A write older than the position
  there changes nothing, so a late fan-out can never bring back an older entry.

The owner's set of served deployments (``Keys.owned``) is kept by the same script.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from typing import Any, NamedTuple

from redis.asyncio import RedisCluster

from deploystatus.view.client import RedisClient
from deploystatus.view.errors import translate_errors
from deploystatus.view.keys import Keys
from deploystatus.view.reads import COUNT
from deploystatus.view.scripts import LuaScript, run_scripts
from deploystatus.view.store import Budget, Page, PageQuery

# Worst first: the order of a list.
HEALTHS = ("unhealthy", "degraded", "healthy")
STATUSES = ("pending", "scheduled", "running", "stopped", "failed")
RANKS = {health: str(rank).encode() for rank, health in enumerate(HEALTHS)}
LETTERS = {status: chr(ord("a") + n) for n, status in enumerate(STATUSES)}
# A name's bytes that order the list: the key, and so the cursor holding it, stays bounded
# (the API's URL limit) whatever the name's length.
NAME_KEY_BYTES = 200
SEPARATOR = b"\x00\x00"
ID_BYTES = 36  # a canonical uuid
# Past every member that starts with a given key: JSON never holds the byte 0xFF.
PAST = b"\xff"
# Deployments per index script call: the cost of a command spread over many, while one call
# holds Redis for a short while only.
INDEX_GROUP = 100

# KEYS, four per owner: the owner's set, listed hash, list, list by status. ARGV, per owner:
# how many deployments, then five per deployment: id, position, status letter ('' = not
# listed), member, length of the member's key.
INDEX = LuaScript(
    """
local a = 1
for k = 1, #KEYS, 4 do
  local owned, listed, list, by_status = KEYS[k], KEYS[k + 1], KEYS[k + 2], KEYS[k + 3]
  local last = a + 5 * tonumber(ARGV[a])
  for i = a + 1, last, 5 do
    local id, pos = ARGV[i], ARGV[i + 1]
    local old = redis.call('HGET', listed, id)
    local newer = true
    if old then
      local colon = string.find(old, ':', 1, true)
      if tonumber(string.sub(old, 1, colon - 1)) >= tonumber(pos) then
        newer = false
      elseif #old > colon then
        local letter, key = string.sub(old, colon + 1, colon + 1), string.sub(old, colon + 2)
        redis.call('ZREMRANGEBYLEX', list, '[' .. key, '(' .. key .. '\\255')
        redis.call('ZREMRANGEBYLEX', by_status, '[' .. letter .. key,
                   '(' .. letter .. key .. '\\255')
      end
    end
    if newer then
      local letter, member = ARGV[i + 2], ARGV[i + 3]
      if letter == '' then
        redis.call('HSET', listed, id, pos .. ':')
        redis.call('SREM', owned, id)
      else
        redis.call('ZADD', list, 0, member)
        redis.call('ZADD', by_status, 0, letter .. member)
        local key = string.sub(member, 1, tonumber(ARGV[i + 4]))
        redis.call('HSET', listed, id, pos .. ':' .. letter .. key)
        redis.call('SADD', owned, id)
      end
    end
  end
  a = last + 1
end
return 0
"""
)
# KEYS: the list, the list by status. ARGV: how many members to return at most; the status
# letters to read ('' = the list itself); then a (min, max) lex range of the list per health
# rank, in order. Returns the counts of the three ranks, then the members: rank by rank until
# enough are found (every status's range of a rank is read: their merge is the caller's).
PAGE = LuaScript(
    """
local out = {}
for rank = 0, 2 do
  out[rank + 1] = redis.call('ZLEXCOUNT', KEYS[1], '[' .. rank, '(' .. (rank + 1))
end
local want = tonumber(ARGV[1])
for j = 3, #ARGV, 2 do
  local low, high = ARGV[j], ARGV[j + 1]
  local got = 0
  if ARGV[2] == '' then
    local members = redis.call('ZRANGEBYLEX', KEYS[1], low, high, 'LIMIT', 0, want)
    for _, m in ipairs(members) do out[#out + 1] = m end
    got = #members
  else
    for n = 1, #ARGV[2] do
      local letter = string.sub(ARGV[2], n, n)
      local members = redis.call('ZRANGEBYLEX', KEYS[2],
        string.sub(low, 1, 1) .. letter .. string.sub(low, 2),
        string.sub(high, 1, 1) .. letter .. string.sub(high, 2), 'LIMIT', 0, want)
      for _, m in ipairs(members) do out[#out + 1] = m end
      got = got + #members
    end
  end
  if got >= want then break end
  want = want - got
end
return out
"""
)


class Entry(NamedTuple):
    """A deployment's list entry as the fan-out writes it: ``status`` is ``None`` when it is
    not listed (deleted, or moved to another owner)."""

    deployment_id: str
    position: int
    status: str | None = None
    member: bytes = b""
    key_length: int = 0


def entry_key(health: str, name: str, deployment_id: str) -> bytes:
    """The bytes that order a deployment in its owner's list."""
    name_bytes = name.encode()[:NAME_KEY_BYTES].replace(b"\x00", b"\x00\x01")
    return RANKS[health] + name_bytes + SEPARATOR + deployment_id.encode()


def listed(
    deployment_id: str, position: int, health: str, status: str, name: str, item: bytes
) -> Entry:
    """The entry of a served deployment whose list item is the JSON ``item``."""
    key = entry_key(health, name, deployment_id)
    return Entry(deployment_id, position, status, key + item, len(key))


def queue_index(
    pipe: Any, keys: Keys, generation: str, owners: Sequence[tuple[str, Sequence[Entry]]]
) -> None:
    """Queue the update of these owners' lists with their entries, in one script call: on
    a Redis Cluster, the owners' keys must all be in one slot."""
    owner_keys: list[str] = []
    args: list[Any] = []
    for owner, entries in owners:
        owner_keys += [
            keys.owned(generation, owner),
            keys.listed(generation, owner),
            keys.listing(generation, owner),
            keys.listing_by_status(generation, owner),
        ]
        args.append(len(entries))
        for entry in entries:
            letter = LETTERS[entry.status] if entry.status is not None else ""
            args += [entry.deployment_id, entry.position, letter, entry.member, entry.key_length]
    pipe.evalsha(INDEX.sha, len(owner_keys), *owner_keys, *args)


def index_calls(
    redis: RedisClient, keys: Keys, generation: str, by_owner: dict[str, list[Entry]]
) -> list[list[tuple[str, list[Entry]]]]:
    """The owners' updates grouped into script calls of about ``INDEX_GROUP`` deployments,
    each call's owners in one slot on a Redis Cluster."""
    cluster = redis if isinstance(redis, RedisCluster) else None
    calls: list[list[tuple[str, list[Entry]]]] = []
    open_calls: dict[int, tuple[list[tuple[str, list[Entry]]], list[int]]] = {}
    for owner, entries in by_owner.items():
        slot = cluster.keyslot(keys.owned(generation, owner)) if cluster is not None else 0
        call, size = open_calls.get(slot) or open_calls.setdefault(slot, ([], [0]))
        call.append((owner, entries))
        size[0] += len(entries)
        if size[0] >= INDEX_GROUP:
            calls.append(call)
            del open_calls[slot]
    calls += [call for call, _ in open_calls.values()]
    return calls


def page_args(query: PageQuery) -> list[bytes | int]:
    """The PAGE script's ARGV for ``query``: it reads one more entry than the page holds, to
    know whether another page follows."""
    statuses = query.statuses if query.statuses and len(query.statuses) < len(STATUSES) else ()
    letters = "".join(LETTERS[status] for status in STATUSES if status in statuses)
    args: list[bytes | int] = [query.limit + 1, letters.encode()]
    after = query.after
    start_rank = after[:1] if after is not None else b""
    for health in HEALTHS:
        rank = RANKS[health]
        if (query.healths and health not in query.healths) or rank < start_rank:
            continue
        low = b"[" + (after + PAST if after is not None and rank == start_rank else rank)
        args += [low, b"(" + bytes([rank[0] + 1])]
    return args


def merge(replies: Sequence[bytes], query: PageQuery) -> Page:
    """The page from the PAGE script's reply: the members of several statuses' ranges are
    merged (a sort of at most (limit + 1) x statuses members); the counts come first."""
    counts = dict(zip(HEALTHS, (int(n) for n in replies[:3]), strict=True))
    members = list(replies[3:])
    if query.statuses and len(query.statuses) < len(STATUSES):
        members = sorted(member[1:] for member in members)
    items = members[: query.limit]
    last_key = entry_key_of(items[-1]) if len(members) > query.limit else None
    return Page([item_of(member) for member in items], counts, last_key)


def entry_key_of(member: bytes) -> bytes:
    return member[: member.index(SEPARATOR, 1) + len(SEPARATOR) + ID_BYTES]


def item_of(member: bytes) -> bytes:
    return member[member.index(SEPARATOR, 1) + len(SEPARATOR) + ID_BYTES :]


class RedisListReader:
    """The API's reads of the lists (``deploystatus.view.store.ListReader``)."""

    def __init__(self, redis: RedisClient, keys: Keys) -> None:
        self._redis = redis
        self._keys = keys

    async def page(
        self, generation: str, owner: str, query: PageQuery, budgets: Sequence[Budget]
    ) -> tuple[list[int], Page]:
        args = page_args(query)
        listing = self._keys.listing(generation, owner)
        by_status = self._keys.listing_by_status(generation, owner)

        def queue(pipe: Any) -> None:
            for budget in budgets:
                pipe.evalsha(COUNT.sha, 1, budget.key, budget.limit, budget.window_ms)
            pipe.evalsha(PAGE.sha, 2, listing, by_status, *args)

        replies = await run_scripts(self._redis, (COUNT, PAGE), queue, "read a list")
        return replies[:-1], merge(replies[-1], query)

    async def cursor_secret(self) -> bytes:
        """The key the API processes share to authenticate cursors: made once, kept."""
        with translate_errors("read the cursor key"):
            await self._redis.set(self._keys.cursor_key, secrets.token_bytes(32), nx=True)
            secret = await self._redis.get(self._keys.cursor_key)
        assert isinstance(secret, bytes)  # set just above, never deleted
        return secret
