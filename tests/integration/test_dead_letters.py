"""Records that are not valid events go to the dead-letter topic byte for byte, and the
projector goes on with the events after them."""

from __future__ import annotations

import random
import uuid

import orjson
import pytest
from support.processes import running_projector
from support.publishing import publish_records
from support.topics import read_topic
from support.view import wait_for_view

from cli.samples import create_deployment
from events import encode, new_event
from projector import dead_letters as dlq

# The same contract on a single Redis and on a 3-master Redis Cluster.
pytestmark = pytest.mark.parametrize("redis_kind", ["single", "cluster"], indirect=True)


def bad_records(deployment_id: str) -> dict[str, tuple[bytes | None, bytes | None]]:
    """One (key, value) per way a record can be wrong, with the reason it must get."""
    good = new_event("deployment.scaled", deployment_id, {"target_replicas": 2})
    key, value = encode(good)
    obj = orjson.loads(value)
    other_id = str(uuid.uuid4())
    return {
        "not_json": (key, b"{not json"),
        "not_object": (key, b'["a", "list"]'),
        "missing_attribute": (key, orjson.dumps({k: v for k, v in obj.items() if k != "source"})),
        "wrong_specversion": (key, orjson.dumps({**obj, "specversion": "0.3"})),
        "unknown_type": (key, orjson.dumps({**obj, "type": "deployment.exploded"})),
        "invalid_data": (key, orjson.dumps({**obj, "data": {"target_replicas": -1}})),
        "key_mismatch": (other_id.encode(), value),
        "invalid_subject": (b"not-a-uuid", orjson.dumps({**obj, "subject": "not-a-uuid"})),
        "no_value": (key, None),
    }


async def test_bad_records_are_dead_lettered_and_later_events_apply(settings):
    """Each bad record lands in the DLQ with its key, value, reason and origin; the
    deployment's later events still apply."""
    owner = str(uuid.uuid4())
    dep, events = create_deployment(owner, "web", 2, random.Random(5))
    bad = bad_records(dep.deployment_id)
    later = new_event("deployment.scaled", dep.deployment_id, {"target_replicas": 5})
    records = [(None, None, e) for e in events]
    records += [(key, value, None) for key, value in bad.values()]
    records.append((None, None, later))
    written = await publish_records(settings, records)
    origin = {(m.partition, m.offset) for m in written[len(events) : len(events) + len(bad)]}

    async with running_projector(settings):
        await wait_for_view(settings, [*events, later])
        dead = await read_topic(settings, settings.kafka.dlq_topic, len(bad))

    assert len(dead) == len(bad)
    by_reason = {}
    for record in dead:
        headers = {name: value.decode() for name, value in record.headers}
        assert headers[dlq.ORIGINAL_TOPIC] == settings.kafka.events_topic
        assert (int(headers[dlq.ORIGINAL_PARTITION]), int(headers[dlq.ORIGINAL_OFFSET])) in origin
        assert headers[dlq.ERROR_MESSAGE]
        by_reason[headers[dlq.ERROR_REASON]] = (record.key, record.value)
    assert by_reason == bad


async def test_original_headers_are_kept(settings):
    """A dead-lettered record keeps the headers it was published with, after ours."""
    from deploystatus.kafka import create_producer
    from deploystatus.topics import ensure_topics

    await ensure_topics(settings)
    producer = create_producer(settings, "tests")
    await producer.start()
    try:
        await producer.send_and_wait(
            settings.kafka.events_topic,
            key=b"k",
            value=b"nope",
            headers=[("traceparent", b"00-abc-def-01")],
        )
    finally:
        await producer.stop()
    async with running_projector(settings):
        [record] = await read_topic(settings, settings.kafka.dlq_topic, 1)
    assert record.headers[-1] == ("traceparent", b"00-abc-def-01")
    assert dict(record.headers)[dlq.ERROR_REASON] == b"not_json"
