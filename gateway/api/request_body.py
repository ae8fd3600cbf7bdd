"""Request bodies: JSON only (415 otherwise), no larger than the limit (413), parsed within bounds (400).

The size and time limits are enforced while the body streams in (`gateway/api/transport.py` wraps
`receive`), so a handler that reads a body never holds more than `max_body_bytes` of it; this module
is what a handler calls to get the body and its JSON value.
"""

from __future__ import annotations

from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request

from gateway.api.bounded_json import parse_json
from gateway.api.errors import ApiError, BadRequest

JSON_MEDIA_TYPE = "application/json"


class BodyTooLarge(HTTPException):
    """The body is larger than `max_body_bytes` (declared or counted while it arrived)."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"The request body is larger than {limit} bytes (api.limits.max_body_bytes)",
                         headers={"Connection": "close"})


class BodyTimeout(HTTPException):
    """The body did not arrive within `body_timeout_s` of the request head."""

    def __init__(self, timeout_s: float) -> None:
        super().__init__(408, f"The request body did not arrive within {timeout_s:g} s (api.limits.body_timeout_s)",
                         headers={"Connection": "close"})


class UnsupportedMediaType(ApiError):
    def __init__(self, text: str) -> None:
        super().__init__(415, text)


def check_json_media_type(request: Request) -> None:
    """`Content-Type: application/json` (parameters such as `charset=utf-8` allowed); 415 otherwise."""
    header = request.headers.get("content-type")
    if header is None:
        raise UnsupportedMediaType(f"The request body needs 'Content-Type: {JSON_MEDIA_TYPE}'")
    media_type, _, params = header.partition(";")
    if media_type.strip().lower() != JSON_MEDIA_TYPE:
        raise UnsupportedMediaType(f"The request body must be {JSON_MEDIA_TYPE}, not {media_type.strip()[:80]!r}")
    for param in params.split(";"):
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset" and value.strip().strip('"').lower() not in ("utf-8", "utf8"):
            raise UnsupportedMediaType(f"JSON bodies are UTF-8, not charset {value.strip()[:40]!r}")


async def read_body(request: Request) -> bytes:
    """The body of a request that must carry JSON: 415 for another media type, 413/408 from the transport."""
    check_json_media_type(request)
    return await request.body()


def json_value(raw: bytes, what: str = "The request body") -> Any:
    """The JSON value of a body read by `read_body`; 400 for an empty body, bad JSON or a broken bound."""
    if not raw.strip():
        raise BadRequest(f"{what} is empty: a JSON value is required")
    return parse_json(raw, what)
