"""Creating the topics the projector needs when they are missing."""

from __future__ import annotations

import logging

from aiokafka import TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError, for_code

from deploystatus.kafka import create_consumer
from deploystatus.settings import Settings

log = logging.getLogger(__name__)

# The events topic is the source of truth: the view can be rebuilt only from what it keeps.
KEEP_FOREVER = {"retention.ms": "-1", "retention.bytes": "-1", "cleanup.policy": "delete"}
# The changelog keeps the latest document per deployment; tombstones go after a day.
LATEST_PER_KEY = {"cleanup.policy": "compact", "delete.retention.ms": "86400000"}


async def ensure_topics(settings: Settings) -> None:
    """Create the events, dead-letter and status changelog topics unless they exist
    (concurrent callers are fine)."""
    admin = AIOKafkaAdminClient(
        bootstrap_servers=settings.kafka.bootstrap_servers, client_id="deploystatus-admin"
    )
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        configs = {
            settings.kafka.events_topic: KEEP_FOREVER,
            settings.kafka.dlq_topic: KEEP_FOREVER,
        }
        if settings.kafka.status_topic:
            configs[settings.kafka.status_topic] = LATEST_PER_KEY
        wanted = [
            NewTopic(
                name,
                num_partitions=settings.kafka.events_partitions,
                replication_factor=settings.kafka.events_replication_factor,
                topic_configs=topic_configs,
            )
            for name, topic_configs in configs.items()
            if name not in existing
        ]
        if not wanted:
            return
        response = await admin.create_topics(wanted)
        for topic_error in response.topic_errors:
            name, code = topic_error[0], topic_error[1]
            error = for_code(code)
            if code == 0 or error is TopicAlreadyExistsError:
                log.info("topic %r is ready", name)
                continue
            raise error(f"could not create topic {name!r}: {topic_error[2:]}")
    finally:
        await admin.close()


async def end_offsets(settings: Settings) -> dict[int, int]:
    """The events topic's current end offset per partition (the live position of the log)."""
    consumer = create_consumer(settings, "deploystatus-offsets")
    await consumer.start()
    try:
        await consumer.topics()
        partitions = [
            TopicPartition(settings.kafka.events_topic, p)
            for p in consumer.partitions_for_topic(settings.kafka.events_topic) or ()
        ]
        ends = await consumer.end_offsets(partitions)
        return {tp.partition: offset for tp, offset in ends.items()}
    finally:
        await consumer.stop()
