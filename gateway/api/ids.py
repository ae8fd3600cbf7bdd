"""Identifiers in URLs (base64url without padding) and opaque paging cursors.

Cursors carry an offset into the repository's stable order plus a short
checksum, so a tampered or made-up cursor is a clean 400 instead of a silently
wrong page.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Sequence
from typing import Any, TypeVar

from gateway.api.bounded_json import parse_json
from gateway.api.errors import BadRequest, excerpt

T = TypeVar("T")

DEFAULT_LIMIT = 100
_CURSOR_KEY = b"aas-gateway-cursor-v1"


def encode_id(identifier: str) -> str:
    return base64.urlsafe_b64encode(identifier.encode()).decode().rstrip("=")


def _b64decode(text: str) -> bytes:
    # '=' is never part of an encoded identifier in a URL, and a wrong amount of it is malformed input
    if not text or "=" in text.rstrip("="):
        raise ValueError("empty or misplaced padding")
    stripped = text.rstrip("=")
    if len(text) != len(stripped) and len(text) % 4 != 0:
        raise ValueError("bad padding")
    if len(stripped) % 4 == 1:
        raise ValueError("bad length")
    return base64.b64decode(stripped + "=" * (-len(stripped) % 4), altchars=b"-_", validate=True)


def decode_id(text: str, what: str = "identifier") -> str:
    """base64url (padding optional) -> UTF-8 identifier; 400 if malformed."""
    try:
        return _b64decode(text).decode("utf-8")
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise BadRequest(f"The {what} {excerpt(text)!r} is not valid base64url-encoded UTF-8") from None


def decode_json_or_text_param(text: str, what: str) -> Any:
    """A query parameter holding base64url-encoded JSON (semanticId, assetIds) or, as some clients send
    it, the base64url of a bare identifier: JSON if the decoded text starts with `{` or `[` (no IRI
    does), else the text itself (never empty). The JSON is parsed within the bounds of `bounded_json`."""
    raw = decode_id(text, what)
    if raw.lstrip()[:1] in ("{", "["):
        return parse_json(raw.encode(), f"The {what}")
    if not raw.strip():
        raise BadRequest(f"The {what} is empty")
    return raw


def _checksum(offset: int) -> str:
    return hashlib.blake2s(str(offset).encode(), key=_CURSOR_KEY, digest_size=4).hexdigest()


def encode_cursor(offset: int) -> str:
    return encode_id(f"{offset}:{_checksum(offset)}")


def decode_cursor(cursor: str) -> int:
    try:
        offset_text, check = _b64decode(cursor).decode("ascii").split(":")
        offset = int(offset_text)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise BadRequest("Invalid cursor") from None
    if offset < 0 or check != _checksum(offset):
        raise BadRequest("Invalid cursor")
    return offset


def page(items: Sequence[T], limit: int | None, cursor: str | None) -> tuple[Sequence[T], str | None]:
    """One page of `items` and the cursor of the next page (None on the last page)."""
    start = decode_cursor(cursor) if cursor is not None else 0
    size = limit if limit is not None else DEFAULT_LIMIT
    end = start + size
    return items[start:end], (encode_cursor(end) if end < len(items) else None)


def paged_body(result: list[Any], next_cursor: str | None) -> dict[str, Any]:
    return {"paging_metadata": {"cursor": next_cursor} if next_cursor else {}, "result": result}
