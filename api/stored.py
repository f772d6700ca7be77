"""What a read of the store gives back: a document exactly as the projector stored it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class StoredStatus:
    document: bytes  # the JSON bytes, exactly as the projector rendered them
    etag: str
    position: int  # log offset of the last event applied: the document's version
