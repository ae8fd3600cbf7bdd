"""The `aas-gateway` command line: start-up cost, help texts, shared flags, exit codes and where each
command finds a gateway's files (gateway/cli/paths.py).

Start-up is checked the robust way: which heavy libraries a quick command loads (asyncua,
influxdb-client, ...) in a fresh interpreter; the wall-clock bounds are generous (a loaded 2-core
machine must pass) and only catch a command that imports the whole gateway again.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gateway.cli import COMMANDS, build_parser, main
from gateway.cli.paths import DataPaths, explicit, in_data_dir, of_config, resolve

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "deploy" / "example-config.yaml"
HEAVY = ("asyncua", "influxdb_client", "paho", "fastapi", "uvicorn", "basyx", "numpy")

CONFIG = """\
historian: {path: data/h.sqlite}
assets:
- id_short: M
  id: urn:m
  global_asset_id: urn:m:a
  source: {endpoint: 'opc.tcp://127.0.0.1:4840', security: {policy: None, mode: None}}
  points: [{node: 'ns=2;s=X', path: X, type: xs:double}]
"""


def _run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gateway.cli", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=120)


def _loaded_after(argv: list[str], tmp_path: Path) -> set[str]:
    """The heavy libraries in sys.modules after running `aas-gateway *argv` in a fresh interpreter."""
    code = ("import sys, json\nfrom gateway.cli import main\n"
            "try:\n    main(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
            f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))")
    r = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    return set(json.loads(r.stdout.strip().splitlines()[-1]))


@pytest.fixture
def site(tmp_path: Path) -> Path:
    (tmp_path / "gw.yaml").write_text(CONFIG)
    return tmp_path


@pytest.mark.parametrize("argv", [
    ["--help"], ["check-config", str(EXAMPLE)], ["history", "--help"], ["kpi", "--help"], ["apikey", "--help"],
    ["audit", "--help"], ["tls", "--help"], ["pki", "--help"], ["run", "--help"], ["demo", "--help"],
    ["report", "--help"], ["backup", "--help"],
])
def test_quick_commands_load_no_protocol_or_web_stack(argv: list[str], tmp_path: Path) -> None:
    assert _loaded_after(argv, tmp_path) == set()


def test_history_and_apikey_run_without_protocol_stacks(site: Path) -> None:
    assert _loaded_after(["apikey", "-c", "gw.yaml", "list"], site) == set()
    assert _loaded_after(["history", "-c", "gw.yaml"], site) == set()  # no historian: exits 1, loads nothing


def test_help_and_check_config_start_quickly() -> None:
    """Generous bounds: before the lazy imports `--help` took 1.3 s of imports, check-config more."""
    t0 = time.perf_counter()
    assert _run("--help").returncode == 0
    help_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    r = _run("check-config", str(EXAMPLE))
    check_s = time.perf_counter() - t0
    assert r.returncode == 0, r.stderr
    assert help_s < 3.0 and check_s < 8.0, (help_s, check_s)


def test_every_command_is_registered_and_its_help_works(capsys: pytest.CaptureFixture[str]) -> None:
    parser = build_parser()
    top = parser.format_help()
    names = [c.replace("_", "-") for c in COMMANDS]
    assert all(n in top for n in names)
    for name in names:
        with pytest.raises(SystemExit) as e:
            main([name, "--help"])
        assert e.value.code == 0, name
    out = capsys.readouterr().out
    assert "--audit-file" in out and "--audit-path" not in out  # the alias works but is not advertised


def test_version_is_the_installed_package_version(capsys: pytest.CaptureFixture[str]) -> None:
    from importlib.metadata import version

    import gateway

    with pytest.raises(SystemExit):
        main(["--version"])
    assert capsys.readouterr().out.strip() == f"aas-gateway {version('aas-edge-gateway')}" == \
        f"aas-gateway {gateway.__version__}"


def test_exit_codes(site: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = site / "bad.yaml"
    bad.write_text("assets: []\n")
    assert main(["check-config", str(bad)]) == 2  # config error
    assert main(["history", "-c", str(bad)]) == 2
    assert main(["history", "--db", str(site / "none.sqlite")]) == 1  # ran, nothing there
    assert main(["apikey", "--keys-file", str(site / "k.json"), "revoke", "nope"]) == 1
    with pytest.raises(SystemExit) as e:
        main(["history"])  # usage: --db or -c is required
    assert e.value.code == 2
    capsys.readouterr()


# --- where the files are --------------------------------------------------------------------------


def test_paths_from_a_config_are_the_gateways(site: Path) -> None:
    from gateway.config import load_config

    p = resolve(str(site / "gw.yaml"))
    assert p is not None and p.config is not None
    data = site / "data"
    assert (p.historian, p.pki, p.keys_file, p.audit) == (data / "h.sqlite", data / "pki", data / "api-keys.json",
                                                          data / "audit" / "audit.jsonl")
    assert of_config(load_config(site / "gw.yaml")) == DataPaths(p.historian, p.pki, p.keys_file, p.audit, p.config)
    # an explicit path overrides the config's entry, the rest stays
    q = resolve(str(site / "gw.yaml"), audit_file="elsewhere.jsonl")
    assert q is not None and q.audit == Path("elsewhere.jsonl") and q.historian == p.historian


def test_explicit_paths_find_the_rest_in_their_data_directory(tmp_path: Path) -> None:
    d = tmp_path / "demo-data"
    assert explicit(pki_dir=str(d / "pki")) == in_data_dir(d)
    assert explicit(keys_file=str(d / "api-keys.json")) == in_data_dir(d)
    assert explicit(db=str(d / "historian.sqlite")) == in_data_dir(d)
    assert explicit(audit_file=str(d / "audit" / "audit.jsonl")) == in_data_dir(d)
    assert explicit(pki_dir=str(d / "pki"), audit_file="a.jsonl").audit == Path("a.jsonl")
    with pytest.raises(ValueError):
        explicit()


def test_the_demo_layout_is_the_data_directory_layout(tmp_path: Path) -> None:
    from gateway.demo import demo_config

    cfg = demo_config(tmp_path / "d")
    d = in_data_dir((tmp_path / "d").resolve())
    assert of_config(cfg) == DataPaths(d.historian, d.pki, d.keys_file, d.audit, cfg)


def test_the_demo_derives_its_config_and_changes_no_loaded_model(tmp_path: Path) -> None:
    from gateway.config import load_config
    from gateway.demo import DEMO_CONFIG, demo_config, with_endpoints
    from gateway.runner import with_api_port

    loaded = load_config(DEMO_CONFIG)
    before = loaded.model_dump(mode="json")
    cfg = with_endpoints(with_api_port(demo_config(tmp_path), 0), {a.id_short: f"opc.tcp://127.0.0.1:{4900 + i}/"
                                                                   for i, a in enumerate(loaded.assets)})
    endpoint = [getattr(c.assets[0].source, "endpoint", None) for c in (cfg, demo_config(tmp_path), loaded)]
    assert cfg.api.port == 0 and endpoint[0] == "opc.tcp://127.0.0.1:4900/"
    # a second demo config is untouched by the first one's changes
    assert demo_config(tmp_path).api.port == loaded.api.port and endpoint[1] == endpoint[2] != endpoint[0]
    assert load_config(DEMO_CONFIG).model_dump(mode="json") == before


def test_pki_dir_changes_are_audited_in_its_data_directory(tmp_path: Path) -> None:
    """`pki --pki-dir demo-data/pki trust ...` lands in demo-data/audit/audit.jsonl, where the demo gateway
    audits too; `--audit-file` still names another file."""
    from connectors.opcua.pki import Pki, PkiConfig
    from tests.unit.test_pki import URI, server_cert

    d = tmp_path / "demo-data"
    tp = Pki(PkiConfig(path=d / "pki", application_uri=URI)).reject(server_cert("PLC 1")).thumbprint
    r = _run("pki", "--pki-dir", str(d / "pki"), "trust", tp)
    assert r.returncode == 0, r.stderr
    audit = d / "audit" / "audit.jsonl"
    assert f"audited in {audit}" in r.stderr
    (rec,) = [json.loads(line) for line in audit.read_text().splitlines()]
    assert (rec["action"], rec["target"], rec["result"], rec["source"]) == ("pki.trust", tp, "ok", "cli")
    r = _run("pki", "--pki-dir", str(d / "pki"), "--audit-file", str(tmp_path / "other.jsonl"), "untrust", tp)
    assert r.returncode == 0, r.stderr
    assert "pki.untrust" in (tmp_path / "other.jsonl").read_text() and len(audit.read_text().splitlines()) == 1


def test_audit_file_and_its_old_spelling_are_one_flag(tmp_path: Path) -> None:
    d = tmp_path / "data"
    keys = d / "api-keys.json"
    r = _run("apikey", "--keys-file", str(keys), "--audit-path", str(tmp_path / "a.jsonl"), "create", "--role",
             "reader", "--name", "x")
    assert r.returncode == 0, r.stderr
    assert "apikey.create" in (tmp_path / "a.jsonl").read_text()
    for flag in ("--audit-file", "--audit-path"):
        r = _run("audit", flag, str(tmp_path / "a.jsonl"), "export")
        assert r.returncode == 0 and "apikey.create" in r.stdout, r.stderr
    # apikey without --audit-file: the data directory's audit log
    assert _run("apikey", "--keys-file", str(keys), "create", "--role", "admin", "--name", "y").returncode == 0
    assert "apikey.create" in (d / "audit" / "audit.jsonl").read_text()


def test_audit_export_with_a_config_says_how_to_do_without_it(site: Path) -> None:
    (site / "secret.yaml").write_text(CONFIG + "forwarders:\n- name: t\n  sink: {type: influxdb, url: 'http://x:8086',"
                                      " org: o, bucket: b, token: '${NOT_SET_ANYWHERE_42}'}\n")
    r = _run("audit", "-c", str(site / "secret.yaml"), "export")
    assert r.returncode == 2
    assert "NOT_SET_ANYWHERE_42" in r.stderr and "--audit-file" in r.stderr
