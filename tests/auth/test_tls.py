"""HTTPS end to end: a certificate from `aas-gateway tls self-signed`, a gateway serving it, a client
verifying against exactly that file."""

from __future__ import annotations

import asyncio
import ssl
import stat
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from gateway.auth.config import ApiTlsConfig
from tests.auth.conftest import GatewayFactory, bearer, new_key


def self_signed_by_cli(tmp_path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gateway.cli", "tls", "self-signed", "--out", str(tmp_path / "tls"),
                          "--host", "gateway.local"], capture_output=True, text=True, timeout=60)


@pytest.mark.slow
async def test_https_with_a_self_signed_certificate(gateway: GatewayFactory, tmp_path: Path) -> None:
    out = await asyncio.to_thread(self_signed_by_cli, tmp_path)
    assert out.returncode == 0, out.stderr
    cert, key = tmp_path / "tls" / "api-cert.pem", tmp_path / "tls" / "api-key.pem"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert "PRIVATE KEY" not in out.stdout

    async with gateway(tls=ApiTlsConfig(certificate=cert, private_key=key)) as gw:
        assert gw.api is not None and gw.api_url is not None
        assert gw.api_url.startswith("https://127.0.0.1:")
        verify = ssl.create_default_context(cafile=str(cert))
        verify.verify_flags |= ssl.VERIFY_X509_STRICT  # what Python 3.13 turns on by default
        async with httpx.AsyncClient(verify=verify, timeout=10) as http:
            r = await http.get(f"{gw.api.base_url}/health/live")
            assert r.status_code == 200
            assert r.headers["strict-transport-security"].startswith("max-age=")
            r = await http.get(f"{gw.api_url}/shells", headers=bearer(new_key(gw.cfg, "reader")))
            assert r.status_code == 200 and r.json()["result"]
            # the certificate names localhost too
            r = await http.get(f"https://localhost:{gw.api.port}/health/live")
            assert r.status_code == 200
        async with httpx.AsyncClient(timeout=10) as untrusting:  # the system CAs do not know it
            with pytest.raises(httpx.ConnectError):
                await untrusting.get(f"{gw.api.base_url}/health/live")
        async with httpx.AsyncClient(timeout=10) as plain:  # no plain HTTP on the TLS port
            with pytest.raises(httpx.HTTPError):
                await plain.get(f"http://127.0.0.1:{gw.api.port}/health/live")
