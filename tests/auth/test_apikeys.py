"""API keys through the CLI and the admin API against a running gateway: shown once, stored only as
salted hashes (file mode 0600), revoked keys refused at once without a restart, every admin action
audited with who and from where."""

from __future__ import annotations

import asyncio
import json
import re
import stat
import sys
from pathlib import Path
from typing import Any, cast

import httpx
import pytest

from tests.api.conftest import assert_result
from tests.auth.conftest import GatewayFactory, bearer, keys_file, new_key


async def cli(*args: str) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "gateway.cli", *args,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    out, _ = await proc.communicate()
    return proc.returncode or 0, out.decode()


@pytest.mark.slow
async def test_cli_create_list_revoke_against_a_running_gateway(gateway: GatewayFactory, tmp_path: Path,
                                                                caplog: object) -> None:
    async with gateway() as gw, httpx.AsyncClient(timeout=10) as http:
        assert gw.api_url is not None
        path = keys_file(gw.cfg)
        code, out = await cli("apikey", "--keys-file", str(path), "create", "--role", "reader", "--name", "grafana",
                              "--expires-days", "30")
        assert code == 0, out
        (key,) = re.findall(r"agw_[0-9a-f]+_[A-Za-z0-9_-]+", out)
        key_id = key.split("_")[1]

        r = await http.get(f"{gw.api_url}/shells", headers=bearer(key))
        assert r.status_code == 200 and r.headers["cache-control"] == "no-store"

        text = path.read_text()
        assert key.split("_", 2)[2] not in text and key not in text, "only the hash is stored"
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        (rec,) = json.loads(text)["keys"]
        assert rec["name"] == "grafana" and rec["role"] == "reader" and rec["kdf"]["name"] == "scrypt"

        code, out = await cli("apikey", "--keys-file", str(path), "list")
        assert code == 0 and key_id in out and "grafana" in out and "reader" in out
        assert key.split("_", 2)[2] not in out

        code, out = await cli("apikey", "--keys-file", str(path), "revoke", key_id)
        assert code == 0, out
        assert_result(await http.get(f"{gw.api_url}/shells", headers=bearer(key)), 401)  # no restart, no wait
        code, out = await cli("apikey", "--keys-file", str(path), "revoke", key_id)
        assert code == 1 and "no API key" in out
        # the CLI audits beside the key file, which is where this gateway keeps its audit log too
        assert gw.audit.path == path.parent / "audit" / "audit.jsonl"
        mine = [r for r in audit_records(gw.audit.path) if str(r["action"]).startswith("apikey.")]
        assert [(r["action"], r["target"], r["result"], r["source"]) for r in mine] == [
            ("apikey.create", key_id, "ok", "cli"), ("apikey.revoke", key_id, "ok", "cli"),
            ("apikey.revoke", key_id, "not_found", "cli")]
        assert all(str(r["actor"]).startswith("cli:") for r in mine)
        new = cast(dict[str, object], mine[0]["new"])
        assert new == {"name": "grafana", "role": "reader", "expires": new["expires"]}
    assert key not in caplog.text  # type: ignore[attr-defined]


def test_cli_finds_the_key_file_through_the_config(tmp_path: Path) -> None:
    cfg = tmp_path / "gw.yaml"
    cfg.write_text(Path("deploy/example-config.yaml").read_text().replace("../data/historian.sqlite",
                                                                           "data/historian.sqlite"))
    code, out = asyncio.run(cli("apikey", "-c", str(cfg), "create", "--role", "admin", "--name", "me"))
    assert code == 0, out
    assert (tmp_path / "data" / "api-keys.json").exists()
    assert f"in {tmp_path / 'data' / 'api-keys.json'}" in out


async def test_expired_keys_are_refused(gateway: GatewayFactory) -> None:
    async with gateway() as gw, httpx.AsyncClient(timeout=10) as http:
        assert gw.api_url is not None
        from gateway.auth.apikeys import ApiKeyStore

        key, _ = ApiKeyStore(keys_file(gw.cfg)).create("old", "reader", expires_days=-1)
        assert_result(await http.get(f"{gw.api_url}/shells", headers=bearer(key)), 401)


def audit_records(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


async def test_admin_api_manages_keys_and_audits(gateway: GatewayFactory) -> None:
    async with gateway() as gw, httpx.AsyncClient(timeout=10) as http:
        assert gw.api is not None
        admin_key = new_key(gw.cfg, "admin")
        admin = bearer(admin_key)
        base = f"{gw.api.base_url}/admin/api-keys"
        r = await http.post(base, json={"name": "mes", "role": "operator", "expiresDays": 90}, headers=admin)
        assert r.status_code == 201, r.text
        created = r.json()
        assert created["role"] == "operator" and created["key"].startswith("agw_")
        assert r.headers["location"] == f"/admin/api-keys/{created['id']}"

        listed = (await http.get(base, headers=admin)).json()
        assert {k["name"] for k in listed} == {"test-admin", "mes"}
        assert all("key" not in k and "hash" not in k and "salt" not in k for k in listed)

        new = bearer(created["key"])
        assert (await http.get(f"{gw.api_url}/shells", headers=new)).status_code == 200
        assert (await http.delete(f"{base}/{created['id']}", headers=admin)).status_code == 204
        assert_result(await http.get(f"{gw.api_url}/shells", headers=new), 401)
        assert_result(await http.delete(f"{base}/{created['id']}", headers=admin), 404)
        assert_result(await http.post(base, json={"name": "x", "role": "root"}, headers=admin), 400)

        records = audit_records(gw.audit.path)
        mine = [r for r in records if str(r["action"]).startswith("apikey.")]
        # the refused create (an unknown role) is recorded too, with the body it sent
        assert [(r["action"], r["result"]) for r in mine] == [
            ("apikey.create", "ok"), ("apikey.revoke", "ok"), ("apikey.revoke", "not_found"),
            ("apikey.create", "refused")]
        assert '"role":"root"' in str(mine[-1]["new"]) and "role" in str(mine[-1]["detail"])
        assert all(str(r["actor"]).startswith("apikey:") and str(r["actor"]).endswith("/test-admin") for r in mine)
        assert all(str(r["source"]).startswith("127.0.0.1:") for r in mine)
        audit_text = "".join(f.read_text() for f in gw.audit.path.parent.glob("*.jsonl"))
        assert created["key"] not in audit_text and admin_key not in audit_text


def test_a_wrong_secret_costs_one_scrypt_not_one_per_retry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from gateway.auth import apikeys

    store = apikeys.ApiKeyStore(tmp_path / "keys.json")
    key, _ = store.create("mes", "reader")
    wrong = key[:-4] + ("AAAA" if not key.endswith("AAAA") else "BBBB")
    calls: list[int] = []
    real_hash = apikeys._hash

    def counting_hash(*a: Any) -> Any:
        calls.append(1)
        return real_hash(*a)

    monkeypatch.setattr(apikeys, "_hash", counting_hash)
    assert [store.verify(wrong) for _ in range(5)] == [None] * 5
    assert len(calls) == 1, "a refused secret is remembered"
    assert store.verify(key) is not None and len(calls) == 2, "the right key still verifies"
