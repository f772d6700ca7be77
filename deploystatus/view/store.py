"""The seams the projector and the API talk to the view through, and the values they pass.

The Redis implementations: ``projector.store.RedisStatusStore`` (it stores the fold's states,
which this base layer may not import, hence the type parameters),
``deploystatus.view.reads.RedisViewReader`` and ``deploystatus.view.generations.RedisGenerations``.
The contract tests (``tests/integration/test_store.py``) run against them on a single Redis
and a Redis Cluster.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, NamedTuple, Protocol, TypeVar

from deploystatus.view.errors import StoreChanged

StateT = TypeVar("StateT")
WriteT = TypeVar("WriteT", contravariant=True)


@dataclass(frozen=True, slots=True)
class StoredStatus:
    """What a read of the view gives back: a document exactly as the projector stored it."""

    document: bytes  # the JSON bytes, exactly as the projector rendered them
    etag: str
    position: int  # log offset of the last event applied: the document's version


class Budget(NamedTuple):
    """A request counter: ``key`` may count ``limit`` requests per window of ``window_ms``.
    A named tuple: one or two are built per request."""

    key: str
    limit: int
    window_ms: int


Builder = Literal["rebuild", "projectors"]


@dataclass(frozen=True)
class Build:
    """A generation being built: by whom, and the log end offsets it must reach to be served."""

    generation: str
    builder: Builder
    target: dict[int, int]  # partition -> end offset when the build started
    started_at: float

    def caught_up(self, applied: Mapping[int, int]) -> bool:
        return all(applied.get(p, 0) >= end for p, end in self.target.items())


class StatusStore(Protocol[StateT, WriteT]):
    """What the projector writes and reads: the deployment hashes of one generation, each
    written with compare-and-set. Raises ``StoreUnavailable`` when Redis fails, and
    ``StoreChanged`` when it is another server process than the one written to."""

    generation: str
    # Where change messages go ('' = nowhere): set once the generation is served.
    notify_channel: str

    @property
    def spans_nodes(self) -> bool:
        """Whether the view is spread over several Redis servers (a Redis Cluster)."""
        ...

    async def load(self, deployment_ids: Sequence[str]) -> dict[str, StateT | None]:
        """The stored states of these deployments (``None`` for unknown ones)."""
        ...

    async def save(self, writes: Sequence[WriteT]) -> set[str]:
        """Apply the writes, each atomically, announcing each on the change channel. Returns
        the deployment ids whose write another writer beat (the stored position was not
        the one expected); raises ``ViewLost`` if a document read before has disappeared."""
        ...

    async def index_owners(self, states: Iterable[StateT]) -> None:
        """Keep each owner's set of served deployments and list (``view.lists``) up to
        date with ``states``; idempotent, and an older state never replaces a newer one."""
        ...

    async def positions(self, deployment_ids: Sequence[str]) -> dict[str, int]:
        """The stored positions of these deployments (-1 where none is stored)."""
        ...

    def accept(self, changed: StoreChanged) -> None:
        """Talk to the changed server from now on (its data has been looked at)."""
        ...

    async def ping(self) -> None:
        """Reach every server of the store, so that an idle writer meets a changed one."""
        ...


class ViewReader(Protocol):
    """What the API reads: the served generation, documents behind the owner check, the
    owner index, and request budgets counted in the same round trip. Raises
    ``StoreUnavailable`` when Redis fails."""

    async def served_generation(self) -> str | None:
        """The served generation's id; ``None`` while none is served."""
        ...

    async def read(
        self, generation: str, deployment_id: str, user_id: str, read_any: bool
    ) -> StoredStatus | None:
        """The document if it is served and ``user_id`` owns it (or ``read_any``); ``None``
        alike for every other case, which Redis answers the same way."""
        ...

    async def read_counted(
        self,
        generation: str,
        deployment_id: str,
        user_id: str,
        read_any: bool,
        budgets: Sequence[Budget],
    ) -> tuple[list[int], StoredStatus | None]:
        """``read`` and ``count`` in one round trip."""
        ...

    async def count(self, budgets: Sequence[Budget]) -> list[int]:
        """Count a request against each budget: per budget 0 within it, else the ms until
        its window ends."""
        ...

    async def owned(self, generation: str, user_id: str) -> list[str]:
        """The served deployments ``user_id`` owns, sorted."""
        ...

    async def ping(self) -> None: ...


class Generations(Protocol):
    """The generations of the view (``deploystatus.view.keys``): which one is served, which
    one is being built and how far each has applied the log, and the removal of old ones.
    Raises ``StoreUnavailable`` when Redis fails."""

    async def current(self) -> str | None:
        """The served generation; ``None`` while none is served."""
        ...

    async def building(self) -> Build | None:
        """The generation being built, if any."""
        ...

    async def begin(self, builder: Builder, target: Mapping[int, int]) -> Build | None:
        """Start building a new generation, unless another build is already registered
        (then ``None``: read ``building()`` to join or report it)."""
        ...

    async def promote(self, generation: str) -> str | None:
        """Serve ``generation``; returns the generation it replaces ('' if none), or ``None``
        if it was no longer the one being built."""
        ...

    async def abandon(self, generation: str) -> None:
        """Forget a build (its keys are deleted by ``delete``)."""
        ...

    async def advance(self, generation: str, next_offsets: Mapping[int, int]) -> None:
        """Record the next offset applied per partition; an offset never moves backwards."""
        ...

    async def applied(self, generation: str) -> dict[int, int]:
        """The next offset applied per partition."""
        ...

    async def stale(self) -> list[str]:
        """Generations that still have keys but are neither served nor being built."""
        ...

    async def delete(self, generation: str) -> int:
        """Remove a generation's keys without stalling Redis; returns how many went."""
        ...


@dataclass(frozen=True, slots=True)
class PageQuery:
    """A page of an owner's list: the healths and statuses it may show (empty: any), where
    it starts (the key of the last entry of the previous page, exclusive), its length."""

    healths: frozenset[str] = frozenset()
    statuses: frozenset[str] = frozenset()
    after: bytes | None = None
    limit: int = 50


@dataclass(frozen=True, slots=True)
class Page:
    items: list[bytes]  # the list items' JSON, in order
    counts: dict[str, int]  # health -> the owner's deployments of that health, unfiltered
    last_key: bytes | None  # the key to continue after; None when this is the last page


class ListReader(Protocol):
    """What the API reads for ``GET /status``: a page of an owner's list (the projector's
    per-owner index, ``deploystatus.view.lists``) with the request's budgets counted in the
    same round trip, and the key that authenticates cursors. Raises ``StoreUnavailable``."""

    async def page(
        self, generation: str, owner: str, query: PageQuery, budgets: Sequence[Budget]
    ) -> tuple[list[int], Page]:
        """Per budget 0 within it (else the ms until its window ends), and the page."""
        ...

    async def cursor_secret(self) -> bytes:
        """The key shared by every API process (made by the first to ask)."""
        ...
