"""The change messages on the ``<prefix>:changes`` pub/sub channel: written by the projector's
store script (``projector.store.SAVE``) atomically with each write, read by the API's change
feed (``api.notifications``).

One message per position advance of a deployment's hash:

- ``"<id> <owner> <position>"`` when the served document changed (its etag differs);
- ``"<id> <owner> <position> same"`` when only the position moved (e.g. a repeated event id):
  the document, and so its etag, is what it was.

``owner`` is empty when the deployment is not served (not created yet, or deleted). The
changed form is the one older API processes parse; they ignore the other, which they were
never sent.
"""

from __future__ import annotations

from dataclasses import dataclass

# Appended by the store script, after a space, when the document is unchanged.
SAME_DOCUMENT = "same"


def change_message(deployment_id: str, owner: str, position: int) -> str:
    """The message announcing a changed document; the store script appends
    ``" " + SAME_DOCUMENT`` when the write changed only the position."""
    return f"{deployment_id} {owner} {position}"


@dataclass(frozen=True, slots=True)
class Change:
    deployment_id: str
    owner: str  # '' when the deployment is not served
    position: int
    document_changed: bool = True

    @classmethod
    def parse(cls, raw: bytes) -> Change | None:
        """The message's fields, or ``None`` for anything not in either form."""
        parts = raw.decode(errors="replace").split(" ")
        if len(parts) == 4 and parts[3] == SAME_DOCUMENT:
            changed = False
        elif len(parts) == 3:
            changed = True
        else:
            return None
        if not parts[2].lstrip("-").isdigit():
            return None
        return cls(parts[0], parts[1], int(parts[2]), changed)
