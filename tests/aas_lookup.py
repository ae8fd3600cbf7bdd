"""Typed look-ups of model elements for tests.

BaSyx's `get_referable` returns a bare `Referable`; a test names the kind of element it expects, so the type
checker knows what it holds and a wrong kind fails the test with both kinds named.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypeVar

from basyx.aas import model

E = TypeVar("E", bound=model.Referable)


def child(parent: model.UniqueIdShortNamespace, path: str | Iterable[str], kind: type[E]) -> E:
    """The element at `path` (an idShort or a list of them) below `parent`, checked to be a `kind`."""
    el = parent.get_referable(path)
    assert isinstance(el, kind), f"{path}: a {type(el).__name__}, expected a {kind.__name__}"
    return el
