"""The OPC UA trust list over the admin API: a rejected server certificate is trusted, untrusted and
removed by an admin; each action is audited with the old and new state; nobody else may touch it."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
from cryptography.hazmat.primitives import serialization

from connectors.opcua.pki import Pki
from gateway.cli.tls import self_signed
from tests.api.conftest import assert_result
from tests.auth.conftest import GatewayFactory, bearer, new_key


def server_certificate_der(tmp_path: Path) -> bytes:
    cert, _ = self_signed(tmp_path / "server-cert", "plc.test")
    from cryptography import x509

    return x509.load_pem_x509_certificate(cert.read_bytes()).public_bytes(serialization.Encoding.DER)


async def test_admin_moves_a_certificate_through_the_trust_list(gateway: GatewayFactory, tmp_path: Path) -> None:
    async with gateway() as gw, httpx.AsyncClient(timeout=10) as http:
        assert gw.api is not None
        der = server_certificate_der(tmp_path)
        tp = Pki(gw.cfg.pki).reject(der).thumbprint  # as a failed connect would
        admin = bearer(new_key(gw.cfg, "admin"))
        base = f"{gw.api.base_url}/admin/pki/certificates"

        listed = (await http.get(base, headers=admin)).json()
        assert [(c["thumbprint"], c["state"]) for c in listed if c["state"] != "own"] == [(tp, "rejected")]
        assert_result(await http.post(f"{base}/{tp}/trust", headers=bearer(new_key(gw.cfg, "operator"))), 403)

        r = await http.post(f"{base}/{tp}/trust", headers=admin)
        assert r.status_code == 200 and r.json()["state"] == "trusted", r.text
        assert gw.pki.is_trusted(der)
        r = await http.post(f"{base}/{tp}/untrust", headers=admin)
        assert r.status_code == 200 and r.json()["state"] == "rejected"
        assert (await http.delete(f"{base}/{tp}", headers=admin)).status_code == 200
        assert_result(await http.post(f"{base}/{tp}/trust", headers=admin), 404)
        assert [c for c in (await http.get(base, headers=admin)).json() if c["state"] != "own"] == []

        records = [json.loads(line) for line in gw.audit.path.read_text().splitlines()]
        pki = [(r["action"], r["target"], r["old"], r["new"], r["result"]) for r in records
               if r["action"].startswith("pki.")]
        assert pki == [("pki.trust", tp, "rejected", "trusted", "ok"), ("pki.untrust", tp, "trusted", "rejected", "ok"),
                       ("pki.remove", tp, "rejected", None, "ok"), ("pki.trust", tp, None, None, "not_found")]
