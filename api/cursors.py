"""The list's cursors: opaque to clients, authenticated, and bound to what they were made for.

A cursor holds the key of the last entry of its page (``deploystatus.view.lists``: health
rank, name, id) and a MAC over that key, the listed owner and the filter, made with a key all
API processes share (kept in Redis). So a cursor altered, made for another owner, or made for
another filter is refused (400); it can only ever continue the walk it came from."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Awaitable, Callable

from api.exceptions import ApiError
from deploystatus.view.store import PageQuery

MAC_BYTES = 16
# A key: a rank, a name's bounded key (NUL bytes doubled at worst), two NULs, a uuid.
MAX_CURSOR_CHARS = 1024


class BadCursor(ApiError):
    """A cursor this API did not make for this owner and filter (or altered since)."""


class CursorCodec:
    """Makes and checks cursors; the shared key is read from Redis when first needed, and
    once more when a cursor does not verify (the key may have been made again since)."""

    def __init__(self, secret: Callable[[], Awaitable[bytes]]) -> None:
        self._read_secret = secret
        self._secret: bytes | None = None

    async def encode(self, key: bytes, owner: str, query: PageQuery) -> str:
        mac = _mac(await self._key(), key, owner, query)
        return base64.urlsafe_b64encode(mac + key).rstrip(b"=").decode()

    async def decode(self, cursor: str, owner: str, query: PageQuery) -> bytes:
        """The key of the entry the cursor continues after; raises BadCursor."""
        if len(cursor) > MAX_CURSOR_CHARS:
            raise BadCursor("cursor: not one of this list's")
        try:
            raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        except (binascii.Error, ValueError):
            raise BadCursor("cursor: not one of this list's") from None
        mac, key = raw[:MAC_BYTES], raw[MAC_BYTES:]
        if key and hmac.compare_digest(mac, _mac(await self._key(), key, owner, query)):
            return key
        self._secret = None
        if key and hmac.compare_digest(mac, _mac(await self._key(), key, owner, query)):
            return key
        raise BadCursor("cursor: not one of this list's, for this owner and filter")

    async def _key(self) -> bytes:
        if self._secret is None:
            self._secret = await self._read_secret()
        return self._secret


def _mac(secret: bytes, key: bytes, owner: str, query: PageQuery) -> bytes:
    bound = "\x00".join((owner, ",".join(sorted(query.healths)), ",".join(sorted(query.statuses))))
    message = b"deploystatus list cursor\x00" + bound.encode() + b"\x00" + key
    return hmac.new(secret, message, hashlib.sha256).digest()[:MAC_BYTES]
