"""The deployment event contract: CloudEvents 1.0 JSON, keyed by deployment id."""

from events.codec import decode, encode
from events.exceptions import EventsError, InvalidEvent
from events.models import EVENT_TYPES, Event, new_event

__all__ = ["EVENT_TYPES", "Event", "EventsError", "InvalidEvent", "decode", "encode", "new_event"]
