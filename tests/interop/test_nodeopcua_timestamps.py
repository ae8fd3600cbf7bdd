"""Timestamps from node-opcua: picoseconds present, null and absurd times; nothing dropped.

node-opcua sends Source/ServerPicoseconds in every DataValue; asyncua 2.1.0 decoded those fields out
of Part 6 order and turned the server timestamp into 1601-01-01, and a DateTime of 0 (OPC UA's null
time, a PLC without a clock) into the same date, which SQLite refused, dropping the whole sample
(issue 9). Here the Time.* variables change a known number of times: every change must be stored,
with the valid timestamp kept and the invalid one absent (NULL) and flagged.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from connectors import sample as samples
from connectors import status as st
from gateway.app import Gateway
from tests.conftest import wait_for
from tests.interop.conftest import StartServer, counter_names, good_values, holds, interop_asset, interop_config, stored
from tests.interop.nodeopcua_peer import VALUES

pytestmark = pytest.mark.slow  # node-opcua servers in their own processes

CHANGES = 10
TIME_CASES = [k for k in VALUES["timestamps"] if not k.startswith("_")]
NEAR_S = 60  # a timestamp this close to the receive time is a real one (clocks of one machine)


def near(ts: int | None, recv: int) -> bool:
    return ts is not None and abs(ts - recv) < NEAR_S * 10**9


def flags(row: Any) -> int:
    return int(getattr(row, "flags", 0))


def flagged(row: Any, name: str) -> bool:
    """`row` carries connectors.sample.FLAG_<name> (a timestamp repaired to keep the sample is flagged)."""
    return bool(flags(row) & getattr(samples, f"FLAG_{name}"))


async def test_picoseconds_keep_source_and_server_timestamps(nodeopcua: StartServer, tmp_path: Path) -> None:
    server = await nodeopcua(counters=3)
    paths = counter_names(3)
    cfg = interop_config(tmp_path, interop_asset("NODE01", server, dict.fromkeys(paths, "UInt32")))
    async with Gateway(cfg) as gw:
        await wait_for(lambda: holds(gw, "NODE01", paths, 0), timeout=30, message="initial values stored")
        await server.arun_and_wait("counters", changes=CHANGES, rate_hz=20)
        await wait_for(lambda: holds(gw, "NODE01", paths, CHANGES), timeout=30, message="last value stored")
        for path in paths:
            rows = [r for r in await stored(gw, "NODE01", path) if r.status == st.GOOD]
            assert [r.value for r in rows] == list(range(CHANGES + 1))
            for r in rows:
                # node-opcua stamps both with one clock reading (setValueFromSource): they are equal
                assert near(r.server_ts, r.recv_ts), f"server timestamp garbled: {r}"
                assert r.source_ts == r.server_ts, r
                assert r.ts == r.source_ts and flags(r) == 0, r
            times = [r.source_ts or 0 for r in rows]
            assert times == sorted(times), "in the order the server made them"


async def test_null_and_absurd_timestamps_lose_no_sample(nodeopcua: StartServer, tmp_path: Path) -> None:
    server = await nodeopcua(counters=0)
    paths = [f"Time.{case}" for case in TIME_CASES]
    cfg = interop_config(tmp_path, interop_asset("NODE01", server, dict.fromkeys(paths, "Double")))
    async with Gateway(cfg) as gw:
        await wait_for(lambda: holds(gw, "NODE01", paths, 0.0), timeout=30, message="initial values stored")
        await server.arun_and_wait("time", changes=CHANGES, rate_hz=10)
        await wait_for(lambda: holds(gw, "NODE01", paths, float(CHANGES)), timeout=30, message="last value stored")
        for case, path in zip(TIME_CASES, paths, strict=True):
            assert await good_values(gw, "NODE01", path) == [float(n) for n in range(CHANGES + 1)], \
                f"{case}: a sample was dropped or duplicated"
            for r in [r for r in await stored(gw, "NODE01", path) if r.status == st.GOOD]:
                source_bad = case in ("NullSource", "Future", "Before1970", "NullBoth")
                server_bad = case in ("NullServer", "NullBoth")
                if source_bad:  # absent (NULL) or replaced by the receive time, and flagged
                    assert r.source_ts is None or r.source_ts == r.recv_ts, f"{case}: {r}"
                    assert flagged(r, "SOURCE_TS_INVALID"), f"{case}: not flagged: {r}"
                else:
                    assert near(r.source_ts, r.recv_ts), f"{case}: {r}"
                if server_bad:
                    assert r.server_ts is None or r.server_ts == r.recv_ts, f"{case}: {r}"
                    assert flagged(r, "SERVER_TS_INVALID"), f"{case}: not flagged: {r}"
                else:
                    assert near(r.server_ts, r.recv_ts), f"{case}: server timestamp garbled: {r}"
                # filed under the best valid time: source, else server, else receive time
                assert near(r.ts, r.recv_ts), f"{case}: filed under an absurd time: {r}"
        counters = gw.historian.committed_this_session
        assert counters >= len(paths) * (CHANGES + 1), "the commit counter counts what was committed"
