"""Reading a deployment's stored status: one round trip (or none, from the document cache),
no folding, no re-serialising.

The owner check runs inside Redis (a script around the HMGET), so for every not-found case
(unknown, someone else's, deleted, not yet created) Redis does the same lookup and sends
back the same nil: another user's document never leaves Redis, and neither the reply's size
nor its parsing tells the cases apart.
"""

from __future__ import annotations

from redis.asyncio.client import Pipeline
from redis.exceptions import NoScriptError, RedisError

from api.auth import Principal
from api.document_cache import DocumentCache
from api.exceptions import StoreUnavailable, ViewNotReady
from api.generation import GenerationCache
from api.ratelimit import COUNT, RateLimiter
from api.scripts import LuaScript, run_pipeline
from api.stored import StoredStatus
from deploystatus.view import keys as fields
from deploystatus.view.client import RedisClient
from deploystatus.view.keys import Keys

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
SCRIPTS = (READ, COUNT)


class StatusReader:
    def __init__(
        self,
        redis: RedisClient,
        keys: Keys,
        generation: GenerationCache,
        limiter: RateLimiter,
        cache: DocumentCache | None = None,
    ) -> None:
        self._redis = redis
        self._keys = keys
        self._generation = generation
        self._limiter = limiter
        self._cache = cache if cache is not None else DocumentCache(0, 0.0)

    async def read(
        self,
        deployment_id: str,
        principal: Principal,
        client_ip: str,
        metered: bool = True,
        cached: bool = True,
    ) -> StoredStatus | None:
        """The status of ``deployment_id`` if ``principal`` may read it and it is served;
        ``None`` alike for unknown, foreign, deleted and not-yet-created deployments. Counts
        the request against the caller's budgets in the same round trip (RateLimited), unless
        not ``metered`` (re-reads of an open watch stream, counted when it opened). Served
        from the document cache when it holds the caller's document, unless not ``cached``."""
        generation = await self._served_generation()
        metering = metered and self._limiter.enabled
        hit = self._cache.get(generation, deployment_id, principal) if cached else None
        if hit is not None:
            if metering:
                await self.admit(principal.user_id, client_ip)
            return hit
        key = self._keys.deployment(generation, deployment_id)
        # A document the script returns to a reader without the any-deployment scope is
        # that reader's own: the owner the cache checks later hits against.
        owner = None if principal.read_any else principal.user_id
        with self._cache.reading(generation, deployment_id, owner) as fill:
            if metering:
                stored = await self._read_metered(key, principal, client_ip)
            else:
                stored = await self._read_only(key, principal)
            fill.put(stored)
        return stored

    async def _read_metered(
        self, key: str, principal: Principal, client_ip: str
    ) -> StoredStatus | None:
        """The budgets' counters and the READ script in one pipeline."""
        counters = 0

        def queue(pipe: Pipeline) -> None:
            nonlocal counters
            counters = self._limiter.queue(pipe, principal.user_id, client_ip)
            pipe.evalsha(READ.sha, 1, key, principal.user_id, "1" if principal.read_any else "0")

        replies = await run_pipeline(self._redis, SCRIPTS, queue)
        self._limiter.verdict(replies[:counters])
        return _stored(replies[counters])

    async def owned(self, user_id: str) -> list[str]:
        """The served deployments ``user_id`` owns (the projector's per-owner index)."""
        key = self._keys.owned(await self._served_generation(), user_id)
        try:
            members = await self._redis.smembers(key)
        except (RedisError, OSError) as exc:
            raise StoreUnavailable(f"Redis did not answer: {exc!r}") from exc
        return sorted(m.decode() if isinstance(m, bytes) else m for m in members)

    async def _read_only(self, key: str, principal: Principal) -> StoredStatus | None:
        """The READ script alone, without a pipeline: with no budget to count, a pipeline
        object per request costs more CPU than the command itself."""
        args = (READ.sha, 1, key, principal.user_id, "1" if principal.read_any else "0")
        try:
            try:
                found: list[bytes] | None = await self._redis.evalsha(*args)
            except NoScriptError:
                # Redis restarted or flushed its scripts: load it and ask once more.
                await self._redis.script_load(READ.source)
                found = await self._redis.evalsha(*args)
        except (RedisError, OSError) as exc:
            raise StoreUnavailable(f"Redis did not answer: {exc!r}") from exc
        return _stored(found)

    async def admit(self, user_id: str | None, client_ip: str) -> None:
        """Count a request that reads nothing (bad token, bad id) against the budgets."""
        if not self._limiter.enabled:
            return
        replies = await run_pipeline(
            self._redis, SCRIPTS, lambda pipe: self._limiter.queue(pipe, user_id, client_ip)
        )
        self._limiter.verdict(replies)

    async def _served_generation(self) -> str:
        if self._generation.current is None:
            # Only while nothing is served: ask Redis now rather than wait for the refresh.
            try:
                await self._generation.refresh()
            except (RedisError, OSError) as exc:
                raise StoreUnavailable(f"Redis did not answer: {exc!r}") from exc
        if self._generation.current is None:
            raise ViewNotReady("no generation of the view is served yet")
        return self._generation.current

    async def ready(self) -> bool:
        """Redis answers and serves a generation of the view."""
        try:
            await self._redis.ping()
        except (RedisError, OSError):
            return False
        return self._generation.current is not None


def _stored(reply: list[bytes] | None) -> StoredStatus | None:
    if not reply:
        return None
    etag, document, position = reply
    return StoredStatus(document=document, etag=etag.decode(), position=int(position))
