"""The reading of the profiles and levers, written after looking at them (the figures of the
same run are in the tables above it; "before" figures are from earlier runs, named where
quoted); kept here so that every run's results carry it."""

ANALYSIS = """### Before and after (issue 7)

Full runs of `python -m bench` on this machine: the previous results (2026-11-28 16:30, before
these changes and before the security rewrite; a fresh projector stood in for the rebuild)
against the run above (2026-11-28 17:14):

| figure | before | after | change |
|---|---|---|---|
| read req/s at saturation (x bare endpoint) | 1,408 (0.15x) | 3,983 (0.52x) | 2.8x |
| read server CPU per request | 0.727 ms | 0.250 ms | -66% |
| read req/s vs SQL baseline | 3.79x | 11.63x | target met |
| read p99 vs bare at the fixed rate | 3.78x | 1.69x | target met |
| projector steady events/s | 5,521 | 11,017 | 2.0x |
| projector CPU per event | 168 us | 86 us | -49% |
| rebuild of 1,000,000 events | 180.7 s | 97.2 s | 1.9x |
| freshness p99 at 2,000 ev/s | 555.6 ms | 385.1 ms | -31% |
| projector RSS at 1,000,000 events | 108 MiB (max 180) | 448 MiB | the state cache, below |

### What changed, and what each change measured

Read path (`api/`):

1. **Verified-token cache** (`api/auth.py::VerifiedTokens`, used by `TokenVerifier.verify`):
   raw token -> principal, LRU of 10,000, each entry until the token's `exp` (never within
   the leeway, and at most `JWT_JWKS_CACHE_SECONDS`, the time a key dropped from a JWKS is
   honoured anyway); only successes are stored, the size limit is checked first. Quick run
   before the route change: 1,639 -> 2,216 req/s (+35%) at saturation. Its lever above
   ("without the verified-token cache") gives its share in this run; with the lean route
   the HS256 check is a smaller share of what is left, so it moves less.
2. **Lean status route** (`api/routes.py::_StatusRoute`): the route's declared signature
   (bearer scheme, `If-None-Match`, responses) still makes the OpenAPI document, but at run
   time its dependencies are resolved by hand with the same functions
   (`api/dependencies.py::bearer_credentials`, `authenticate`) instead of FastAPI's generic
   solver, which cost more CPU than the token check and the Redis read together. In process
   (ASGI calls, stub reader, no server): 118 -> 48 us per request, the bare route is 49 us.
   `app.dependency_overrides` no longer applies to this one route.
3. **One EVALSHA without a pipeline** when no budget is counted (`api/reader.py::_read_only`,
   rate limits off as here): redis-py CPU per read ~97 -> ~73 us in process.

   Together, quick runs on this machine: ours 2,211 -> 3,170 req/s (0.26x -> 0.45x of the
   bare endpoint), 0.441 -> 0.313 ms server CPU per request, fixed-rate p99 ratio 2.28x ->
   1.18x (met). The previous full run (before the security rewrite) had 1,408 req/s, 0.15x.

Projector (`projector/`, `deploystatus/settings.py`):

4. **State cache** (`projector/state_cache.py`, used by `Projector._load`/`_apply`): the
   states this process wrote last (LRU of 10,000, with their partition) are folded into
   without reading them back; safe because every write is a compare-and-set on the
   position the state was folded from: a stale entry makes its write fail, the entry is
   dropped and the deployment refolded from a fresh load. Entries of revoked partitions
   are dropped in the rebalance listener. A cached state whose hash vanished from Redis now
   raises `ViewLost` (the generation is chosen again) instead of being silently refolded
   from nothing. Removes the HGET and `model_validate_json` of every hit.
5. **One state copy per event** (`projector/fold.py::apply_record`: one `model_copy` instead
   of two; a plain loop for the replica lookup) and metrics summed per batch instead of two
   locked `inc()` per deployment (`projector/consumer.py`). The fold stays a pure function.
6. **`PROJECTOR_BATCH_SIZE` default 1,000 -> 10,000** (`deploystatus/settings.py`): per-batch
   costs are fixed; see the batch lever above (2.09x in this run). A poll returns what is
   there, so light loads still get small batches.

   Together, quick runs (100,000 events): steady 9,124 -> 15,819 events/s (1.73x), CPU
   105 -> 64 us/event. The previous full run had 5,521 events/s.

Measured and not done:

- orjson + `model_construct` for `DeploymentState.from_json`: 100 us against 22 us for
  pydantic-core's `model_validate_json` (timeit, same states); the Rust parser is the fast
  path already, and the cache makes loads rare.
- Memory: the state cache is bounded by its size times the size of a state, and a state is
  bounded (64 dedup ids, 10 history entries, the replicas): ~22 kB of Python objects for a
  state of 100 events (tracemalloc; its JSON is 3 kB), so up to ~220 MB for 10,000 states.
  That is why the projector's RSS doubles between 100,000 events (states of ~10 events) and
  1,000,000 (states of 100): 227 -> 448 MiB, where it levels off. A smaller cache would
  thrash on this data (every deployment touched once per 10,000 events, round robin), so
  the size stays 10,000; slimmer states are the way down (next point, and plain slotted
  classes instead of pydantic models for the state's parts).
- Shorter dedup ids: the bench's event ids are short (`<index>-<round>`), so it would not
  show here; with uuid ids the 64-id window is ~2.4 kB of every state, and hashing ids to 8
  bytes would cut state bytes (Redis memory, `to_json`) about 3x in production. It changes
  the stored format (old states keep full ids), so it wants a migration note.

### What is still missed, and why

**Projector, 50,000 events/s in one process.** That is 20 us per event, all included, on
one core. Measured per event in process (timeit, GC off, bench data): decoding and
validating the CloudEvent ~6 us, the fold ~18 us (pydantic `model_copy` plus the new tuples),
the state's JSON ~21 us, rendering the document and its ETag ~18 us, then redis-py's
command packing: ~60 us before any I/O, i.e. ~17k events/s per core when every event
touches a different deployment, as here (10,000 deployments, about one event each per
batch, so nothing coalesces). In the profile above, the largest item is now
`events/codec.py::decode` (pydantic's validation of the event union, ~26% of samples),
outside the files of this issue. The garbage collector then rescans the cached states and
the batch's events: the GC lever (first threshold 50,000 instead of 700) gained 50% in
this run (12,806 -> 19,221 events/s at the default batch size). 50k/s from one process
would need events that coalesce (several per deployment per batch: one write for many
events) or no pydantic and JSON on the hot path (plain tuples, a binary state); the
design's answer is scale-out: the topic has 12 partitions, so a consumer group of 3-5
projector processes reaches it on as many cores.

**Rebuild of 1M events in 30 s** needs 33k events/s: the same floor; the rebuild is one
process (manual assignment). Splitting the partitions over several rebuild processes would
divide it.

**Freshness p99 <= 50 ms at 2,000 events/s.** The consumer's fetch wait is part of it:
aiokafka's `fetch_max_wait_ms` is 500 by default, and a bare consumer on the embedded broker
at 100 events/s saw p50 133 ms / p99 256 ms with it and 12 / 19 ms with 20 ms. Through the
projector the lever is not conclusive yet: in a quick run it cut p50 207 -> 44 ms and p99
560 -> 248 ms, in this full run it was worse (p50 72 -> 178 ms, p99 385 -> 963 ms; its
projector had first replayed the 240,000 events in a group of its own, so its cache and
heap were full). Batch time and GC pauses over a large heap are the other part, and the GC
lever applies here too. Worth a dedicated run before changing the consumer.

**Read path vs the bare endpoint (0.8x).** The bare endpoint costs ~0.12 ms of server CPU
per request; ours adds one Redis round trip, which costs ~0.07 ms of CPU in redis-py alone
(connection pool, retry wrapper, packing, parsing): ~0.2 ms is the floor with this client,
about 0.6x of the bare rate. 0.8x would need a leaner client for the one command (a raw
RESP connection per worker) or several workers (`deploystatus api --workers N`), which
scale both alike. The same holds for the 10x over the SQL baseline.

### Recommendations for the files others own

1. `deploystatus/cli.py::_projector` (or `run_projector`): raise the GC's first threshold
   (`gc.set_threshold(50_000, 10, 10)`) or `gc.freeze()` after start-up (the GC lever: +50%).
2. `projector/service.py` (consumer in `_feed`): `fetch_max_wait_ms` from a setting, once a
   dedicated freshness run settles it (the freshness lever above).
3. `deploystatus/cli.py::_api`: keep uvicorn's access log off and pin uvloop + httptools
   (the asyncio+h11 and access-log levers above).
4. `projector/service.py` / `projector/rebuild.py`: pass a state-cache size setting to
   `Projector(state_cache_size=...)` if 10,000 does not fit a deployment count per process.

Caveat: this machine has 2 cores shared by wrk, the server, Redis/PostgreSQL, the broker and,
during this run, other engineers' test suites; absolute figures move between runs, the
same-run ratios much less.
"""
