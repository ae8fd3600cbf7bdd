"""A SubmodelElementCollection whose children are built the first time anything looks at them.

Why (issue 9): the IDTA 02008 TimeSeries Record holds one variable per numeric point, about 2 KB of
BaSyx objects each (a Property with its description, namespace sets and lists): 21 MB of a gateway's
RSS at 10,000 points, kept for its lifetime although most gateways never serve their TimeSeries
submodel. Built on first use instead, the memory is spent only by a gateway whose clients read it,
and what they read is the same: the children are made by the same function, in the same order, the
moment any code reads the collection's `value` or walks its namespace (`get_referable`, the JSON
encoders, `update_from`), before the first reader sees them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from basyx.aas import model


# Named like its base class on purpose: API error messages name an element's class (`type(e).__name__`),
# and they must read the same as for the eagerly built collection. The JSON encoders find the AAS class
# (modelType) through the class hierarchy, so they see a SubmodelElementCollection either way.
class SubmodelElementCollection(model.SubmodelElementCollection):
    """A collection whose `make()` children are added on first access of `value` or of its namespace."""

    def __init__(self, id_short: str, make: Callable[[], Iterable[model.SubmodelElement]], **kwargs: Any) -> None:
        self._make: Callable[[], Iterable[model.SubmodelElement]] | None = None  # not during construction
        super().__init__(id_short, (), **kwargs)
        self._make = make

    def _materialize(self) -> None:
        # No lock: the model is read and written on the event loop only, and this runs without awaiting.
        make = self._make
        if make is not None:
            children = list(make())  # if making them fails, nothing has changed and the next read raises again
            self._make = None  # before adding: adding a child reads the namespace again
            for element in children:
                self._children.add(element)

    # BaSyx's Namespace and SubmodelElementCollection assign these two in their constructors; as properties
    # here, every read of either builds the children first (the setters only store)
    @property
    def value(self) -> model.NamespaceSet[model.SubmodelElement]:
        self._materialize()
        return self._children

    @value.setter
    def value(self, v: model.NamespaceSet[model.SubmodelElement]) -> None:
        self._children = v

    @property
    def namespace_element_sets(self) -> list[model.NamespaceSet[Any]]:
        self._materialize()
        return self._sets

    @namespace_element_sets.setter
    def namespace_element_sets(self, v: list[model.NamespaceSet[Any]]) -> None:
        self._sets = v
