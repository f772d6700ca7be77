"""The Redis layout of the view: one hash per deployment, shared by the projector (writer)
and the API (reader).

The deployment id sits inside ``{...}`` so that, on a Redis Cluster, every key of one
deployment hashes to the same slot.
"""

from __future__ import annotations

# Fields of a deployment's hash.
STATE = "state"  # the fold's state (JSON), what the next events are folded into
POSITION = "pos"  # offset of the last record folded in; the compare-and-set version
DOCUMENT = "doc"  # the status document's bytes, exactly as served; absent when not served
OWNER = "owner"  # the owner's user id; absent when not served
ETAG = "etag"  # validator of DOCUMENT


class Keys:
    def __init__(self, prefix: str) -> None:
        self.prefix = prefix

    def deployment(self, deployment_id: str) -> str:
        """Key of one deployment's hash; ``deployment_id`` must be a canonical uuid string."""
        return f"{self.prefix}:dep:{{{deployment_id}}}"
