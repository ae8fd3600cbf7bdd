# mypy: disable-error-code="arg-type"
"""Timestamps through a real session: picoseconds decode in place, a null source time costs no sample.

The simulator is an asyncua server in this process, so both ends use the Part 6 DataValue codec; the
byte order itself is proven against hand-encoded bytes in tests/unit/test_datavalue_codec.py. Here:
DataValues with picoseconds and with OPC UA's null DateTime travel through subscription and Read
(polling) and come out right in the historian, flagged, with their values.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from asyncua import ua

from connectors.sample import FLAG_SOURCE_TS_INVALID, datetime_to_ns
from gateway.app import Gateway
from simulators.cnc import CncMachine
from tests.conftest import wait_for
from tests.integration.conftest import asset, gateway_config

pytestmark = pytest.mark.slow  # a gateway on simulators over real sockets

PATH = "Coolant.Temperature"
NULL_TIME = ua.win_epoch_to_datetime(0)  # OPC UA DateTime 0, as asyncua decodes it: 1601-01-01


@pytest.mark.parametrize("mode", ["subscription", "poll"])
async def test_picoseconds_and_null_source_time(machines: Any, tmp_path: Path, mode: str,
                                                caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="connectors.opcua.source")
    cnc = await machines(CncMachine, name="CNC01", seed=3)
    cnc.freeze(PATH)  # the simulator stops publishing this node: the test writes its DataValues
    overrides = {"mode": "poll", "publishing_interval_ms": 100} if mode == "poll" else {}
    cfg = gateway_config(tmp_path, asset("CNC01", cnc, {PATH: "xs:double"}, **overrides))
    assert cnc._server is not None
    node = ua.NodeId(PATH, cnc.namespace_index)
    t1 = datetime(2026, 11, 30, 10, 0, 0, 250000, tzinfo=UTC)
    t2 = datetime(2026, 11, 30, 10, 0, 1, 500000, tzinfo=UTC)
    async with Gateway(cfg) as gw:
        async def stored(value: float) -> Any:
            await gw.historian.flush()
            rows = await gw.historian.query("CNC01", "OperationalData", PATH, limit=1000)
            return next((r for r in rows if r.value == value), None)

        await wait_for(lambda: gw.sources["CNC01"].health().state.value == "connected", message="connected")
        # every optional field present, picoseconds included (node-opcua always sends them)
        await cnc._server.write_attribute_value(node, ua.DataValue(
            ua.Variant(41.25, ua.VariantType.Double), StatusCode=ua.StatusCode(0), SourceTimestamp=t1,
            SourcePicoseconds=1234, ServerTimestamp=t2, ServerPicoseconds=5678))
        row = await wait_for(lambda: stored(41.25), message="the value with picoseconds")
        assert (row.source_ts, row.server_ts, row.flags) == (datetime_to_ns(t1), datetime_to_ns(t2), 0)
        # a PLC without a clock: source timestamp 0 (null); kept, filed under the server time, flagged
        await cnc._server.write_attribute_value(node, ua.DataValue(
            ua.Variant(42.5, ua.VariantType.Double), SourceTimestamp=NULL_TIME, SourcePicoseconds=1,
            ServerTimestamp=t2, ServerPicoseconds=2))
        row = await wait_for(lambda: stored(42.5), message="the value with a null source time")
        assert (row.source_ts, row.server_ts, row.ts) == (None, datetime_to_ns(t2), datetime_to_ns(t2))
        assert row.flags == FLAG_SOURCE_TS_INVALID and row.status == 0
    said = [r.getMessage() for r in caplog.records if "timestamps that are no time" in r.getMessage()]
    assert len(said) == 1 and "SourceTimestampInvalid" in said[0], said
