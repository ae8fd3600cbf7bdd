"""OPC UA security end to end: the gateway against secured simulators, over real sockets.

Each test starts its own simulator (its own server certificate) and its own PKI folder, so
trust decisions never leak between tests. A secured connect costs ~0.25 s; a test waits by
polling, never by sleeping.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from asyncua.crypto import cert_gen
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID

from connectors import status as st
from connectors.base import ConnectionState
from connectors.opcua.pki import Pki, thumbprint
from gateway.app import Gateway
from gateway.cli import main as cli_main
from gateway.config import GatewayConfig
from simulators.cnc import CncMachine
from simulators.security import ALL_SECURED
from tests.conftest import wait_for
from tests.integration.conftest import asset, gateway_config
from tests.plant_ca import PlantCa
from tests.secrets import secret

pytestmark = pytest.mark.slow  # secured sessions with every policy; certificates made per test

POINTS = {"Spindle.Speed": "xs:double", "Axes.X.Position": "xs:double"}
USERS = {"alice": secret("s3cret-alice")}
# three reconnect attempts a second: an untrusted server is retried quickly once trusted
FAST_RECONNECT = {"initial_delay_s": 0.1, "max_delay_s": 0.3}


def config(tmp_path: Path, sim: CncMachine, security: Any, **source: Any) -> GatewayConfig:
    source.setdefault("user", {"username": "alice", "password": USERS["alice"]})
    source.setdefault("reconnect", FAST_RECONNECT)
    cfg = gateway_config(tmp_path, asset("CNC01", sim, POINTS, security=security, **source))
    # never the cwd's data/pki
    return cfg.with_overrides({"pki.path": tmp_path / "pki", "pki.application_uri": "urn:test:aas-edge-gateway"})


def trust_server(cfg: GatewayConfig, sim: CncMachine) -> None:
    """What an integrator does once per machine (here without the round trip through rejected/)."""
    assert sim.server_certificate is not None
    Pki(cfg.pki).add_trusted(sim.server_certificate)


async def secured_sim(machines: Any, **kw: Any) -> CncMachine:
    kw.setdefault("security", ALL_SECURED)
    kw.setdefault("users", USERS)
    sim: CncMachine = await machines(CncMachine, name="CNC01", seed=7, **kw)
    return sim


async def streams(gw: Gateway, n: int = 3) -> None:
    """Connected, and `n` good samples stored in the historian."""
    src = gw.sources["CNC01"]
    await wait_for(lambda: src.health().state == ConnectionState.CONNECTED,
                   message=f"connected (last error: {src.health().last_error})")

    async def stored() -> bool:
        await gw.historian.flush()
        good = 0
        for path in POINTS:
            got = await gw.historian.query("CNC01", "OperationalData", path, limit=1000)
            good += sum(r.status == st.GOOD for r in got)
        return good >= n

    await wait_for(stored, message=f"{n} good samples in the historian")


def session_policy(gw: Gateway) -> tuple[str, str]:
    client = gw.sources["CNC01"]._client  # type: ignore[attr-defined]
    assert client is not None
    policy = client.security_policy
    return policy.URI.rsplit("#", 1)[-1], policy.Mode.name


@pytest.mark.parametrize("policy", ["Basic256Sha256", "Aes128_Sha256_RsaOaep", "Aes256_Sha256_RsaPss"])
async def test_each_policy_with_sign_and_encrypt_and_a_password_streams(machines: Any, tmp_path: Path,
                                                                        policy: str) -> None:
    sim = await secured_sim(machines)
    cfg = config(tmp_path, sim, {"policy": policy, "mode": "SignAndEncrypt"})
    trust_server(cfg, sim)
    async with Gateway(cfg) as gw:
        await streams(gw)
        assert session_policy(gw) == (policy, "SignAndEncrypt")


async def test_sign_mode_and_x509_user_identity(machines: Any, tmp_path: Path) -> None:
    # the user certificate is a person's or a service's, not the gateway's application certificate
    key = cert_gen.generate_private_key()
    user_cert = cert_gen.generate_self_signed_app_certificate(
        key, "operator-1", {}, [x509.UniformResourceIdentifier("urn:test:user:operator-1")],
        [ExtendedKeyUsageOID.CLIENT_AUTH])
    (tmp_path / "user.der").write_bytes(user_cert.public_bytes(serialization.Encoding.DER))
    (tmp_path / "user.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                                          serialization.PrivateFormat.PKCS8,
                                                          serialization.NoEncryption()))
    sim = await secured_sim(machines, users=None, user_certificates=[tmp_path / "user.der"])
    cfg = config(tmp_path, sim, {"policy": "Basic256Sha256", "mode": "Sign"},
                 user={"type": "certificate", "certificate": str(tmp_path / "user.der"),
                       "private_key": str(tmp_path / "user.pem")})
    trust_server(cfg, sim)
    async with Gateway(cfg) as gw:
        await streams(gw)
        assert session_policy(gw) == ("Basic256Sha256", "Sign")


async def test_auto_picks_the_best_policy_the_server_offers(machines: Any, tmp_path: Path,
                                                            caplog: pytest.LogCaptureFixture) -> None:
    # no Aes256 here: the best offered is Basic256Sha256 with SignAndEncrypt (Sign variants rank lower)
    offered = ["Aes128_Sha256_RsaOaep/SignAndEncrypt", "Basic256Sha256/Sign", "Basic256Sha256/SignAndEncrypt",
               "Aes256_Sha256_RsaPss/Sign"]
    sim = await secured_sim(machines, security=offered)
    cfg = config(tmp_path, sim, "auto")
    trust_server(cfg, sim)
    caplog.set_level(logging.INFO, logger="connectors.opcua.security")
    async with Gateway(cfg) as gw:
        await streams(gw, n=1)
        assert session_policy(gw) == ("Basic256Sha256", "SignAndEncrypt")
    assert "security auto chose Basic256Sha256/SignAndEncrypt" in caplog.text


async def test_wrong_password_names_the_endpoint_and_the_cause(machines: Any, tmp_path: Path,
                                                               caplog: pytest.LogCaptureFixture) -> None:
    sim = await secured_sim(machines)
    wrong = secret("not-the-password-7f3a")
    cfg = config(tmp_path, sim, {"policy": "Basic256Sha256", "mode": "SignAndEncrypt"},
                 user={"username": "alice", "password": wrong})
    trust_server(cfg, sim)
    caplog.set_level(logging.DEBUG)  # asyncua at DEBUG too: the password must not show up anywhere
    async with Gateway(cfg) as gw:
        src = gw.sources["CNC01"]
        error = await wait_for(lambda: src.health().last_error, message="an error")
        assert sim.endpoint in error and "BadUserAccessDenied" in error and "'alice'" in error, error
        await wait_for(lambda: "BadUserAccessDenied" in caplog.text and "no session with" in caplog.text,
                       message="the warning log")
        assert src.health().state != ConnectionState.CONNECTED
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING and r.name.startswith("conn")]
    assert any(sim.endpoint in w and "BadUserAccessDenied" in w for w in warnings), warnings
    assert wrong not in caplog.text and USERS["alice"] not in caplog.text


async def test_untrusted_server_is_refused_until_trusted_by_the_cli_without_restart(
        machines: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture) -> None:
    sim = await secured_sim(machines)
    cfg = config(tmp_path, sim, {"policy": "Aes256_Sha256_RsaPss", "mode": "SignAndEncrypt"})
    assert sim.server_certificate is not None
    tp = thumbprint(sim.server_certificate)
    async with Gateway(cfg) as gw:
        src = gw.sources["CNC01"]
        error = await wait_for(lambda: src.health().last_error, message="a refusal")
        assert sim.endpoint in error and tp in error, error
        rejected = list((tmp_path / "pki" / "rejected").iterdir())
        assert [p.name for p in rejected] == [f"AAS_gateway_simulator_CNC01_{tp}.der"]
        assert rejected[0].read_bytes() == sim.server_certificate
        # it stays refused while nobody trusts it (several attempts at the 0.3 s backoff)
        await wait_for(lambda: "(attempt 3)" in caplog.text, message="three refused attempts")
        assert src.health().connects == 0

        # the operator lists it, in-process as `aas-gateway pki ...` would
        assert cli_main(["pki", "--pki-dir", str(cfg.pki.path), "list"]) == 0
        assert tp in capsys.readouterr().out
        # and runs the command the refusal printed, as printed: in a shell, from another directory, no config
        printed = re.search(r"Trust it with: (aas-gateway .*? trust [0-9A-F]{40})", error)
        assert printed, error
        elsewhere = tmp_path / "elsewhere"
        elsewhere.mkdir()
        env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
        shell = await asyncio.create_subprocess_shell(printed.group(1), cwd=elsewhere, env=env,
                                                      stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        out, err = await shell.communicate()
        assert shell.returncode == 0, (printed.group(1), err.decode())
        assert out.decode().startswith("trusted") and tp in out.decode()
        audit = cfg.audit.path  # the gateway's own audit log has the change
        assert '"action":"pki.trust"' in audit.read_text() and tp in audit.read_text()

        await streams(gw)  # the running gateway's next attempt connects: no restart
        assert list((tmp_path / "pki" / "rejected").iterdir()) == []


async def test_cli_errors_are_clear(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main(["pki", "--pki-dir", str(tmp_path / "pki"), "trust", "ABCDEF"]) == 2
    err = capsys.readouterr().err
    assert "ABCDEF" in err and "pki list" in err


async def test_trust_on_first_use_trusts_a_new_server_once(machines: Any, tmp_path: Path,
                                                           caplog: pytest.LogCaptureFixture) -> None:
    sim = await secured_sim(machines)
    cfg = config(tmp_path, sim, {"policy": "Basic256Sha256", "mode": "SignAndEncrypt", "trust_on_first_use": True})
    assert sim.server_certificate is not None
    tp = thumbprint(sim.server_certificate)
    async with Gateway(cfg) as gw:
        await streams(gw, n=1)
    assert "trusting the certificate" in caplog.text and tp in caplog.text
    assert [i.state for i in Pki(cfg.pki).list() if i.thumbprint == tp] == ["trusted"]

    # an admin untrusts it: trust on first use does not silently bring it back
    Pki(cfg.pki).untrust(tp)
    async with Gateway(cfg) as gw:
        src = gw.sources["CNC01"]
        error = await wait_for(lambda: src.health().last_error, message="a refusal")
        assert "not trusted" in error and "seen before" in error, error


async def test_security_none_still_works_and_warns(machines: Any, tmp_path: Path,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    sim = await machines(CncMachine, name="CNC01", seed=7)  # the default simulator: security None only
    cfg = config(tmp_path, sim, {"policy": "None", "mode": "None"}, user=None)
    async with Gateway(cfg) as gw:
        await streams(gw, n=1)
    assert "security is None" in caplog.text
    assert not (tmp_path / "pki").exists(), "no PKI is made for a gateway that never needs one"


async def test_two_secured_sources_share_one_gateway_certificate(machines: Any, tmp_path: Path,
                                                                 caplog: pytest.LogCaptureFixture) -> None:
    # both sources ask for the (not yet made) gateway certificate at the same moment at startup
    a = await secured_sim(machines)
    b: CncMachine = await machines(CncMachine, name="CNC02", seed=8, security=ALL_SECURED, users=USERS)
    sec = {"policy": "Basic256Sha256", "mode": "SignAndEncrypt", "trust_on_first_use": True}
    user = {"username": "alice", "password": USERS["alice"]}
    cfg = gateway_config(tmp_path, asset("CNC01", a, POINTS, security=sec, user=user, reconnect=FAST_RECONNECT),
                         asset("CNC02", b, POINTS, security=sec, user=user, reconnect=FAST_RECONNECT))
    cfg = cfg.with_overrides({"pki.path": tmp_path / "pki"})
    async with Gateway(cfg) as gw:
        await wait_for(lambda: all(s.health().state == ConnectionState.CONNECTED for s in gw.sources.values()),
                       message="both connected")
        assert "no session with" not in caplog.text, "the first attempt succeeds for both"
    assert [i.state for i in Pki(cfg.pki).list()].count("own") == 1


def _sim_pki(tmp_path: Path, name: str, issued: tuple[bytes, bytes]) -> Path:
    """A simulator PKI folder holding a certificate the plant CA issued (the simulator loads it)."""
    d = tmp_path / f"sim-pki-{name}"
    d.mkdir()
    (d / "server_cert.der").write_bytes(issued[0])
    (d / "server_key.pem").write_bytes(issued[1])
    return d


async def test_a_server_issued_by_a_trusted_plant_ca_is_trusted_without_pinning(
        machines: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="connectors.opcua.security")
    ca = PlantCa()
    issued = ca.issue("urn:aas-gateway:sim:cnc:CNC01", "CNC01")
    sim = await secured_sim(machines, pki_dir=_sim_pki(tmp_path, "ok", issued))
    assert sim.server_certificate == issued[0]
    cfg = config(tmp_path, sim, {"policy": "Basic256Sha256", "mode": "SignAndEncrypt"})
    ca_info = Pki(cfg.pki).add_trusted(ca.der)  # the plant's CA, trusted once for every machine it certifies
    async with Gateway(cfg) as gw:
        await streams(gw)
    assert f"trusted through CA {ca_info.thumbprint}" in caplog.text
    assert not (tmp_path / "pki" / "rejected").exists() or not any((tmp_path / "pki" / "rejected").iterdir())


async def test_an_expired_certificate_of_a_trusted_ca_is_refused_with_its_dates(machines: Any,
                                                                                tmp_path: Path) -> None:
    ca = PlantCa()
    now = datetime.now(UTC)
    issued = ca.issue("urn:aas-gateway:sim:cnc:CNC01", "CNC01", not_before=now - timedelta(days=800),
                      not_after=now - timedelta(days=2))
    sim = await secured_sim(machines, pki_dir=_sim_pki(tmp_path, "expired", issued))
    cfg = config(tmp_path, sim, {"policy": "Basic256Sha256", "mode": "SignAndEncrypt"})
    Pki(cfg.pki).add_trusted(ca.der)
    async with Gateway(cfg) as gw:
        error = await wait_for(lambda: gw.sources["CNC01"].health().last_error, message="a refusal")
        assert "not trusted" in error and "outside its validity" in error and thumbprint(issued[0]) in error, error
        assert gw.sources["CNC01"].health().connects == 0
