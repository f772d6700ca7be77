"""Logging set-up for the command-line entry points: JSON lines for log pipelines, plain
text for humans."""

from __future__ import annotations

import logging
import sys
from datetime import UTC, datetime

import orjson

# Attributes every LogRecord has; anything else was passed with `extra=` and is kept.
_STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}
# Libraries whose INFO lines (a line per HTTP request, the consumer group's protocol) would
# bury ours: they log from WARNING up, unless LOG_LEVEL=DEBUG, which shows everything.
LIBRARY_LOGGERS = ("httpx", "httpcore", "aiokafka")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update((k, v) for k, v in record.__dict__.items() if k not in _STANDARD)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(entry, default=str).decode()


def configure_logging(level: str, log_format: str = "auto") -> None:
    """Our loggers (and uvicorn's) at ``level``; LIBRARY_LOGGERS at WARNING or above, unless
    ``level`` is DEBUG."""
    if log_format == "auto":
        log_format = "text" if sys.stderr.isatty() else "json"
    handler = logging.StreamHandler()
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    logging.basicConfig(level=level.upper(), handlers=[handler], force=True)
    ours = logging.getLogger().getEffectiveLevel()
    for name in LIBRARY_LOGGERS:
        logging.getLogger(name).setLevel(
            ours if ours <= logging.DEBUG else max(ours, logging.WARNING)
        )
