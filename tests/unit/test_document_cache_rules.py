"""The document cache's rules, without any service: who hits, what a notification drops,
and which reads may not fill it (overtaken by a newer version, or begun before a clear)."""

from __future__ import annotations

import time

from api.auth import Principal
from api.document_cache import DocumentCache
from deploystatus.view.store import StoredStatus

GEN = "g1"
ALICE, BOB, ADMIN = Principal("alice"), Principal("bob"), Principal("root", read_any=True)


def status(position: int) -> StoredStatus:
    return StoredStatus(document=b'{"v":%d}' % position, etag=f"e{position}", position=position)


def live_cache(size: int = 10, max_staleness: float = 60.0) -> DocumentCache:
    cache = DocumentCache(size, max_staleness)
    cache.heard_from_redis()
    return cache


def read(cache: DocumentCache, deployment_id: str, stored: StoredStatus, owner: str = "alice"):
    with cache.reading(GEN, deployment_id, owner) as fill:
        fill.put(stored)


def test_the_owner_and_readers_of_any_deployment_hit_others_miss():
    cache = live_cache()
    read(cache, "d1", status(5))
    assert cache.get(GEN, "d1", ALICE) == status(5)
    assert cache.get(GEN, "d1", ADMIN) == status(5)
    assert cache.get(GEN, "d1", BOB) is None
    assert cache.get("g2", "d1", ALICE) is None  # another generation


def test_an_announcement_drops_the_document():
    cache = live_cache()
    read(cache, "d1", status(5))
    cache.announce("d1", 6)
    assert cache.get(GEN, "d1", ALICE) is None


def test_a_read_overtaken_by_a_newer_version_does_not_fill():
    cache = live_cache()
    with cache.reading(GEN, "d1", "alice") as fill:
        cache.announce("d1", 9)  # the projector wrote while the read was in flight
        fill.put(status(8))  # what Redis answered before that write
    assert cache.get(GEN, "d1", ALICE) is None
    with cache.reading(GEN, "d1", "alice") as fill:
        cache.announce("d1", 9)
        fill.put(status(9))  # the read saw the announced version: safe to keep
    assert cache.get(GEN, "d1", ALICE) == status(9)


def test_a_read_begun_before_a_clear_does_not_fill():
    cache = live_cache()
    with cache.reading(GEN, "d1", "alice") as fill:
        cache.clear()
        fill.put(status(3))
    assert cache.get(GEN, "d1", ALICE) is None


def test_reads_without_a_known_owner_or_with_nothing_found_do_not_fill():
    cache = live_cache()
    with cache.reading(GEN, "d1", None) as fill:  # an any-deployment reader
        fill.put(status(3))
    with cache.reading(GEN, "d2", "alice") as fill:
        fill.put(None)
    assert len(cache) == 0


def test_nothing_is_served_once_the_feed_is_silent_past_the_bound_or_lost():
    cache = live_cache(max_staleness=0.05)
    read(cache, "d1", status(1))
    assert cache.get(GEN, "d1", ALICE) is not None
    time.sleep(0.06)
    assert cache.get(GEN, "d1", ALICE) is None
    cache.heard_from_redis()
    assert cache.get(GEN, "d1", ALICE) is not None
    cache.feed_lost()
    assert cache.get(GEN, "d1", ALICE) is None


def test_least_recently_used_documents_go_first_and_size_zero_turns_it_off():
    cache = live_cache(size=2)
    read(cache, "d1", status(1))
    read(cache, "d2", status(2))
    cache.get(GEN, "d1", ALICE)
    read(cache, "d3", status(3))
    assert cache.get(GEN, "d2", ALICE) is None
    assert cache.get(GEN, "d1", ALICE) is not None
    off = live_cache(size=0)
    read(off, "d1", status(1))
    assert len(off) == 0


def test_an_unchanged_document_announced_keeps_the_entry_at_the_newer_position():
    """A position-only announcement keeps the document and raises (never lowers) its position."""
    cache = live_cache()
    read(cache, "d1", status(5))
    cache.announce("d1", 7, document_changed=False)
    assert cache.get(GEN, "d1", ALICE) == StoredStatus(b'{"v":5}', "e5", 7)
    cache.announce("d1", 6, document_changed=False)  # older than the entry: changes nothing
    assert cache.get(GEN, "d1", ALICE) == StoredStatus(b'{"v":5}', "e5", 7)
    cache.announce("d1", 8)
    assert cache.get(GEN, "d1", ALICE) is None


def test_a_read_overtaken_by_a_newer_position_does_not_fill_even_with_the_same_document():
    """A read older than a position-only announcement made meanwhile is not cached."""
    cache = live_cache()
    with cache.reading(GEN, "d1", "alice") as fill:
        cache.announce("d1", 9, document_changed=False)
        fill.put(status(8))  # its position is older than Redis's now
    assert cache.get(GEN, "d1", ALICE) is None
