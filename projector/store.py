"""The projector's view store in Redis (``deploystatus.view.store.StatusStore``): deployment
states and documents, written with compare-and-set. It lives here rather than in
``deploystatus.view`` because it stores the fold's states, which the base layer may not import.

Each deployment is one hash (see ``deploystatus.view.keys``). A write carries the position the
writer read; the script applies it only if the hash still holds that position, so two
projectors (or a paused "zombie" one) can never overwrite each other's newer work.
Every operation touches one key, which keeps the store valid on a Redis Cluster.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any, TypeAlias, TypeVar

from deploystatus.view import keys as fields
from deploystatus.view import lists
from deploystatus.view import store as seam
from deploystatus.view.changes import SAME_DOCUMENT, change_message
from deploystatus.view.client import RedisClient, is_cluster, ping_every_node
from deploystatus.view.errors import StoreChanged, translate_errors
from deploystatus.view.fence import ServerFence
from deploystatus.view.keys import Keys
from deploystatus.view.scripts import LuaScript, run_scripts
from projector.core.document import etag, render
from projector.core.state import DeploymentState
from projector.core.stored_state import from_stored, to_stored
from projector.core.summary import list_item
from projector.exceptions import ViewLost

# Deployments per round trip: a write carries a state and a document (kilobytes each), so a
# batch of 10,000 in one pipeline held tens of MB of packed commands at once.
CHUNK = 1_000
T = TypeVar("T")

# ARGV: expected position, new position, state, document ('' = not served), owner, etag,
# change channel ('' = none), change message (see deploystatus.view.changes). Returns 1, or
# the previous owner when the owner changed; 0 on a conflict, -1 if the hash vanished.
SAVE = LuaScript(
    f"""
local current = redis.call('HGET', KEYS[1], '{fields.POSITION}') or '-1'
if current ~= ARGV[1] then
  -- A document that existed when it was read and is gone now: Redis lost data.
  if current == '-1' then return -1 end
  return 0
end
local old_etag = redis.call('HGET', KEYS[1], '{fields.ETAG}') or ''
redis.call('HSET', KEYS[1], '{fields.STATE}', ARGV[3], '{fields.POSITION}', ARGV[2])
if ARGV[4] == '' then
  redis.call('HDEL', KEYS[1], '{fields.DOCUMENT}', '{fields.OWNER}', '{fields.ETAG}')
else
  redis.call('HSET', KEYS[1], '{fields.DOCUMENT}', ARGV[4], '{fields.OWNER}', ARGV[5],
             '{fields.ETAG}', ARGV[6])
end
-- Every position advance is announced with the write, so waiters for a repeat's offset wake.
if ARGV[7] ~= '' then
  if old_etag == ARGV[6] then
    redis.call('PUBLISH', ARGV[7], ARGV[8] .. ' {SAME_DOCUMENT}')
  else
    redis.call('PUBLISH', ARGV[7], ARGV[8])
  end
end
-- A new owner: the earlier one's list must drop the deployment (view.lists), even if the
-- fan-out of this write is lost with a crash, so the hash keeps that owner until replaced.
if ARGV[5] ~= '' then
  local listed = redis.call('HGET', KEYS[1], '{fields.LISTED}')
  if listed ~= ARGV[5] then
    redis.call('HSET', KEYS[1], '{fields.LISTED}', ARGV[5])
    if listed then
      redis.call('HSET', KEYS[1], '{fields.UNLIST}', listed)
      return listed
    end
  end
