"""The API's reads of the view in Redis: one round trip per request (``ViewReader``).

The owner check runs inside Redis (a script around the HMGET), so for every not-found case
(unknown, someone else's, deleted, not yet created) Redis does the same lookup and sends
back the same nil: another user's document never leaves Redis, and neither the reply's size
nor its parsing tells the cases apart. Request budgets are single-key scripts queued in the
same pipeline as the read, so they cost no extra round trip; single keys keep them valid on a
Redis Cluster (and spread the counters over its slots).
"""

from __future__ import annotations

from collections.abc import Container, Iterable, Sequence
from typing import Any

from deploystatus.view import keys as fields
from deploystatus.view.client import RedisClient
from deploystatus.view.errors import translate_errors
from deploystatus.view.keys import Keys
from deploystatus.view.scripts import LuaScript, call_script, run_scripts
from deploystatus.view.store import Budget, StoredStatus

# KEYS[1] the deployment's hash; ARGV: the caller's user id, '1' if it may read any
# deployment. Returns {etag, document, position} when served to this caller, else nil. Lua strings
# are interned, so the owner comparison is a pointer comparison, whatever the contents.
READ = LuaScript(
    f"""
local v = redis.call('HMGET', KEYS[1], '{fields.OWNER}', '{fields.ETAG}', '{fields.DOCUMENT}',
                    '{fields.POSITION}')
if v[1] and v[2] and v[3] and (v[1] == ARGV[1] or ARGV[2] == '1') then
  return {{v[2], v[3], v[4]}}
end
return false
"""
)
# KEYS[1] the counter, ARGV[1] the budget, ARGV[2] the window in ms.
# Returns 0 within budget, else the ms until the window ends.
COUNT = LuaScript(
    """
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
if n <= tonumber(ARGV[1]) then return 0 end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  ttl = tonumber(ARGV[2])
end
return ttl
"""
)
SCRIPTS = (READ, COUNT)


class RedisViewReader:
    def __init__(self, redis: RedisClient, keys: Keys) -> None:
        self._redis = redis
        self._keys = keys

    async def served_generation(self) -> str | None:
        with translate_errors("read the served generation"):
            raw = await self._redis.get(self._keys.generation)
        return raw.decode() if isinstance(raw, bytes) else raw

    async def read(
        self, generation: str, deployment_id: str, user_id: str, read_any: bool
    ) -> StoredStatus | None:
        key = self._keys.deployment(generation, deployment_id)
        found = await call_script(
            self._redis, READ, "read a document", 1, key, user_id, "1" if read_any else "0"
        )
        return _stored(found)

    async def read_counted(
        self,
        generation: str,
        deployment_id: str,
        user_id: str,
        read_any: bool,
        budgets: Sequence[Budget],
    ) -> tuple[list[int], StoredStatus | None]:
        key = self._keys.deployment(generation, deployment_id)

        def queue(pipe: Any) -> None:
            _queue_counts(pipe, budgets)
            pipe.evalsha(READ.sha, 1, key, user_id, "1" if read_any else "0")

        replies = await run_scripts(self._redis, SCRIPTS, queue, "read a document")
        return replies[:-1], _stored(replies[-1])

    async def count(self, budgets: Sequence[Budget]) -> list[int]:
        if not budgets:
            return []
        return await run_scripts(
            self._redis, SCRIPTS, lambda pipe: _queue_counts(pipe, budgets), "count a request"
        )

    async def owned(self, generation: str, user_id: str) -> list[str]:
        with translate_errors("read an owner's deployments"):
            members = await self._redis.smembers(self._keys.owned(generation, user_id))
        return sorted(m.decode() if isinstance(m, bytes) else m for m in members)

    async def ping(self) -> None:
        with translate_errors("answer a ping"):
            await self._redis.ping()

    # The audit reads of `deploystatus verify`, outside ViewReader: the API never needs them.

    async def documents_and_positions(
        self, generation: str, deployment_ids: Iterable[str]
    ) -> dict[str, tuple[bytes | None, int]]:
        """Per deployment, its served document (``None`` if none) and its stored position
        (-1 if none), whoever owns it; in one pipeline."""
        ids = list(deployment_ids)
        with translate_errors("read served documents"):
            pipe = self._redis.pipeline(transaction=False)
            for dep in ids:
                pipe.hmget(
                    self._keys.deployment(generation, dep), [fields.DOCUMENT, fields.POSITION]
                )
            rows = await pipe.execute()
        return {
            dep: (doc, int(pos) if pos is not None else -1)
            for dep, (doc, pos) in zip(ids, rows, strict=True)
        }

    async def served_except(self, generation: str, known: Container[str]) -> list[str]:
        """The deployments of ``generation`` that have a served document, other than the
        ``known`` ones: a SCAN of the generation's keys, in the order met."""
        found = []
        with translate_errors("scan served documents"):
            async for key in self._redis.scan_iter(
                match=self._keys.deployments_pattern(generation), count=1000
            ):
                deployment_id = key.decode().rsplit("{", 1)[-1].rstrip("}")
                if deployment_id not in known and await self._redis.hexists(key, fields.DOCUMENT):
                    found.append(deployment_id)
        return found


def _queue_counts(pipe: Any, budgets: Sequence[Budget]) -> None:
    for budget in budgets:
        pipe.evalsha(COUNT.sha, 1, budget.key, budget.limit, budget.window_ms)


def _stored(reply: list[bytes] | None) -> StoredStatus | None:
    if not reply:
        return None
    etag, document, position = reply
    return StoredStatus(document=document, etag=etag.decode(), position=int(position))
