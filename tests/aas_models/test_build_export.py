"""The example config's assets build into models that pass aas-test-engines and BaSyx's strict reader."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from basyx.aas import model
from basyx.aas.adapter.json import AASToJsonEncoder, StrictAASFromJsonDecoder, read_aas_json_file

from aas_models import ids
from aas_models.environment import build_repository, export_aasx, export_json
from aas_models.spec import AssetSpec
from tests.aas_lookup import child


def _check_file(path: Path, fmt: str) -> None:
    r = subprocess.run(
        [sys.executable, "-m", "aas_test_engines", "check_file", str(path), "--format", fmt, "--output", "json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    result = json.loads(r.stdout)

    def failures(node: dict, trail: str) -> list[str]:
        here = f"{trail} / {node['m']}"
        out = [here] if node["l"] >= 2 and not node["s"] else []
        for s in node["s"]:
            out += failures(s, here)
        return out

    assert r.returncode == 0 and result["l"] < 2, "\n".join(failures(result, path.name))


def test_example_assets_pass_aas_test_engines(specs: list[AssetSpec], tmp_path: Path) -> None:
    repo, models = build_repository(specs)
    assert list(models) == ["CNC01", "IMM01", "EM01"]
    export_json(repo, tmp_path / "env.json")
    export_aasx(repo, tmp_path / "env.aasx")
    _check_file(tmp_path / "env.json", "json")
    _check_file(tmp_path / "env.aasx", "aasx")


def test_strict_basyx_round_trip(specs: list[AssetSpec], tmp_path: Path) -> None:
    repo, _ = build_repository(specs)
    for sm in repo.submodels():
        text = json.dumps(sm, cls=AASToJsonEncoder)
        back = json.loads(text, cls=StrictAASFromJsonDecoder)
        assert isinstance(back, model.Submodel) and back.id == sm.id
        assert json.dumps(back, cls=AASToJsonEncoder) == text
    export_json(repo, tmp_path / "env.json")
    with (tmp_path / "env.json").open() as f:
        store = read_aas_json_file(f, failsafe=False)
    assert len(store) == len(repo.shells()) + len(repo.submodels())


def test_model_structure(specs: list[AssetSpec]) -> None:
    _, models = build_repository(specs)
    imm = models["IMM01"]
    assert imm.shell.asset_information.asset_kind is model.AssetKind.INSTANCE
    assert imm.shell.asset_information.global_asset_id == "urn:aas-gateway:demo:asset:IMM01"
    assert {r.key[0].value for r in imm.shell.submodel} == {sm.id for sm in imm.submodels}
    assert [sm.id_short for sm in imm.submodels] == ["Nameplate", "OperationalData", "TimeSeries", "GatewayStatus"]
    assert imm.submodel("OperationalData").id == "urn:aas-gateway:demo:aas:IMM01:submodels:OperationalData"

    prop = imm.properties["IMM01/OperationalData/Barrel.Zone1.Temperature"]
    assert isinstance(prop, model.Property)
    op = imm.submodel("OperationalData")
    assert op.get_referable(["Barrel", "Zone1", "Temperature"]) is prop
    assert prop.value_type is model.datatypes.Double
    assert prop.get_qualifier_by_type("Unit").value == "Cel"
    assert prop.value is None
    assert prop.get_qualifier_by_type("StatusCode").value == "0x80320000"
    setpoint = child(op, ["Barrel", "Zone1", "Setpoint"], model.Property)
    assert setpoint.get_qualifier_by_type("Writable").value is True

    np_ = imm.submodel("Nameplate")
    assert np_.semantic_id is not None and np_.semantic_id.key[0].value == ids.NAMEPLATE
    assert isinstance(np_.get_referable("ManufacturerName"), model.MultiLanguageProperty)
    cnc_np = models["CNC01"].submodel("Nameplate")
    addr = child(cnc_np, "AddressInformation", model.SubmodelElementCollection)
    city = child(addr, "CityTown", model.MultiLanguageProperty).value
    assert city is not None and city["en"] == "Changwon"

    ts = imm.submodel("TimeSeries")
    assert ts.semantic_id is not None and ts.semantic_id.key[0].value == "https://admin-shell.io/idta/TimeSeries/1/1"
    record = child(ts, ["Metadata", "Record"], model.SubmodelElementCollection)
    names = [e.id_short for e in record.value]
    assert names[0] == "Time" and "Barrel_Zone1_Temperature" in names
    assert "Machine_State" not in names  # strings are not time series variables
    linked = child(ts, ["Segments", "LinkedSegment"], model.SubmodelElementCollection)
    assert child(linked, "Endpoint", model.Property).value == "http://127.0.0.1:8080/history"
    assert child(linked, "State", model.Property).value == "in progress"
    rr = ts.get_referable("ReadRecords")
    assert isinstance(rr, model.Operation)
    assert [v.id_short for v in rr.input_variable] == ["Timespan"]
    all_sems = json.dumps(ts, cls=AASToJsonEncoder)
    assert "EndTime/1/1 " not in all_sems


def test_status_submodel_update(specs: list[AssetSpec]) -> None:
    _, models = build_repository(specs)
    st = models["CNC01"].status
    st.update("connected", 1_700_000_000_000_000_000, 1_700_000_001_500_000_000, 2, 3, None)
    sm = st.submodel
    assert child(sm, "ConnectionState", model.Property).value == "connected"
    assert child(sm, "StateSince", model.Property).value.isoformat() == "2023-11-14T22:13:20+00:00"
    assert child(sm, "LastSampleTime", model.Property).value.microsecond == 500000
    assert child(sm, "BadPoints", model.Property).value == 2
    assert child(sm, "Connects", model.Property).value == 3
    assert child(sm, "Points", model.Property).value == 25  # CNC01 in deploy/example-config.yaml
    assert child(sm, "Endpoint", model.Property).value == "opc.tcp://127.0.0.1:4841/"
    json.loads(json.dumps(sm, cls=AASToJsonEncoder), cls=StrictAASFromJsonDecoder)
    st.update("disconnected", None, None, 0, 3, "connection refused")
    assert child(sm, "LastError", model.Property).value == "connection refused"


def test_submodel_ids() -> None:
    assert ids.submodel_id("https://x.example/aas/M1", "Nameplate") == "https://x.example/aas/M1/submodels/Nameplate"
    assert ids.submodel_id("https://x.example/aas/M1/", "A") == "https://x.example/aas/M1/submodels/A"
    assert ids.submodel_id("urn:a:b", "OperationalData") == "urn:a:b:submodels:OperationalData"


def test_bad_specs_raise(specs: list[AssetSpec]) -> None:
    import dataclasses

    import pytest

    from aas_models.builder import build_asset

    s = specs[0]
    dup = dataclasses.replace(s, points=(*s.points, s.points[0]))
    with pytest.raises(ValueError, match="twice"):
        build_asset(dup)
    p = dataclasses.replace(s.points[0], point_id="CNC01/OperationalData/Machine.State.X", path="Machine.State.X")
    with pytest.raises(ValueError, match="collection"):
        build_asset(dataclasses.replace(s, points=(*s.points, p)))
    bad = dataclasses.replace(s.points[0], point_id="x", path="Machine.1bad")
    with pytest.raises(ValueError, match="idShort"):
        build_asset(dataclasses.replace(s, points=(bad,)))
