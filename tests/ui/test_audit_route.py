"""`GET /admin/audit`: the audit log over REST with filters, across rotated files, admins only."""

from __future__ import annotations

from pathlib import Path

import httpx

from gateway.audit import AuditConfig, AuditLog, rotated_files
from tests.ui.conftest import GatewayFactory, base, gateway_config, new_key


def fill(path: Path) -> None:
    log = AuditLog(AuditConfig(path=path, max_file_mb=0.002))  # ~2 KB per file: several rotations
    for i in range(30):
        log.record(actor=f"apikey:k{i % 3}/{'mes' if i % 3 == 0 else 'op'}", source="10.0.0.7", action="write",
                   target=f"urn:x#Setpoint{i}", result="ok" if i % 5 else "error: BadNotConnected", old=i, new=i + 1)
    log.record(actor="cli:root", source="local", action="pki.trust", target="ABCD", result="ok")
    log.record(actor="cli:root", source="local", action="pki.untrust", target="ABCD", result="not_found")
    log.close()


async def test_audit_query_filters_and_reads_rotated_files(gateway: GatewayFactory, tmp_path: Path) -> None:
    cfg = gateway_config(tmp_path)
    admin, operator = new_key(cfg, "admin"), new_key(cfg, "operator")
    fill(cfg.audit.path)
    assert len(rotated_files(cfg.audit.path)) >= 2
    async with gateway(cfg=cfg) as gw, httpx.AsyncClient(base_url=base(gw),
                                                         headers={"X-API-Key": admin}) as http:
        body = (await http.get("/admin/audit")).json()
        ours = [r for r in body["records"] if r["action"] in ("write", "pki.trust", "pki.untrust")]
        assert len(ours) == 32 and not body["truncated"]
        assert ours[0]["action"] == "pki.untrust"  # newest first
        assert [r["new"] for r in ours if r["action"] == "write"] == list(range(30, 0, -1))
        r = (await http.get("/admin/audit", params={"actor": "MES", "action": "write"})).json()
        assert {x["actor"] for x in r["records"]} == {"apikey:k0/mes"} and r["matched"] == 10
        r = (await http.get("/admin/audit", params={"result": "error"})).json()
        assert r["matched"] == 6 and all(x["result"] == "error: BadNotConnected" for x in r["records"])
        r = (await http.get("/admin/audit", params={"action": "pki"})).json()
        assert [x["action"] for x in r["records"]] == ["pki.untrust", "pki.trust"]
        r = (await http.get("/admin/audit", params={"action": "write", "limit": 5})).json()
        assert len(r["records"]) == 5 and r["truncated"] and r["matched"] == 30
        assert r["records"][0]["new"] == 30
        r = (await http.get("/admin/audit", params={"from": "2000-01-01", "to": "2000-01-02"})).json()
        assert r["records"] == []
        for bad in ({"from": "yesterday"}, {"from": "2026-01-02", "to": "2026-01-01"}, {"limit": 0}):
            resp = await http.get("/admin/audit", params=bad)
            assert resp.status_code == 400 and resp.json()["messages"][0]["messageType"] == "Error", bad
        assert (await http.get("/admin/audit", headers={"X-API-Key": operator})).status_code == 403
