"""Ids in requests and tokens: deployment ids in paths and user ids in ``sub`` are uuid
strings, accepted in the canonical hyphenated form only."""

from __future__ import annotations

import uuid

UUID_LENGTH = 36  # the canonical hyphenated form


def canonical_uuid(value: object) -> str | None:
    """``value`` as a lower-case hyphenated uuid string, or ``None`` if it is not one."""
    # The length first: uuid.UUID also takes braces, "urn:uuid:" prefixes and bare hex.
    if not isinstance(value, str) or len(value) != UUID_LENGTH:
        return None
    try:
        return str(uuid.UUID(value))
    except ValueError:
        return None
