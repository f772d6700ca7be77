"""Reading a deployment's stored status: one HMGET, no folding, no re-serialising."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import cast

from redis.exceptions import RedisError

from api.exceptions import StoreUnavailable, ViewNotReady
from api.generation import GenerationCache
from deploystatus import keys as fields
from deploystatus.connections import RedisClient
from deploystatus.keys import Keys


@dataclass(frozen=True, slots=True)
class StoredStatus:
    document: bytes  # the JSON bytes, exactly as the projector rendered them
    etag: str


class StatusReader:
    def __init__(self, redis: RedisClient, keys: Keys, generation: GenerationCache) -> None:
        self._redis = redis
        self._keys = keys
        self._generation = generation

    async def read(self, deployment_id: str, user_id: str) -> StoredStatus | None:
        """The status of ``deployment_id`` if ``user_id`` owns it and it is served; ``None``
        alike for unknown, foreign, deleted and not-yet-created deployments."""
        try:
            key = self._keys.deployment(await self._served_generation(), deployment_id)
            # The client is built with decode_responses=False: values are bytes.
            owner, etag, document = cast(
                "list[bytes | None]",
                await self._redis.hmget(key, [fields.OWNER, fields.ETAG, fields.DOCUMENT]),
            )
        except (RedisError, OSError) as exc:
            raise StoreUnavailable(f"Redis did not answer: {exc!r}") from exc
        # One comparison on every path, so the answer's timing does not depend on which
        # of the not-found cases applies.
        owned = hmac.compare_digest(owner or b"", user_id.encode())
        if not owned or document is None or etag is None:
            return None
        return StoredStatus(document=document, etag=etag.decode())

    async def _served_generation(self) -> str:
        if self._generation.current is None:
            # Only while nothing is served: ask Redis now rather than wait for the refresh.
            await self._generation.refresh()
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
