"""What loading structure definitions costs a client at connect, on a server with many vendor types.

A PLC with thousands of UDTs is common; the gateway reads the structure definitions at every
session start (a reconnect included). This script starts an asyncua server with N vendor structure
types (each with 4 fields, every tenth nesting another), then, alternating over rounds, measures:

- baseline: asyncua's ``Client.load_data_type_definitions()`` (what the asyncua docs recommend):
  it browses the server's whole type tree and generates a class for every structure;
- gateway: ``connectors.opcua.structures.StructureDecoder.load`` of the 5 types the points use.

Figures: service requests sent (counted by the client protocol's request id), wall time and process
CPU per load (server and client share the process and its event loop, so both are in it). Results
go to benchmarks/results/struct_load.json.

    python benchmarks/struct_load.py               # 1,000 types, 3 rounds
    python benchmarks/struct_load.py --types 200 --rounds 1
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from asyncua import Client, Server, ua  # noqa: E402
from asyncua.common.structures104 import new_struct, new_struct_field  # noqa: E402
from machine import machine_info, wait_quiet  # noqa: E402  (benchmarks/machine.py)

from connectors.opcua.structures import StructureDecoder  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "struct_load.json"
NS = "urn:bench:types"


async def build_server(n: int) -> tuple[Server, list[ua.NodeId]]:
    server = Server()
    await server.init()
    server.set_endpoint("opc.tcp://127.0.0.1:0/")
    idx = await server.register_namespace(NS)
    types: list[ua.NodeId] = []
    for i in range(n):
        fields = [new_struct_field("Id", ua.VariantType.UInt32), new_struct_field("Name", ua.VariantType.String),
                  new_struct_field("Value", ua.VariantType.Double),
                  new_struct_field("Samples", ua.VariantType.Float, array=True)]
        if i % 10 == 9:
            fields.append(new_struct_field("Inner", types[i - 1]))
        dtype, _ = await new_struct(server, idx, f"UDT_{i:05d}", fields)
        types.append(dtype.nodeid)
    await server.start()
    assert server.bserver is not None
    for edp in server.iserver.endpoints:
        edp.EndpointUrl = f"opc.tcp://127.0.0.1:{server.bserver.port}/"
    return server, types


async def measure(url: str, fn: Any) -> dict[str, float]:
    async with Client(url, timeout=60) as client:
        proto = client.uaclient.protocol
        assert proto is not None
        r0, t0, c0 = proto._request_id, time.perf_counter(), time.process_time()
        await fn(client)
        return {"requests": proto._request_id - r0, "wall_s": time.perf_counter() - t0,
                "cpu_s": time.process_time() - c0}


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    t0 = time.perf_counter()
    server, types = await build_server(args.types)
    build_s = time.perf_counter() - t0
    url = server.iserver.endpoints[0].EndpointUrl
    used = types[-5:]  # what the configured points use (the last one nests another type)

    async def baseline(client: Client) -> None:
        await client.load_data_type_definitions()

    async def gateway(client: Client) -> None:
        dec = StructureDecoder(client, 2000, "bench")
        failed = await dec.load(used)
        assert not failed, failed

    runs: dict[str, list[dict[str, float]]] = {"baseline": [], "gateway": []}
    try:
        load = wait_quiet(30)
        for r in range(args.rounds):
            order = [("baseline", baseline), ("gateway", gateway)]
            for name, fn in order if r % 2 == 0 else reversed(order):
                runs[name].append(await measure(url, fn))
    finally:
        await server.stop()

    def med(name: str, key: str) -> float:
        return statistics.median(x[key] for x in runs[name])

    return {
        "benchmark": "struct_load",
        "what": "cost of loading structure definitions at connect: asyncua load_data_type_definitions() vs "
                "the gateway's StructureDecoder.load of the 5 types the points use",
        "server_types": args.types,
        "server_build_s": round(build_s, 1),
        "rounds": args.rounds,
        "machine_busy_cores_before": load,
        "cpu_includes_the_server": True,
        "median": {name: {k: round(med(name, k), 4) for k in ("requests", "wall_s", "cpu_s")} for name in runs},
        "ratio_baseline_to_gateway": {k: round(med("baseline", k) / max(med("gateway", k), 1e-9), 1)
                                      for k in ("requests", "wall_s", "cpu_s")},
        "runs": runs,
        "machine": machine_info(["asyncua"]),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--types", type=int, default=1000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args()
    logging.basicConfig(level=logging.ERROR)
    doc = asyncio.run(main_async(args))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(doc, indent=2) + "\n")
    print(json.dumps({k: doc[k] for k in ("server_types", "median", "ratio_baseline_to_gateway")}, indent=2))


if __name__ == "__main__":
    main()
