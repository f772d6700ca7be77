"""Errors of the event contract."""

from __future__ import annotations


class EventsError(Exception):
    """Base class of every error raised by the ``events`` package."""

    retriable: bool = False


class InvalidEvent(EventsError):
    """A record that is not a valid deployment event; it belongs in the dead-letter topic.

    ``reason`` is a short machine-readable code (``not_json``, ``invalid_data``, ...),
    ``message`` says what exactly is wrong, quoting the offending value.
    """

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(f"{reason}: {message}")
        self.reason = reason
        self.message = message
