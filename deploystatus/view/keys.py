"""The Redis layout of the view, shared by the projector (writer) and the API (reader).

The view lives in *generations*: each is its own key namespace, built by one consumer group
(``<CONSUMER_GROUP>.<generation>``). A pointer names the generation that is served, so a
rebuild fills a new generation while the old one is read, and the switch is one SET.

- ``{<prefix>}:generation``      the served generation's id (absent: nothing to serve yet)
- ``{<prefix>}:building``        hash describing a generation being built (rebuild/self-heal)
- ``{<prefix>}:rebuild-lease``   held by the running ``deploystatus rebuild``
- ``{<prefix>}:generations``     set of every generation that may still have keys
- ``<prefix>:<gen>:applied``     hash partition -> next offset applied into that generation
- ``<prefix>:<gen>:dep:{<id>}``  one deployment's hash (fields below)
- ``<prefix>:<gen>:owner:{<user>}``  set of the served deployments a user owns
- ``<prefix>:<gen>:list:{<user>}``   sorted set: a user's served deployments as list entries,
  in the order of ``GET /status`` (``view.lists``)
- ``<prefix>:<gen>:list-status:{<user>}``  the same entries, each behind its status
- ``<prefix>:<gen>:listed:{<user>}`` hash deployment id -> where its entry is, and the
  position that wrote it (``view.lists``)
- ``{<prefix>}:cursor-key``      the key authenticating the list's cursors (``view.lists``)
- ``<prefix>:changes``           pub/sub channel: a message per write (``view.changes``)
- ``<prefix>:rl:user:{<user>}``  the API's request counter of a user (``api.ratelimit``)
- ``<prefix>:rl:ip:{<address>}`` the API's request counter of a client address

Control keys share the ``{<prefix>}`` hash tag, so a script may touch several of them on a
Redis Cluster; a deployment's keys hash on its id, a request counter on its user or address.
"""

from __future__ import annotations

# Fields of a deployment's hash.
# The fold's state (JSON), what the next events are folded into; while DOCUMENT is there,
# only what the document lacks (projector.core.stored_state).
STATE = "state"
POSITION = "pos"  # offset of the last record folded in; the compare-and-set version
DOCUMENT = "doc"  # the status document's bytes, exactly as served; absent when not served
OWNER = "owner"  # the owner's user id; absent when not served
ETAG = "etag"  # validator of DOCUMENT
LISTED = "listed"  # the owner whose list holds the deployment's entry (view.lists)
UNLIST = "unlist"  # an earlier owner whose list may still hold it, until the fan-out removes it


class Keys:
    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        tag = f"{{{prefix}}}"
        self.generation = f"{tag}:generation"
        self.building = f"{tag}:building"
        self.rebuild_lease = f"{tag}:rebuild-lease"
        self.generations = f"{tag}:generations"
        self.cursor_key = f"{tag}:cursor-key"
        self.changes = f"{prefix}:changes"  # pub/sub channel, see the module docstring

    def deployment(self, generation: str, deployment_id: str) -> str:
        """Key of one deployment's hash; ``deployment_id`` must be a canonical uuid string."""
        return f"{self.prefix}:{generation}:dep:{{{deployment_id}}}"

    def deployments_pattern(self, generation: str) -> str:
        """SCAN pattern matching every deployment hash of a generation."""
        return f"{self.prefix}:{generation}:dep:*"

    def generation_pattern(self, generation: str) -> str:
        """SCAN pattern matching every key of a generation."""
        return f"{self.prefix}:{generation}:*"

    def owned(self, generation: str, user_id: str) -> str:
        """Set of the deployment ids a user owns and that are served."""
        return f"{self.prefix}:{generation}:owner:{{{user_id}}}"

    def listing(self, generation: str, user_id: str) -> str:
        """Sorted set of a user's list entries (``view.lists``)."""
        return f"{self.prefix}:{generation}:list:{{{user_id}}}"

    def listing_by_status(self, generation: str, user_id: str) -> str:
        """Sorted set of a user's list entries, each behind its status (``view.lists``)."""
        return f"{self.prefix}:{generation}:list-status:{{{user_id}}}"

    def listed(self, generation: str, user_id: str) -> str:
        """Hash of where each of a user's list entries is (``view.lists``)."""
        return f"{self.prefix}:{generation}:listed:{{{user_id}}}"

    def applied(self, generation: str) -> str:
        return f"{self.prefix}:{generation}:applied"

    def rate_user(self, user_id: str) -> str:
        """Request counter of a user; ``user_id`` must be a canonical uuid string."""
        return f"{self.prefix}:rl:user:{{{user_id}}}"

    def rate_ip(self, address: str) -> str:
        """Request counter of a client address; ``address`` must be canonical (bounded)."""
        return f"{self.prefix}:rl:ip:{{{address}}}"
