"""RFC 6901 JSON pointers, the way an MQTT point says where its value sits in a sensor payload.

A dozen lines instead of a dependency; parsing is separate from resolving so a bad pointer
is a configuration error at startup, not a per-message surprise.
"""

from __future__ import annotations

from typing import Any


def parse_pointer(pointer: str) -> tuple[str, ...]:
    """Split `/a/b~1c/0` into reference tokens ('a', 'b/c', '0'); '' is the whole document."""
    if pointer == "":
        return ()
    if not pointer.startswith("/"):
        raise ValueError(f"JSON pointer {pointer!r} must be empty or start with '/' (e.g. '/temperature')")
    tokens = pointer[1:].split("/")
    for t in tokens:
        rest = t.replace("~0", "").replace("~1", "")
        if "~" in rest:
            raise ValueError(f"JSON pointer {pointer!r}: '~' must be escaped as '~0' ('~1' is '/')")
    return tuple(t.replace("~1", "/").replace("~0", "~") for t in tokens)


def resolve(doc: Any, tokens: tuple[str, ...]) -> Any:
    """The value at `tokens` in `doc`; raises LookupError when it is not there."""
    for t in tokens:
        if isinstance(doc, dict):
            doc = doc[t]  # KeyError is a LookupError
        elif isinstance(doc, list):
            # RFC 6901: decimal digits, no leading zeros ('-' names the element after the last: absent)
            if not t.isdigit() or (len(t) > 1 and t[0] == "0"):
                raise LookupError(t)
            doc = doc[int(t)]  # IndexError is a LookupError
        else:
            raise LookupError(t)
    return doc
