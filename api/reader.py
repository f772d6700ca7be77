"""Reading a deployment's stored status: one round trip (or none, from the document cache),
no folding, no re-serialising. Redis itself is behind the ``ViewReader`` seam
(``deploystatus.view.reads``: the owner check runs inside Redis)."""

from __future__ import annotations

from api.auth import Principal
from api.document_cache import DocumentCache
from api.generation import GenerationCache
from api.ratelimit import RateLimiter
from deploystatus.view.errors import StoreUnavailable
from deploystatus.view.store import StoredStatus, ViewReader


class StatusReader:
    def __init__(
        self,
        view: ViewReader,
        generation: GenerationCache,
        limiter: RateLimiter,
        cache: DocumentCache | None = None,
    ) -> None:
        self._view = view
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
        # A document the script returns to a reader without the any-deployment scope is
        # that reader's own: the owner the cache checks later hits against.
        owner = None if principal.read_any else principal.user_id
        with self._cache.reading(generation, deployment_id, owner) as fill:
            if metering:
                counts, stored = await self._view.read_counted(
                    generation,
                    deployment_id,
                    principal.user_id,
                    principal.read_any,
                    self._limiter.budgets(principal.user_id, client_ip),
                )
                self._limiter.verdict(counts)
            else:
                stored = await self._view.read(
                    generation, deployment_id, principal.user_id, principal.read_any
                )
            fill.put(stored)
        return stored

    async def owned(self, user_id: str) -> list[str]:
        """The served deployments ``user_id`` owns (the projector's per-owner index)."""
        return await self._view.owned(await self._served_generation(), user_id)

    async def admit(self, user_id: str | None, client_ip: str) -> None:
        """Count a request that reads nothing (bad token, bad id) against the budgets."""
        if not self._limiter.enabled:
            return
        self._limiter.verdict(await self._view.count(self._limiter.budgets(user_id, client_ip)))

    async def _served_generation(self) -> str:
        return await self._generation.served()

    async def ready(self) -> bool:
        """Redis answers and serves a generation of the view."""
        try:
            await self._view.ping()
        except StoreUnavailable:
            return False
        return self._generation.current is not None
