"""Event times in their canonical form: UTC, microseconds, ``Z`` (``2026-11-28T12:00:00.123456Z``).

Fixed width, so the canonical texts sort chronologically as strings; the projector keeps and
renders times in this form.
"""

from __future__ import annotations

from datetime import UTC, datetime

CANONICAL_LENGTH = len("2026-11-28T12:00:00.123456Z")


def format_time(value: datetime | str) -> str:
    """Canonical form of an aware datetime. A ``str`` is one already canonical (the fast
    decoder's, see ``events.structs``) and is returned as it is."""
    if isinstance(value, str):
        return value
    if value.utcoffset():
        value = value.astimezone(UTC)
    # %-formatting, field by field: isoformat() goes through C's printf for every field and
    # formats the offset besides, an f-string formats each field through format(); both cost
    # more, and this runs for every event (docs/performance.md#cpu).
    return "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ" % (  # noqa: UP031
        value.year,
        value.month,
        value.day,
        value.hour,
        value.minute,
        value.second,
        value.microsecond,
    )
