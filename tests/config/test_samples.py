"""The configs people copy from are valid: each connector's sample config, and every YAML snippet of the README.

Snippets are fragments, so each is validated inside a whole config, the wrapper:
`deploy/example-config.yaml` (its assets have every point the README's KPI and detection snippets name), with

* a top-level `source:` (and `points:`) snippet: one more asset made of it (with one point of the source's
  kind if the snippet shows none);
* an `assets:` snippet: each asset merged into the example's asset of the same `id_short` (the KPI snippet
  shows only the `kpi` block of CNC01);
* any other top-level key (`forwarders`, `pki`, `api`, `audit`, `detection` ...): the example's replaced.

Secrets: every ``${NAME}`` gets a value, every ``${file:...}`` reads one temporary file. The result is written
beside a temporary config file and read with `load_config`, paths and all.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from connectors import registry
from gateway.config import ConfigError, GatewayConfig, load_config, parse_config, source_endpoint

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "deploy" / "example-config.yaml"
README = ROOT / "README.md"
_FILE_SECRET = re.compile(r"\$\{file:[^}]*\}")
_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-[^}]*)?\}")
# a point for a snippet that shows a source but no points
_POINT = {"opcua": {"node": "s=Spindle.Speed", "path": "Spindle.Speed", "type": "Double"},
          "mqtt": {"pointer": "/temp", "path": "Temperature", "type": "xs:double"}}


def _load(text: str, tmp_path: Path, wrap: Any = None) -> GatewayConfig:
    """`text` (YAML) with secrets filled in, passed through `wrap` (a dict -> dict), loaded from a file."""
    secret = tmp_path / "secret"
    secret.write_text("s3cret\n")
    text = _FILE_SECRET.sub("${file:" + str(secret) + "}", text)
    env = {name: "x" for name in _ENV.findall(text)}
    data = yaml.safe_load(text)
    if wrap is not None:
        data = wrap(data)
    f = tmp_path / "config.yaml"
    f.write_text(yaml.safe_dump(data, sort_keys=False))
    return load_config(f, env=env)


def _example() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(EXAMPLE.read_text())
    return data


def in_example(snippet: dict[str, Any]) -> dict[str, Any]:
    """The wrapper of the module doc."""
    data = _example()
    if "source" in snippet:
        src = snippet["source"]
        kind = src.get("type", registry.default_source_type())
        data["assets"].append({"id_short": "Snippet", "id": "urn:test:aas:Snippet",
                               "global_asset_id": "urn:test:asset:Snippet", "source": src,
                               "points": snippet.get("points", [_POINT[kind]])})
    for key, value in snippet.items():
        if key in ("source", "points"):
            continue
        if key == "assets":
            by_name = {a["id_short"]: a for a in data["assets"]}
            for a in value:
                if a["id_short"] in by_name:
                    by_name[a["id_short"]].update(a)
                else:
                    data["assets"].append(a)
        else:
            data[key] = value
    return data


def readme_snippets() -> list[tuple[int, str]]:
    text = README.read_text(encoding="utf-8")
    return [(text[:m.start()].count("\n") + 2, m.group(1)) for m in re.finditer(r"```yaml\n(.*?)```", text, re.S)]


def test_the_readme_has_config_snippets() -> None:
    assert len(readme_snippets()) >= 10  # a regex that finds nothing would make the next test pass vacuously


@pytest.mark.parametrize(("line", "snippet"), readme_snippets(), ids=[f"README.md:{n}" for n, _ in readme_snippets()])
def test_readme_yaml_snippet_is_a_valid_config(line: int, snippet: str, tmp_path: Path) -> None:
    cfg = _load(snippet, tmp_path, in_example)
    shown = yaml.safe_load(snippet)
    if "source" in shown:  # the snippet's own asset is there, validated by its connector's models
        (a,) = [a for a in cfg.assets if a.id_short == "Snippet"]
        assert a.source.type == shown["source"].get("type", "opcua")
    if "forwarders" in shown:
        assert [f.name for f in cfg.forwarders] == [f["name"] for f in shown["forwarders"]]


@pytest.mark.parametrize("descriptor", registry.descriptors(), ids=lambda d: d.type)
def test_each_connector_ships_a_valid_sample_config(descriptor: registry.ConnectorDescriptor, tmp_path: Path) -> None:
    assert descriptor.sample_config is not None
    text = descriptor.sample_config.read_text(encoding="utf-8")
    shown = yaml.safe_load(text)
    # a sink-only sample shows no asset: the example's are added (a config needs one)
    cfg = _load(text, tmp_path, lambda d: d if "assets" in d else {"assets": _example()["assets"], **d})
    if descriptor.source is not None:
        sources = [a.source for a in cfg.assets if a.source.type == descriptor.type]
        assert len(sources) == len(shown["assets"]) >= 1
        assert all(isinstance(s, descriptor.source.config) for s in sources)
    if descriptor.sink is not None:
        sinks = [f.sink for f in cfg.forwarders if f.sink.type == descriptor.type]
        assert len(sinks) == len(shown["forwarders"]) >= 1
        assert all(isinstance(s, descriptor.sink.config) for s in sinks)
    # every setting of the connector is shown (set or commented out), so the sample is its reference
    models = [r.config for r in (descriptor.source, descriptor.sink) if r is not None]
    models += [descriptor.source.point] if descriptor.source is not None else []
    for model in models:
        for name in model.model_fields:
            assert re.search(rf"\b{name}:", text), f"{descriptor.sample_config.name} lacks {model.__name__}.{name}"


def test_the_readme_connector_example_registers_and_validates() -> None:
    """The README's "Adding a connector" code, run as written, makes `type: modbus` a valid source."""
    text = README.read_text(encoding="utf-8")
    (code,) = [c for c in re.findall(r"```python\n(.*?)```", text, re.S) if "register(ConnectorDescriptor" in c]
    exec(compile(code, "README.md", "exec", dont_inherit=True), {"__name__": "readme_connector"})
    try:
        cfg = parse_config({"assets": [{"id_short": "PLC1", "id": "urn:test:aas:PLC1",
                                        "global_asset_id": "urn:test:asset:PLC1",
                                        "source": {"type": "modbus", "host": "10.0.0.7"},
                                        "points": [{"holding_register": 40001, "path": "Speed", "type": "xs:int"}]}]},
                           env={})
        (a,) = cfg.assets
        assert a.points[0].source_address() == "hr40001" and source_endpoint(a.source) == "modbus://10.0.0.7:502"
        with pytest.raises(ConfigError) as e:
            parse_config({"assets": [{"id_short": "PLC1", "id": "urn:x", "global_asset_id": "urn:y",
                                      "source": {"type": "modbus", "host": "h"},
                                      "points": [{"path": "Speed", "type": "xs:int"}]}]}, env={})
        assert [(i.key, i.message) for i in e.value.issues] == [
            ("assets[0].points[0].holding_register", "Field required")]
    finally:
        registry.unregister("modbus")
