"""Where an asset's series live in InfluxDB, for the IDTA 02008 TimeSeries submodel (a LinkedSegment).

Separate from the sink so the registry can offer it without importing influxdb_client.
"""

from __future__ import annotations

from urllib.parse import urlencode

from connectors.influx.config import InfluxConfig


def linked_segment(cfg: InfluxConfig, asset: str, aas_id: str) -> tuple[str, str]:
    """Endpoint and Query of an IDTA 02008 Time Series LinkedSegment for `asset`'s points.

    The endpoint is the server URL with ``org`` and ``bucket`` as query parameters (never the
    token: a reader brings its own). The query is Flux for the last day of the asset's points,
    one row per series and timestamp with ``value`` and ``status`` columns::

        from(bucket: "factory")
          |> range(start: -1d)
          |> filter(fn: (r) => r._measurement == "aas" and r.asset == "CNC01")
          |> pivot(rowKey: ["_time"], columnKey: ["_field"], valueColumn: "_value")

    The asset is selected by the ``asset`` tag, else by ``aas_id`` if only that is written;
    with neither tag the query selects the whole measurement.
    """
    endpoint = f"{cfg.url}?{urlencode({'org': cfg.org, 'bucket': cfg.bucket})}"
    cond = f"r._measurement == {_flux_string(cfg.measurement)}"
    if "asset" in cfg.tags:
        cond += f" and r.asset == {_flux_string(asset)}"
    elif "aas_id" in cfg.tags:
        cond += f" and r.aas_id == {_flux_string(aas_id)}"
    query = (
        f"from(bucket: {_flux_string(cfg.bucket)})\n"
        "  |> range(start: -1d)\n"
        f"  |> filter(fn: (r) => {cond})\n"
        '  |> pivot(rowKey: ["_time"], columnKey: ["_field"], valueColumn: "_value")'
    )
    return endpoint, query


def _flux_string(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("${", "\\${")
    return f'"{escaped}"'
