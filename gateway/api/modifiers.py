"""The serialization modifiers `level` and `extent` as validated query parameters.

Content (`$metadata`, `$value`, ...) is a path suffix, so it is a route, not a
parameter. Part 2 forbids some combinations outright (answered 400 here);
a modifier that merely does not apply to the element (level on a Property)
is ignored, which is what aas-test-engines expects too.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from fastapi import Query

from gateway.api.errors import BadRequest


class Level(StrEnum):
    deep = "deep"
    core = "core"


class Extent(StrEnum):
    withoutBlobValue = "withoutBlobValue"
    withBlobValue = "withBlobValue"


LevelParam = Annotated[
    Level | None,
    Query(description="`deep` (default): all levels below the object; `core`: the object and its direct children"),
]
ExtentParam = Annotated[
    Extent | None,
    Query(description="`withoutBlobValue` (default) leaves out the content of Blob elements; `withBlobValue` keeps it"),
]
LimitParam = Annotated[int | None, Query(ge=1, description="Maximum number of entries in the page (default 100)")]
CursorParam = Annotated[
    str | None, Query(min_length=1, description="Opaque cursor from `paging_metadata.cursor` of the previous page")
]


def level_of(level: Level | None) -> Level:
    return level or Level.deep


def with_blob(extent: Extent | None) -> bool:
    return extent is Extent.withBlobValue


def check_metadata(level: Level | None, extent: Extent | None) -> None:
    """`$metadata` has no levels and no blob values: asking for them is a bad request."""
    if level is not None:
        raise BadRequest("The modifier 'level' is not allowed with content '$metadata'")
    if extent is Extent.withBlobValue:
        raise BadRequest("The modifier 'extent=withBlobValue' is not allowed with content '$metadata'")


def check_reference(level: Level | None) -> None:
    """A reference has no hierarchy below it, so `level=deep` contradicts `$reference`."""
    if level is Level.deep:
        raise BadRequest("The modifier 'level=deep' is not allowed with content '$reference'")
