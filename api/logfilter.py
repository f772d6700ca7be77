"""Keeps tokens out of the logs. Tokens are only ever read from the Authorization header,
which nothing logs; but clients do put them in query strings (refused with 401) and
uvicorn's access log writes the full URL."""

from __future__ import annotations

import logging
import re

ACCESS_LOGGER = "uvicorn.access"
# Three base64url segments starting with the encoding of '{"': what any JWT looks like.
_JWT = re.compile(r"eyJ[\w-]*\.[\w-]*\.[\w-]*")


class RedactTokens(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        # uvicorn's access record: (client, method, path with query, http version, status).
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            record.args = (*args[:2], redact(args[2]), *args[3:])
        return True


def redact(url: str) -> str:
    path, has_query, _ = url.partition("?")
    return _JWT.sub("<redacted>", path) + ("?<redacted>" if has_query else "")


def install() -> None:
    """Add the filter to uvicorn's access logger (once, however many apps are built)."""
    logger = logging.getLogger(ACCESS_LOGGER)
    if not any(isinstance(f, RedactTokens) for f in logger.filters):
        logger.addFilter(RedactTokens())
