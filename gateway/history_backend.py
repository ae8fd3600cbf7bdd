"""Serves the REST history route from the historian.

The API speaks in submodel ids and idShortPaths; the historian in point ids.
This adapter holds the mapping, built once from the configuration.
"""

from __future__ import annotations

from collections.abc import Iterable

from gateway.historian import Historian
from gateway.historian.records import Bucket, HistoryRow
from gateway.historian.store import split_point_id


class HistorianBackend:
    def __init__(self, historian: Historian, mapping: Iterable[tuple[str, str, str]]) -> None:
        """`mapping`: (submodel id, idShortPath, point id) for every historised point."""
        self._historian = historian
        self._points = {(sm, path): pid for sm, path, pid in mapping}

    def point_for(self, submodel_id: str, id_short_path: str) -> str | None:
        return self._points.get((submodel_id, id_short_path))

    async def samples(self, point_id: str, start_ns: int | None, end_ns: int | None, limit: int) -> list[HistoryRow]:
        asset, submodel, path = split_point_id(point_id)
        return await self._historian.query(asset, submodel, path, start_ns, end_ns, limit)

    async def buckets(self, point_id: str, start_ns: int, end_ns: int, bucket_ns: int) -> list[Bucket]:
        asset, submodel, path = split_point_id(point_id)
        return await self._historian.aggregate(asset, submodel, path, start_ns, end_ns, bucket_ns)