end
return 1
"""
)


class Write:
    """A new state for one deployment, valid only if the store still holds ``expected``;
    rendered once here for the store and the changelog alike. Treated as a value; a plain
    slotted class rather than a frozen dataclass, whose setters cost per write."""

    __slots__ = ("document", "etag", "expected", "state")

    def __init__(self, state: DeploymentState, expected: int) -> None:
        self.state = state
        self.expected = expected  # the position the state was folded from; -1 for a new one
        document = render(state)
        self.document: bytes | None = document  # None: not served (see ``render``)
        self.etag = etag(document) if document is not None else ""


# The seam the projector's modules take: the view's store of the fold's states.
StatusStore: TypeAlias = seam.StatusStore[DeploymentState, Write]


class RedisStatusStore:
    """The deployment hashes of one generation of the view."""

    def __init__(
        self,
        redis: RedisClient,
        keys: Keys,
        generation: str,
        notify_channel: str = "",
        fence: ServerFence | None = None,
    ) -> None:
        self._redis = redis
        self._keys = keys
        self.generation = generation
        # The fence of ``redis``'s connections, if it has one (see deploystatus.view.fence).
        self._fence = fence
        # Where change notifications go ('' = nowhere): the served generation's writers set
        # it; a rebuild sets it once its generation is served.
        self.notify_channel = notify_channel
        # Deployment id -> an earlier owner whose list may still hold it (SAVE's reply, or
        # the hash's UNLIST read by a load), until the fan-out has removed it there.
        self._unlist: dict[str, str] = {}

    async def load(self, deployment_ids: Sequence[str]) -> dict[str, DeploymentState | None]:
        """The stored states of these deployments (``None`` for unknown ones)."""
        states: dict[str, DeploymentState | None] = {}
        for chunk in _chunks(deployment_ids):
            with translate_errors("load states"):
                pipe = self._redis.pipeline(transaction=False)
                for deployment_id in chunk:
                    key = self._keys.deployment(self.generation, deployment_id)
                    pipe.hmget(key, [fields.STATE, fields.DOCUMENT, fields.UNLIST])
                replies = await pipe.execute()
            for deployment_id, (raw, document, unlist) in zip(chunk, replies, strict=True):
                states[deployment_id] = from_stored(raw, document) if raw is not None else None
                if unlist is not None:
                    self._unlist[deployment_id] = unlist.decode()
        return states

    async def save(self, writes: Sequence[Write]) -> set[str]:
        """Apply the writes, each atomically. Returns the deployment ids whose write was
        refused because another writer got there first. Raises ``ViewLost`` if a document
        read before has disappeared."""
        results: list[Any] = []
        for chunk in _chunks(writes):

            def queue(pipe: Any, chunk: Sequence[Write] = chunk) -> None:
                for write in chunk:
                    key, args = self._save_call(write)
                    pipe.evalsha(SAVE.sha, 1, key, *args)

            results += await run_scripts(self._redis, (SAVE,), queue, "save states")
        if -1 in results:
            raise ViewLost(f"documents of generation {self.generation} vanished from Redis")
        for write, result in zip(writes, results, strict=True):
            if isinstance(result, bytes):
                self._unlist[write.state.deployment_id] = result.decode()
        return {w.state.deployment_id for w, ok in zip(writes, results, strict=True) if not ok}

    def _save_call(self, write: Write) -> tuple[str, list[str | bytes | int]]:
        state = write.state
        args: list[str | bytes | int] = [  # ints as they are: the packer writes their digits
            write.expected,
            state.position,
            to_stored(state, write.document),
            write.document or b"",
            state.owner or "",
            write.etag,
            self.notify_channel,
            change_message(state.deployment_id, state.owner or "", state.position),
        ]
        return self._keys.deployment(self.generation, state.deployment_id), args

    async def index_owners(self, states: Iterable[DeploymentState]) -> None:
        """Keep each owner's list (``deploystatus.view.lists``) and set of served deployments
        (read by `GET /status/watch`): script calls of many owners, in chunks."""
        by_owner: dict[str, list[lists.Entry]] = {}
        moved: list[tuple[str, str]] = []
        for state in states:
            if state.owner is None:
                continue
            deployment_id, position = state.deployment_id, state.position
            if state.served:
                health, item = list_item(state)
                entry = lists.listed(
                    deployment_id, position, health, state.status or "", state.name or "", item
                )
            else:
                entry = lists.Entry(deployment_id, position)
            by_owner.setdefault(state.owner, []).append(entry)
            earlier = self._unlist.get(deployment_id)
            if earlier is not None:
                moved.append((deployment_id, earlier))
                if earlier != state.owner:
                    by_owner.setdefault(earlier, []).append(lists.Entry(deployment_id, position))
        calls = lists.index_calls(self._redis, self._keys, self.generation, by_owner)
        per_round_trip = max(1, CHUNK // lists.INDEX_GROUP)
        for start in range(0, len(calls), per_round_trip):

            def queue(pipe: Any, chunk: list[Any] = calls[start : start + per_round_trip]) -> None:
                for owners in chunk:
                    lists.queue_index(pipe, self._keys, self.generation, owners)

            await run_scripts(self._redis, (lists.INDEX,), queue, "index owners")
        for deployment_id, earlier in moved:
            if self._unlist.get(deployment_id) == earlier:
                del self._unlist[deployment_id]

    @property
    def spans_nodes(self) -> bool:
        """Whether the view is spread over several Redis servers (a Redis Cluster)."""
        return is_cluster(self._redis)

    async def positions(self, deployment_ids: Sequence[str]) -> dict[str, int]:
        """The stored positions of these deployments (-1 where none is stored)."""
        positions: dict[str, int] = {}
        for chunk in _chunks(deployment_ids):
            with translate_errors("read positions"):
                pipe = self._redis.pipeline(transaction=False)
                for deployment_id in chunk:
                    pipe.hget(
                        self._keys.deployment(self.generation, deployment_id), fields.POSITION
                    )
                replies = await pipe.execute()
            for deployment_id, raw in zip(chunk, replies, strict=True):
                positions[deployment_id] = int(raw) if raw is not None else -1
        return positions

    def accept(self, changed: StoreChanged) -> None:
        """Talk to the changed server from now on (its data has been looked at)."""
        if self._fence is not None:
            self._fence.accept(changed.changed)

    async def ping(self) -> None:
        """Reach every server of the store, so that an idle projector meets a changed one."""
        await ping_every_node(self._redis)


def _chunks(items: Sequence[T]) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), CHUNK):
        yield items[start : start + CHUNK]
