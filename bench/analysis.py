"""The reading of the profiles and levers, written after looking at them (the figures of the
same run are in the tables above it; "before" figures are from earlier runs, named where
quoted); kept here so that every run's results carry it."""

ANALYSIS = """### Before and after (issue 7)

Full runs of `python -m bench` on this machine (2 cores shared with other work: absolute
figures move by 10-20% between runs, the same-run ratios less): the first run with the
benchmark suite (16:30), the run before the second round of changes (17:14, not in the
table), a full run after it (19:34; a second one at 19:57 measured alike), the run after the
third round (22:06), the run after the fourth (01:37 the next day), the run after the fifth
(03:34 the day after), the run after the sixth (05:51), and two runs of the seventh round,
which changed the benchmark, not the measured code (07:32, and 07:51, the one in this file).
The machine changed between some of them (another 2-core VM): compare the ratios.

| figure | 16:30 | 19:34 | 22:06 | 01:37 | 03:34 (b) | 05:51 (c) | 07:32 (d) | 07:51 (d) |
|---|---|---|---|---|---|---|---|---|
| read req/s saturated, x bare | 0.15x | 0.77x | 0.94x | 1.01x | 0.91x | 0.83x | 0.79x | 0.98x (e) |
| read p99 saturated, x bare | - | 1.24x | 1.10x | 0.99x | 1.18x | 1.16x | 1.17x | 0.98x |
| read req/s, x SQL | 3.8x | 18.6x | 15.8x | 18.0x | 16.0x | 19.7x | 18.3x | 17.4x |
| projector events/s | 5,521 | 23,456 | 25,817 | 46,916 | 37,814 | 34,522 | 29,915 | 32,034 |
| projector, x bare consumer | - | - | - | 0.09x | 0.10x | 0.12x | 0.13x | 0.12x |
| projector CPU/event | 168 us | 41 us | 38 us | 20 us | 25 us | 28 us | 32 us | 30 us |
| rebuild 1M (s) | 180.7 | 41.3 | 18.7 | 13.1 | 16.1 | 15.5 | 20.3 | 17.1 |
| RSS 100k/1M MiB | - | 177/267 | 172/242 | 184/163 (a) | 128/154 | 115/160 | 120/154 | 122/154 |
| RSS peak (MiB) | - | 267 | 242 | 262 | 163 | 161 | 160 | 161 |
| Redis B/deployment | - | - | - | - | 5,096 | 2,936 | 2,936 | 2,936 |
| fresh p99 GET/watch | 556/- | 48/47 | 49/51 | 36/38 | 33/33 | 52/51 | 61/55 | 64/62 |

(a) 262 MiB at 500k: the RSS fell back by 1M (the fetcher's buffers emptying, see the fifth
round). (b) A slower VM than the 01:37 run's: its bare consumer read 380k
records/s (502k at 01:37), its bare endpoint served 6.8k req/s (10.5k); the projector
measured 0.10x of its bare consumer (0.09x at 01:37), the rebuild 6.1x its time (6.6x).
(c) Another VM, slower still: its bare consumer read 289k records/s, its bare endpoint
served 7.1k req/s; freshness p50 27 ms (20 ms at 03:34). The same-run ratios are the
figures to compare: the projector went 0.10x -> 0.12x of its bare consumer.
(d) The measured code as at 05:51, on another VM again (bare consumer 239k and 260k
records/s). (e) From 07:51 on, ours and the bare endpoint run at saturation in 3
interleaved pairs, compared by their sums (seventh round).

### Checked in the eighth round (no figure above changed)

Experiments outside the tree, on the code measured above; none changed it.

- **Why the embedded broker's fetches get dearer: it lists the partition.** In Tansu's
  source (`tansu-storage/src/dynostore.rs`, `fetch`; the memory engine is this object-store
  engine over memory), a fetch of a partition that has records past the fetch offset lists
  every batch object stored for that partition and parses each one's offset, then reads
  the batches from the fetch offset on: its cost grows with the batches the partition
  holds, as measured (seventh round), and small batches make many. Kafka seeks through an
  offset index instead. The storage engines that could index (`postgres://`, `sqlite://`)
  are not compiled into the shipped binary (both refuse with `FeatureNotEnabled`).
- **The broker's fetch wait, idle.** One record every ~50 ms on a 12-partition topic, a
  bare consumer, broker ack -> received (200 records each): with `fetch_max_wait_ms` 20
  (ours) p50 3.4-4.4 ms, p99 12 ms; 100 -> p50 22 ms, p99 51 ms; 5 -> p50 1.8 ms, p99 4.5 ms.
  So at rest the wait costs about half its value at most, and at 2,000 events/s most of the
  ~16-23 ms between the ack and a bare consumer's receipt (its p50 less the probes' p50 to
  the ack, 9 ms) is the broker's work, not the wait.
- **jemalloc for the projector's RSS** (`LD_PRELOAD` of Debian's libjemalloc2, paired
  1M-event runs, peaks per 100k stretch): 135 -> 176 MiB, 1.30x, against 128 -> 169 MiB,
  1.32x, with glibc's malloc; the same events/s (36.1k vs 36.2k). The growth is the states
  filling (measured in process, folding the same log without I/O: 2.4 kB per state after 10
  events, 3.9 kB once the history and the digests are full at 64 events; RSS +22 MiB for
  10,000), not an allocator's fragmentation that another allocator would avoid.
- **Events as TypedDicts instead of models** (the same fields and constraints, one
  discriminated union): `validate_json` 3.16 us against 3.35-4.34 us per event (the bench's
  events, best of 3), plus some of the freeing (the profile's samples at the `await` of
  `process()`, ~6.5%, are mostly each batch's events being freed). A few percent for a
  contract every module reads by attribute: not done.

### What changed in the seventh round (07:32, 07:51)

The benchmark, not the measured code: what the freshness and read figures mean on these VMs.

- **The embedded broker's fetch cost grows with the record batches a partition holds.**
  Found while splitting the freshness time into its parts: a second freshness run on the
  same stack was much slower than the first (p50 30 -> 52 ms, p99 56 -> 119 ms; one
  experiment, its projector in a group of its own with a cold cache, so not all of it the
  broker's), and `top` showed the broker at ~65% of a core. `bench/broker_cost.py`
  isolates it, with none of our code: the freshness run's producer (linger 5 ms, so batches
  of a few records) at 2,000 events/s and a bare consumer with the projector's fetch
  settings, in 5 s stretches on one topic: broker CPU 48% -> 68% -> 88% -> 93% of a core as
  the topic went from 0 to 30,000 records, and 45% on a new topic (this run; 42 -> 93% and
  38% at 07:32). It is the batches, not the records: a topic of 300,000 records published
  in 1 MiB batches cost the broker what an empty one did (41% vs 39%, one experiment), and
  a longer fetch wait does not help (100 ms: 92%, measured after 95% with 20 ms on the
  same topic).
  Real Kafka finds a fetch's start through an offset index, so this is the test broker's
  property; but here it sets the stage for every freshness figure: each run adds thousands
  of small batches to the topic, and the broker is the largest CPU user while publishing
  (50% of a core in this run, the projector 49%, the benchmark client 37%, the API 20%,
  Redis 10%: ~165% of the 200%).
- **Freshness has a same-run baseline now** (`bench/freshness_floor.py`): a bare aiokafka
  consumer with the projector's fetch settings, reading the same publishing right after the
  freshness run. In this run it received the probes at p50 31.8 ms, p99 149.1 ms, against
  37.9 / 63.6 ms through GET and 36.5 / 62.2 ms through watch streams (07:32: 24.7 / 66.4 ms
  against 31.8 / 61.3 and 30.9 / 55.4). Run after ours, it meets a broker that holds ours'
  batches too (85% of a core against 50%): the harsher stage, so the comparison flatters
  ours somewhat; run first (tried once), its batches made the freshness run after it
  slower (p50 99 ms, p99 308 ms). Either way, on this machine the broker and a client
  alone take about what the target allows; what the projector and the API add is ~6-7 ms
  at p50 by this comparison (more, since the baseline's broker was busier).
- **The GET probes' time is split**: send -> the broker's acknowledgement p50 9.0 ms, p99
  21.2 ms (the producer's 5 ms linger and the broker's append), the rest until the API
  answers. Each process's CPU while publishing is reported (`/proc/<pid>/stat`).
- **Read path: ours and the bare endpoint at saturation run in 3 interleaved pairs of 5 s**,
  both servers up throughout, compared by their sums. At 07:32 single runs of the same
  server differed by 27% within the run (4,904 req/s in the main table, 3,600 in the levers
  table's identical row) and its 0.79x was the first ratio under 0.8x since 19:34. The pairs
  of this run show how far single runs swing here: 1.22x, 0.74x and 1.05x (0.98x summed).
  The server's CPU per request moves less: ours 0.222 ms, the bare endpoint 0.215 ms in this
  run (0.203 / 0.159 at 07:32).

Noticed and left: at 2,000 events/s the projector takes 37-49% of a core (58 batches/s of
34 records, by its metrics), ~6 ms of CPU per batch where its events cost ~1 ms at the
full-rate cost per event: at this rate the per-batch work dominates (py-spy: the event loop
and the Redis round trips, aiokafka's fetch handling, the changelog's produce request, the
commit, the progress write). A commit every second instead of every batch (tried outside
the tree, same load) left the projector's CPU as it was (38% against 38-39%), so the commit
per batch stays, with its short redelivery after a crash; fewer, larger batches (a minimum
fetch size) would trade latency for CPU, the wrong way for this target: not tried.

### What changed in the sixth round (05:51)

Measured first by instruction counts, which do not move with this VM's load: `valgrind
--tool=callgrind` over the fold-and-write path in one process (decode, fold, `Write`, the
packed script call; 2,000 deployments, the difference of two runs of 4 and 8 rounds), then
each change end to end in paired 600k-event runs of the projector as deployed against the
commit before the round (27fd9c2), since single runs here move by 15%.

- **ETags are XXH3-128** (`projector/document.py::etag`, python-xxhash): blake2b was 14% of
  the instructions of that path: CPython's `_blake2` here is its portable C build (no SIMD),
  ~2 us per 2 kB document, against 0.09 us. An ETag only tells a client's copy from the
  current one; it need not be cryptographic.
- **Event times are %-formatted** field by field (`projector/state.py::format_time`):
  `isoformat()` goes through C's `printf` per field and formats the offset too (1.2 vs 0.76
  us; f-strings 1.3). A property test checks it against `isoformat` on any moment and zone.
- **A status change newer than the history's first entry is put in front without splitting
  the history** (`projector/fold.py::_add_history`), the oldest cut off when full; the scan
  stays for late arrivals. A property test checks the history against the newest 10 of all
  status changes, for any order of arrival.

  Together: 228k -> 187k instructions per event; end to end 27.5 -> 25.0 us of CPU per event
  (3 pairs against the round's starting commit).
- **Beside its document, a fold state is stored as only what the document lacks**
  (`projector/stored_state.py`): owner, events applied, the event digests and the position;
  the document already holds the name, status, replicas, resources, history and times. The
  whole state was a second rendering of the replicas and the history per write, and as many
  bytes again in Redis: **2,936 bytes per deployment hash instead of 5,096** (the fold state
  360 B instead of 2,084 B; footprint above). A state not served has no document and is
  stored whole, as before; the whole states that the version before wrote beside their
  documents are read as they are, so this step needs no rebuild. A partial state whose
  document is gone raises `ViewLost` (the projector chooses its generation again, as when
  Redis loses data). Tests: the property test of batches and redelivery goes through this
  form, and one test per case above. 187k -> 169k instructions per event.

Together, by instructions: 228k -> 169k per event on the fold-and-write path (-26%). End to
end, all four changes against the round's starting commit: 24.8 -> 22.5 us of CPU per event
(2 pairs; 43.2-43.7k events/s against 37.7-41.1k), about the gain the first three showed
alone: the paired runs do not separate the fourth's share from this VM's noise (its gain in
Redis bytes is certain). The rest of the projector is aiokafka's records, the Redis and
Kafka I/O and freeing each batch. Against its bare consumer the projector went from 0.10x
to 0.12x in the full runs.

Tried and not kept: replicas as slotted dataclasses rendered natively by orjson (1.97 us for
three, against 1.19 us through dicts); digests by XXH3-64 (0.05 vs 0.38 us, but the digests
already stored are blake2b's, and a producer retry across the upgrade would be applied
twice); a bigger batch with bigger fetches (`PROJECTOR_BATCH_SIZE` 50,000 with 8 MiB
fetches: 17.6k records per batch instead of 5.9k, -7% CPU per event, +35 MiB of RSS);
disabling the heap trimming (one run each, within this VM's noise: the system time was
4% of the projector's CPU, and the trimming added ~34k page faults, ~0.05 s).

### What changed in the fifth round (03:34)

The RSS first: measured, not inferred this time. A diagnostic thread in the projector (a
`sitecustomize.py` outside the tree) logged every second glibc's `mallinfo2()`, pymalloc's
arenas (`sys._debugmallocstats`) and the live blocks, and `tracemalloc` snapshots of a slower
run were compared by source line. What the RSS of the round before was made of:

- **The fetcher's buffers, ~70 MiB.** aiokafka keeps a partition's fetched bytes until its
  last record is consumed, and fetches again only then. Under its default `fetch_max_bytes`
  of 50 MiB the embedded broker answered with ~6 MiB per partition (it ignores the
  per-partition cap of 1 MiB; checked with a bare consumer: up to 5.9 MiB per partition,
  up to 2.0 MiB with `fetch_max_bytes` at 1 MiB), 12 of them. They filled while the run
  went on, so the RSS rose, and emptied as partitions ran out, so it fell back at the end:
  the rise and fall the round before took for fragmentation. Now `KAFKA_FETCH_MAX_BYTES` and
  `KAFKA_MAX_PARTITION_FETCH_BYTES`, 1 MiB each by default (`deploystatus/settings.py`):
  the same events/s (24.8-25.9 us/event before, 24.0-26.1 after, paired 1M-event runs),
  ~100 MiB less at the peak. 512 KiB and less cost a quarter of the rate on the embedded
  broker (28k vs 38k events/s), so not lower.
- **The states, 2.3 -> 4.9 kB each while they fill** (deep size of 2,000 folded states after
  10 and 100 events each): the history of 10 status changes was 2.8 kB of it, ten named
  tuples of five objects. **The history is now kept as the document's entries**, rendered
  once, in one bytes object (`projector/state.py`: JSON objects one per line, since JSON
  text holds no raw newline; the document embeds them as they are with `orjson.Fragment`):
  1.3 kB for ten. The fold finds an entry's `changed_at` by its key (`changed_at()`; a
  reason cannot spell the key, its quotes would be escaped). The stored fold state holds the
  entries as the same JSON objects; a state of the older form is refused with
  `IncompatibleState` (README: Upgrading). Tests: every field through the stored form, the
  entries' form, reasons that spell the key or hold a newline, the older form refused. A
  tuple of entries (1.7 kB) measured the same in paired runs; the single object is smaller.
- **orjson's output keeps the buffer it was written into**: `tracemalloc` counts 4,489 bytes
  for a 7-byte `orjson.dumps()` and 16 KiB for a 2 kB one. Harmless for the documents and
  states written within a batch; for entries kept for the life of a state it was not: the
  first version of the change above held 500+ MiB, because 100,000 kept entries pinned
  their buffers (478 MiB in a reduced test, 17 MiB for their copies). Kept entries are now
  copied to their size (`_kept`). Copying the batch's documents and states too lowered the
  RSS by ~10 MiB throughout at ~1% more CPU per event: not kept (it moves the whole curve,
  not its shape).
- **The benchmark compares each 100k stretch's peak RSS** with the first stretch's
  (`bench/projector_run.py::rss_peak_at`; both the peak and the sample at each checkpoint are
  listed under Footprint): a batch's events, documents and writes come and go within a
  second, so a single sample lands anywhere on that sawtooth (samples at the same checkpoint
  of identical runs differed by 13 MiB).

Together: peak RSS 262 -> 163 MiB; from the first 100k stretch to the farthest, 1.42x ->
1.28x (this run; 1.21x in a projector-only run before it). What remains of the growth is
the states reaching their bounds (history of 10, 64 event digests: +1.5 kB per deployment,
~15 MiB for 10,000) and the allocators around them. A diagnostic 1M-event run of this
code, from 100k events to the end: glibc's heap in use +16-20 MiB (the full histories and
digests are over pymalloc's 512-byte limit, so they live there) and its free chunks +6 MiB
(between the batches' buffers; `malloc_trim` returns only whole free pages); pymalloc's
arenas +7 MiB, then flat from ~300k events.

Tried and not kept: the collector's first threshold at 1,000,000 (3 paired 600k-event runs:
25.6, 25.2, 26.1 us/event against 25.2, 25.4, 24.9 at 200,000); a fixed glibc mmap threshold
(`MALLOC_MMAP_THRESHOLD_=131072`: a little less RSS throughout, a higher ratio);
`%`-formatting for the event times (1.0 vs 1.7 us in timeit, ~2.5% of an event's CPU: not
worth a less plain `format_time` while the target is 25% away on this VM).

### What changed in the fourth round (00:52, 01:37)

Profiled first (py-spy over a whole 500k-event run, and `gc.callbacks` timers), then each
change measured end to end on the same 500k-event experiment (10,000 deployments, one
projector process as deployed; the steady rate and the CPU per event, in pairs where the
gain was small).

13. **The changelog fills producer batches of up to 512 kB** (`deploystatus/connections.py::
    MAX_BATCH_BYTES`; aiokafka's default of 16 kB holds a handful of 2 kB documents, so every
    few records cost a produce request encoded in Python and a wait for the batch to drain),
    **and appends its records to them itself** (`projector/changelog.py`: one open batch per
    partition, sent when full, partitioned as `send()` would; a test checks partitions,
    headers and order per key): 36k -> 48k events/s, then ~+3%.
14. **The collector's first threshold is 200,000** (was 50,000; `deploystatus/cli.py`). The
    threshold counts objects alive since the last collection, and a batch keeps its events
    and new states alive until it is written: at 50,000 the young collections ran several
    times a batch and each walked ~100k objects scattered in memory (timed with
    `gc.callbacks`: 2.2 s of 17 s for 400k events); at 200,000 they run a few times per
    run. The collector found no cyclic garbage building up (`gc.collect(1)` every second in a
    diagnostic run collected nothing). Levers above: 700 and 50,000.
15. **Record keys are parsed once** (`events/codec.py::decode_keyed`, an LRU of keys in
    canonical form): the key check formatted every subject uuid behind a `cached_property`
    (whose lock costs in 3.11); together ~15% of the samples before. Non-canonical keys and
    mismatches take the old path (tests for each case).
16. **The owner index is written only where its entry may differ** (`projector/consumer.py::
    _index_entry_changed`): a new owner, served or not any more, or a state this process did
    not write last (so a crash between a write and its fan-out is still made good): the SADD
    of every written deployment was 3% of the CPU. A tail that fails before a rebalance now
    empties the state cache, since cached states are trusted to have been fanned out.
17. **uvloop for the folding processes** (projector, rebuild and its helpers): 4 paired runs,
    5-7% less CPU per event (43.3k vs 47.6k, 46.7k vs 49.1k events/s). The lever row above
    (a 200k-event topic, ~4 s steady) is too short to show a difference that small reliably.
18. **Freed heap memory goes back to the system** (`deploystatus/memory.py`: `malloc_trim(0)`
    once a second from a daemon thread; ctypes releases the GIL, no measurable cost). Without
    it the RSS stayed at its peak to the end of the run; with it, it falls back once the
    states stop growing (1M checkpoint: 242-260 MiB before, 173-207 MiB after).

19. **Writes are a plain slotted class** (`projector/store.py::Write`, a frozen dataclass's
    setters cost per write) and positions go to the packer as ints: within noise.
20. **The benchmark's own baseline**: the bare consumer runs in the benchmark process, which
    after the read benchmark holds ~1 GB of objects (the read data set); every collection
    during the consumption walked them all, and the baseline read 1M records in 4.4-4.7 s
    instead of 2.3 s. The process now freezes them (`gc.freeze()`) before the projector
    benchmark: 1.99 s in the 01:37 run. The projector runs in its own process and was not
    affected; only the ratio column was.

Together, in the 500k-event experiment: 31k -> ~49k events/s, 31 -> ~20 us of CPU per event.
Projector-only runs of the benchmark (`--only projector`): 51,725 and 50,944 events/s (19
us/event). Full runs: 43,195 (before uvloop), 46,876, 48,316 and 46,916 (01:37; 20
us/event): the same CPU per event within 5%, the steady rate a few percent lower than in
the projector-only runs, on the same 2 shared cores. The rebuild (2 processes) went
18.7 -> 13.1 s with the same changes.

Tried and not kept: `PROJECTOR_BATCH_SIZE` 20,000 (42.8k vs 44.7k) and 5,000 (42.0k); a
hand-built dict for the state's JSON (10% of that call, not worth a second list of fields);
keeping records undecoded until their deployment is folded, for cache locality (in process:
within noise); `cache_strings` settings of pydantic (no change).

### What changed in the third round (22:06)

11. **The rebuild is shared out between processes** (`projector/rebuild_workers.py`,
    `REBUILD_PROCESSES`, by default one per core up to 4): the `rebuild` process replays the
    first share of the partitions and runs the phases; helper processes
    (`deploystatus rebuild-worker`) replay the others into the same generation and consumer
    group. With 2 processes on these 2 cores: 18.7 s against 34.0 s for the same rebuild in
    one process (the lever row above; 1.82x). It pays this much because one process used
    one core while Redis and the broker left most of the other idle (top: projector ~95%,
    Redis ~20%, broker ~15% of a core).
12. **The fold dispatches on a table** of one handler per event type instead of a `match`
    statement, which tried the class patterns in turn (in process, timeit: 6.7 -> 5.1 us
    per status change, 8.3 -> 6.2 us per replica event); a status change is inserted into the
    history by a scan instead of a sort; `format_time` builds one datetime fewer.
    Together with run-to-run noise: 41 -> 38 us of projector CPU per event.

Tried and not kept: `KAFKA_FETCH_MAX_WAIT_MS=5` (freshness p50 27 -> 22 ms but p99 71 -> 98
ms in a freshness-only run: the faster polling took CPU from the rest); `PYTHONMALLOC=malloc`
for the projector (17k instead of 24k events/s and a higher RSS: 190 / 274 MiB); a union of
a canonical-uuid string and `uuid.UUID` for the subject (pydantic validation 4.0 -> 4.7 us,
slower than the uuid it would avoid formatting).

### What changed in the second round, and what each change measured

Read path (`api/`):

1. **Document cache** (`api/document_cache.py`): the owner's recent reads are answered
   without Redis until the projector's change notification for the deployment drops them
   (the notification is published by the write script itself, atomically with the write).
   Nothing is served from it unless the change feed heard from Redis within
   `API_CACHE_MAX_STALENESS_MS` (500 ms; it PINGs a quiet channel every 125 ms), it is emptied
   on a lost subscription and on a generation switch, and a read overtaken by a newer
   version does not fill it. Only owners hit it: another user's request goes to Redis as
   before, so the 404 cases of the security issue still look and cost the same. Its lever
   above ("without the document cache") is what it pays: about half the throughput, and the
   p99 at saturation (66 -> 8 ms). Staleness: the notification's delivery, measured through
   the freshness benchmark below (GET answers there are woken by the same notification).
   The warm-up pass (every target read once before timing) makes the run the steady state
   of a long-running API; the hit ratio is printed above.

Projector (`projector/`, `events/codec.py`, `deploystatus/connections.py`):

2. **The fold's state** (`projector/state.py`) is a slotted dataclass of named tuples
   instead of pydantic models, copied once per deployment per batch (not per event), its
   JSON written with arrays for the value types, and the dedup window kept as 8-byte
   digests. In process (min of 5 timeit runs, bench data): fold 12 -> 5 us per event, state
   JSON 19 -> 4.3 us, state load 43 -> 11 us, state bytes 2,725 -> 1,986 (and no longer
   dependent on the length of producers' event ids). The stored format changed:
   `IncompatibleState` names the upgrade step (README: Upgrading).
3. **Decoding in one pydantic pass** (`validate_json` on the bytes, the step-by-step path
   only for records it refuses, to say why): 4.4 -> ~3.3 us plus the key check.
4. **Render once per write** (`projector/store.py::Write`; the changelog rendered it again).
5. **hiredis packs the commands** (`HiredisPackingConnection`): redis-py's asyncio client
   packs them in Python: 7.8 -> 1.3 us per write call. The write script is called by
   EVALSHA through `deploystatus/scripts.py` (shared with the API), which also removed
   redis-py's SCRIPT EXISTS round trip before every pipeline.
6. **A batch's tail** (progress write, owner index, changelog, commit) runs while the next
   batch is fetched and folded; writes, loads and changelog records go in chunks of 1,000
   (kilobyte-sized commands were all in memory at once); producers remember each key's
   murmur2 hash (aiokafka computes it in Python: 5% of the projector's CPU).
7. **Rebuild batch size 10,000** (was 5,000), as the projector's.

   Together: 41 us of projector CPU per event, all included (86 before), 23k events/s
   steady, the rebuild of 1M events 97 -> 43 s.

Freshness (`deploystatus/connections.py`, `deploystatus/settings.py`, `bench/freshness.py`):

8. **No linger on the projector's producer**: it sends a batch of changelog records and
   awaits them, so `linger_ms=5` only delayed every batch's tail, and with it the next
   batch. Quick run: p99 publish -> GET 124 -> 35 ms, -> watch stream 83 -> 30 ms.
9. **`KAFKA_FETCH_MAX_WAIT_MS` 20 by default** (was 100): the embedded broker holds a fetch
   up to that long even when records arrive (a lone record produced while a consumer polls:
   p50 24 ms with 100, 6 ms with 20); Kafka answers at once, so there it only sets how often
   an idle projector asks. Its lever above: p50 33 -> 20 ms in this run (48 -> 26 in an
   earlier one).
10. **The benchmark's GET probes** now ask once with `?min_offset=<the probe's offset>` (the
    API answers when the event is applied) instead of polling every 3 ms: the polling cost
    more CPU than the projector on these 2 cores and inflated the figure it measured. The
    watch-stream probes are new (40 deployments with an open SSE stream).

### What is still missed, and why

**Projector, 50,000 events/s in one process: missed (32.0k in this run and 29.9k at 07:32,
on VMs whose bare consumer read 260k and 239k records/s, against 289k at 05:51, 380k at
03:34 and 502k at 01:37; 43-44k in the paired runs of the sixth round at quieter moments;
51.7k and 50.9k in projector-only runs on the 01:37 VM).** 30 us of CPU per event in this
run, all included, on a core shared with Redis (a Lua call per write) and the broker;
against its same-run baseline the projector holds its ground (0.12-0.13x of the bare
consumer, 0.10x at 03:34). The code on this path is the sixth round's; its profile (above)
is mostly per event and in Python: pydantic's validation (~19%, ~3 us; its floor: with
every field a plain string it is 2.4 us, and building the two models is most of it; typing
the ids as plain strings gains nothing measurable, and validating a batch as one JSON array
is slower: 4.7 against 3.4 us per event), the fold (~20%), freeing each batch's objects
(most likely the samples in `Projector.run` itself, where the last batch is let go),
aiokafka's record unpacking (~5%), the Redis write and the changelog. Meeting 50k on these
VMs would take another third of the CPU per event, or a decoder other than the contract's
pydantic models (a second definition of the contract); scale-out remains the design's
answer beyond one process (a consumer group over 12 partitions; the rebuild's 2 processes:
17.1 s for 1M events in this run).

**Projector RSS flat within 20% from 100k to 1M events: missed (1.32x: the peak of the
last stretch against the first stretch's, 161 vs 122 MiB; 1.32x at 07:32, 1.31x at 05:51,
1.28x at 03:34, 1.42x at 262 MiB before the fifth round).** The peak has stayed at 160-163
MiB since the fifth round; the first stretch fell when each write began to carry less.
What grows is the states up to their bounds (history of 10, 64 event digests: +1.5 kB per
deployment, ~15 MiB for 10,000) and the allocators around them, and it stops once the
states are full. Reaching 1.2x would need smaller states or a bigger resting footprint, and
we do not grow the footprint to meet a ratio.

**Freshness p99 <= 50 ms at 2,000 events/s: missed in the last three runs (63.6 / 62.2 ms
through GET / watch in this run, 61.3 / 55.4 at 07:32, 51.7 / 51.0 at 05:51), met in the
four full runs before them (32.9-47.0 ms).** On this machine the embedded broker sets the
floor (seventh round): a bare consumer of the same publishing, right after, received it at
p99 149.1 ms in this run and 66.4 ms at 07:32, slower than the projector and the API
together; the broker is the largest CPU user while publishing, and its fetches get dearer
as every run adds small batches. What the projector and the API add is ~6-7 ms at p50. The
target is not met on this test broker; whether it is met on Kafka is not measured here (no
Docker engine on these machines, and Maven Central, which serves Kafka's jars, is not
among the registries they reach: tried).

**Read path at 0.8x of the bare endpoint: met (0.98x in this run, summed over 3 interleaved
pairs of 1.22x, 0.74x and 1.05x; 0.79x at 07:32, single runs; 0.83x, 0.91x, 1.01x, 0.97x,
0.99x, 0.92x, 0.94x, 0.80x and 0.77x before).** The ratio rests on throughput measured on 2
shared cores, whose runs swing by a quarter; the server's CPU per request, steadier, puts
ours at 1.03x the bare endpoint's in this run (0.222 vs 0.215 ms) and 1.28x at 07:32. With
the document cache a read does no I/O; what is left is uvicorn's and FastAPI's share, as
for the bare endpoint, plus the token check (cached) and the response headers.

Caveat: this machine has 2 cores shared by wrk, the server, Redis/PostgreSQL, the broker and
the benchmark client; absolute figures move between runs, the same-run ratios much less.
"""
