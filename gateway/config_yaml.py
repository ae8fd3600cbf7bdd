"""Reading the configuration's YAML fast enough for 100,000 points, with PyYAML's safe semantics.

A line with thousands of signals has a config of hundreds of thousands of YAML nodes. PyYAML's
pure-Python path takes minutes for 100,000 points; even with libyaml's C parser (``CSafeLoader``)
it takes 15 s, spent on three things this module avoids:

- CPython's cyclic garbage collector, which rescans the growing tree of freshly made dicts and
  strings again and again (more than half the time): loading makes no cycles, so it is paused.
- Node objects and ``SafeConstructor``'s generic, generator-based construction: the document is
  built straight from libyaml's parse events into dicts, lists and strings.
- The resolver's per-scalar list building: PyYAML's implicit resolvers (its table, in its order)
  are looked up by first character in a table made once.

Only the plain subset takes that path: mappings, sequences and scalars without explicit tags, one
document; anchors and aliases included (an alias is the anchored object itself, as PyYAML makes it:
a config that shares one `source` or `security` block between assets is ordinary, and the composer's
node tree costs ~30 MB of peak RSS, most of it kept, at 10,000 points: issue 9). A scalar that
resolves to anything but a string (int, float, bool, null, timestamp ...) is built by PyYAML's
SafeConstructor. Anything else (``!!binary``, a merge key ``<<``, a complex key or an alias as a
key, an undefined alias, a second document) makes the whole document go through libyaml's composer
and PyYAML's constructor: the result, and every error, are what ``yaml.safe_load`` gives.
Without libyaml it is ``yaml.safe_load`` itself (slower, same result).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import yaml
from yaml.events import (
    AliasEvent,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
    StreamEndEvent,
)
from yaml.nodes import ScalarNode

_STR = "tag:yaml.org,2002:str"
_MERGE = "tag:yaml.org,2002:merge"

HAVE_LIBYAML = hasattr(yaml, "CSafeLoader")
_IMPLICIT: dict[Any, list[tuple[str, Any]]] = yaml.SafeLoader.yaml_implicit_resolvers
_WILDCARD = tuple(_IMPLICIT.get(None, ()))
_BY_FIRST_CHAR = {ch: (*rs, *_WILDCARD) for ch, rs in _IMPLICIT.items() if ch is not None}
_KEY = object()  # key state of a mapping: the next scalar is a key (else the key state is that key)
_ITEM = object()  # key state of a sequence


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic GC while building a large acyclic tree (reference counting still frees memory)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def load_yaml(text: str) -> Any:
    """The document in `text` as ``yaml.safe_load`` returns it; raises yaml.YAMLError like it."""
    if not HAVE_LIBYAML:
        return yaml.safe_load(text)
    loader = yaml.CSafeLoader(text)
    try:
        return _from_events(loader)
    except _NeedsComposer:
        pass
    finally:
        loader.dispose()
    loader = yaml.CSafeLoader(text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


class _NeedsComposer(Exception):
    """The document uses YAML beyond the plain subset: PyYAML's composer and constructor build it."""


def _tag(value: str, implicit: tuple[bool, bool]) -> str:
    """BaseResolver.resolve for a scalar without an explicit tag (SafeLoader has no path resolvers)."""
    if implicit[0]:
        for tag, regexp in _BY_FIRST_CHAR.get(value[:1], _WILDCARD):
            if regexp.match(value):
                return tag
    return _STR


def _scalar(e: Any, loader: Any, anchors: dict[str, Any]) -> Any:
    if e.tag is not None and e.tag != "!":
        raise _NeedsComposer
    tag = _tag(e.value, e.implicit)
    if tag == _STR:
        v = e.value
    elif tag == _MERGE:
        raise _NeedsComposer
    else:
        v = loader.construct_object(ScalarNode(tag, e.value, e.start_mark, e.end_mark, e.style))
    if e.anchor is not None:
        anchors[e.anchor] = v
    return v


def _collection(e: Any, anchors: dict[str, Any]) -> dict[Any, Any] | list[Any]:
    if e.tag is not None and e.tag != "!":
        raise _NeedsComposer  # explicitly tagged (!!omap, !!set ...)
    c: dict[Any, Any] | list[Any] = {} if e.__class__ is MappingStartEvent else []
    if e.anchor is not None:
        anchors[e.anchor] = c  # registered before it is filled: an alias inside it is the collection itself
    return c


def _alias(e: Any, anchors: dict[str, Any]) -> Any:
    try:
        return anchors[e.anchor]
    except KeyError:
        raise _NeedsComposer from None  # undefined: the composer's error says where


def _from_events(loader: Any) -> Any:
    get = loader.get_event
    get()  # StreamStart
    if get().__class__ is StreamEndEvent:  # else DocumentStart
        return None
    e = get()
    anchors: dict[str, Any] = {}
    if e.__class__ is ScalarEvent:
        root = _scalar(e, loader, anchors)
    elif e.__class__ is MappingStartEvent or e.__class__ is SequenceStartEvent:
        root = _tree(_collection(e, anchors), get, loader, anchors)
    else:  # an alias at the top
        raise _NeedsComposer
    get()  # DocumentEnd
    if get().__class__ is not StreamEndEvent:
        raise _NeedsComposer  # a second document: the composer says what is wrong with that
    return root


def _tree(root: dict[Any, Any] | list[Any], get: Any, loader: Any, anchors: dict[str, Any]) -> Any:
    """The collection `root` was opened by the last event: fill it (and everything in it) from the events."""
    stack: list[tuple[Any, Any]] = []  # enclosing (collection, its key state) to return to
    cur: Any = root
    key: Any = _KEY if cur.__class__ is dict else _ITEM
    while True:
        e = get()
        c = e.__class__
        if c is ScalarEvent or c is AliasEvent:
            if c is ScalarEvent:
                v = _scalar(e, loader, anchors)
            elif key is _KEY:
                raise _NeedsComposer  # an alias as a key
            else:
                v = _alias(e, anchors)
            if key is _ITEM:
                cur.append(v)
            elif key is _KEY:
                key = v
            else:
                cur[key] = v
                key = _KEY
        elif c is MappingStartEvent or c is SequenceStartEvent:
            if key is _KEY:
                raise _NeedsComposer  # a mapping or sequence as a key
            child = _collection(e, anchors)
            if key is _ITEM:
                cur.append(child)
            else:
                cur[key] = child
            stack.append((cur, _ITEM if key is _ITEM else _KEY))
            cur, key = child, (_KEY if c is MappingStartEvent else _ITEM)
        elif c is MappingEndEvent or c is SequenceEndEvent:
            if not stack:
                return root
            cur, key = stack.pop()
        else:  # not an event of a document's body
            raise _NeedsComposer
