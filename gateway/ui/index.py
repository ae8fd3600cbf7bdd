"""What the dashboard shows, read from the running gateway: assets, their points, states and the gateway strip.

The dashboard reads the same live model the AAS API serves (no copy, no second source of truth):
this module indexes it once at start (every configured and derived point of every asset, with its
submodel id, unit, type, writability and live element) and renders the JSON the pages and the live
stream carry. A value always travels with its quality, status code and source time, so a page can
never show a bad or stale value as good.

Machine state: the KPI engine's state point where the asset has KPIs (classified into ISO 22400
categories by the engine's own classifier, so the overview's colour is the category the OEE is
computed from), else a point named `Machine.State` or `State`, mapped by its usual names.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from basyx.aas import model

from aas_models import live
from aas_models.detection import ANOMALY_SM
from aas_models.ids import submodel_id
from aas_models.kpi import KPI_ID_SHORT
from aas_models.valueonly import property_value_to_json, to_value
from connectors.sample import ns_to_iso, point_id
from gateway.kpi import categories

if TYPE_CHECKING:
    from gateway.ui.view import GatewayView

KPI_FACTORS = ("OEE", "Availability", "Effectiveness", "QualityRatio")
CERT_WARN_DAYS = 30
CERT_CHECK_S = 60.0
# names a state point usually has, where no KPI config says what they mean
DEFAULT_STATE_MAP = {"running": categories.PRODUCTION, "production": categories.PRODUCTION,
                     "executing": categories.PRODUCTION, "setup": categories.SETUP, "idle": categories.DELAY,
                     "ready": categories.DELAY, "notexecuting": categories.DELAY, "alarm": categories.DOWN,
                     "fault": categories.DOWN, "error": categories.DOWN, "down": categories.DOWN,
                     "outofservice": categories.DOWN, "off": categories.NOT_PLANNED,
                     "maintenance": categories.NOT_PLANNED}
_BAD = 0x80000000

Value = list[Any]  # [value, quality, status code, source time ISO | None]


def live_value(element: model.SubmodelElement) -> Value:
    """[value as ValueOnly JSON, "Good"/"Uncertain"/"Bad", status code, source time] of a live element."""
    status = live.status_of(element)
    ts = live.source_timestamp_of(element)
    if isinstance(element, model.Property):
        v = property_value_to_json(element.value, element.value_type)
    else:
        try:
            v = to_value(element)
        except ValueError:
            v = None
    return [v, live.quality_name(status), status,
            ts.isoformat().replace("+00:00", "Z") if ts is not None else None]


def _iso(ns: int | None) -> str | None:
    return ns_to_iso(ns) if ns else None


@dataclass(frozen=True, slots=True)
class UiPoint:
    key: str  # the point id: "{asset}/{submodel}/{idShortPath}"
    asset: str
    submodel: str
    sm_id: str
    path: str
    value_type: str
    unit: str | None
    writable: bool
    derived: bool
    element: model.SubmodelElement = field(compare=False, repr=False)

    def describe(self) -> dict[str, Any]:
        return {"key": self.key, "submodel": self.submodel, "smId": self.sm_id, "path": self.path,
                "type": self.value_type, "unit": self.unit, "writable": self.writable, "derived": self.derived,
                "numeric": self.value_type in _NUMERIC}


_NUMERIC = frozenset({"xs:double", "xs:float", "xs:decimal", "xs:integer", "xs:long", "xs:int", "xs:short",
                      "xs:byte", "xs:unsignedLong", "xs:unsignedInt", "xs:unsignedShort", "xs:unsignedByte",
                      "xs:nonNegativeInteger", "xs:positiveInteger", "xs:nonPositiveInteger", "xs:negativeInteger"})


@dataclass
class UiAsset:
    id_short: str
    aas_id: str
    description: str | None
    points: dict[str, UiPoint] = field(default_factory=dict)
    state_point: str | None = None  # the point whose value the overview shows as the machine state
    # KPI classification: the engine's classifier and its inputs (state, machine mode, operator mode); the
    # classified state may differ from the one shown (the OPC 40001 preset reads MachineryItemState)
    classifier: categories.Classifier | None = None
    category_point: str | None = None
    mode_point: str | None = None
    operator_point: str | None = None
    kpi: bool = False
    detection: bool = False
    alarms: list[str] = field(default_factory=list)  # alarm names (Alarms.<name>.*)

    def overview_points(self) -> list[str]:
        keys = [self.state_point] if self.state_point else []
        if self.kpi:
            keys += [f"{self.id_short}/{KPI_ID_SHORT}/CurrentShift.{f}" for f in KPI_FACTORS]
        if self.detection:
            keys.append(f"{self.id_short}/{ANOMALY_SM}/ActiveAlarms")
            keys += [f"{self.id_short}/{ANOMALY_SM}/Alarms.{a}.State" for a in self.alarms]
        return [k for k in keys if k in self.points]

    def category(self) -> str:
        """The ISO 22400 time category the machine is in now (unknown while its state is bad or unseen)."""
        key = self.category_point or self.state_point
        if key is None:
            return categories.UNKNOWN
        state = self._input(key)
        if self.classifier is not None:
            return self.classifier.classify(state, self._input(self.mode_point), self._input(self.operator_point))
        if state is None or state is categories.BAD:
            return categories.UNKNOWN
        return DEFAULT_STATE_MAP.get(str(state).replace(" ", "").lower(), categories.UNKNOWN)

    def _input(self, key: str | None) -> Any:
        if key is None or key not in self.points:
            return None
        el = self.points[key].element
        status = live.status_of(el)
        if status & _BAD:
            return categories.BAD
        return getattr(el, "value", None)


class CertWatch:
    """Certificates that expire within CERT_WARN_DAYS (or have), re-read off the loop once a minute."""

    def __init__(self, pki: Any, pki_dir: Path | None) -> None:
        self._pki = pki
        self._dir = pki_dir
        self._checked = -CERT_CHECK_S
        self.warnings: list[dict[str, Any]] = []
        self._task: asyncio.Task[None] | None = None

    def refresh_soon(self) -> None:
        if time.monotonic() - self._checked < CERT_CHECK_S or (self._task is not None and not self._task.done()):
            return
        self._checked = time.monotonic()
        self._task = asyncio.get_running_loop().create_task(self._refresh())

    async def _refresh(self) -> None:
        if self._pki is None or self._dir is None or not self._dir.exists():
            return  # a gateway without secured sources never creates its PKI: nothing to warn about
        with contextlib.suppress(OSError, ValueError):
            certs = await asyncio.to_thread(self._pki.list)
            now = datetime.now(UTC)
            out = []
            for c in certs:
                if c.state == "rejected":
                    continue
                days = (c.not_after - now).total_seconds() / 86400
                if days <= CERT_WARN_DAYS:
                    out.append({"subject": c.subject, "thumbprint": c.thumbprint, "state": c.state,
                                "notAfter": c.not_after.isoformat().replace("+00:00", "Z"), "days": round(days, 1)})
            self.warnings = out


class DashboardIndex:
    """Every asset and point of a running gateway, as the dashboard shows them."""

    def __init__(self, gateway: GatewayView) -> None:
        self.gateway = gateway
        cfg = gateway.cfg
        self.assets: dict[str, UiAsset] = {}
        self.points: dict[str, UiPoint] = {}
        for a in cfg.assets:
            m = gateway.models[a.id_short]
            ua = UiAsset(a.id_short, a.id, a.description)
            for p in a.points:
                pid = point_id(a.id_short, p.submodel, p.path)
                el = m.properties.get(pid)
                if el is not None:
                    self._add(ua, UiPoint(pid, a.id_short, p.submodel, submodel_id(a.id, p.submodel), p.path,
                                          _canonical(gateway, pid, p.type), p.unit, p.writable, False, el))
            self.assets[a.id_short] = ua
        derived = gateway.derived_elements
        for producer in gateway.producers:
            for dp in producer.points():
                el = derived.get(dp.point_id)
                owner = self.assets.get(dp.asset)
                if el is None or owner is None or dp.event:
                    continue
                self._add(owner, UiPoint(dp.point_id, dp.asset, dp.submodel, submodel_id(owner.aas_id, dp.submodel),
                                         dp.path, dp.value_type, dp.unit, dp.writable, True, el))
        for a in cfg.assets:
            self._state_of(self.assets[a.id_short], a)
        pki = getattr(gateway, "pki", None)
        self.certs = CertWatch(pki, Path(pki.path) if pki is not None else None)

    def _add(self, ua: UiAsset, p: UiPoint) -> None:
        ua.points[p.key] = p
        self.points[p.key] = p
        if p.submodel == KPI_ID_SHORT:
            ua.kpi = True
        elif p.submodel == ANOMALY_SM:
            ua.detection = True
            if p.path.startswith("Alarms.") and p.path.endswith(".State"):
                ua.alarms.append(p.path[len("Alarms."):-len(".State")])

    def _state_of(self, ua: UiAsset, a: Any) -> None:
        kc = a.kpi
        if kc is not None:
            from gateway.kpi.asset import asset_kpi  # the engine's own inputs: the same points the OEE uses

            inputs = asset_kpi(self.gateway.cfg, a).inputs
            ua.classifier = categories.Classifier(kc.state)
            ua.mode_point, ua.operator_point = inputs.machine_mode, inputs.operator_mode
            ua.state_point = ua.category_point = inputs.state
            if kc.state.preset:  # show a readable machine state where the asset has one beside MachineryItemState
                ua.state_point = next((k for k, p in ua.points.items()
                                       if p.path in ("Machine.State", "State") and not p.derived), inputs.state)
            return
        for name in ("Machine.State", "State"):
            pid = next((k for k, p in ua.points.items() if p.path == name and not p.derived), None)
            if pid:
                ua.state_point = pid
                return

    # --- JSON -----------------------------------------------------------------------------------

    def values(self, keys: Iterable[str]) -> dict[str, Value]:
        pts = self.points
        return {k: live_value(pts[k].element) for k in keys if k in pts}

    def asset_status(self, ua: UiAsset) -> dict[str, Any]:
        source = self.gateway.sources.get(ua.id_short)
        out: dict[str, Any] = {"category": ua.category()}
        if source is not None:
            h = source.health()
            if h.state.value != "connected":  # what the machine was doing before is no news of what it does now
                out["category"] = categories.UNKNOWN
            out.update(state=h.state.value, since=_iso(h.state_since_ns), lastSample=_iso(h.last_sample_ns),
                       error=h.last_error if h.state.value != "connected" else None, badPoints=h.bad_points,
                       points=len(h.points))
        return out

    def strip(self) -> dict[str, Any]:
        gw = self.gateway
        health = gw.health()
        hist = gw.historian
        path = Path(gw.cfg.historian.path)
        size = 0
        for p in (path, path.with_name(path.name + "-wal")):
            with contextlib.suppress(OSError):
                size += os.stat(p).st_size
        self.certs.refresh_soon()
        counts = hist.counts()
        return {
            "sources": {"connected": sum(1 for h in health if h.state.value == "connected"), "total": len(health)},
            "forwarders": [{"name": f.name, "state": f.health.state, "lag": f.health.lag,
                            "error": f.health.last_error} for f in gw.forwarders],
            "historian": {"bytes": size, "healthy": hist.healthy, "committed": counts.committed,
                          "deadLettered": counts.dead_lettered, "lost": counts.lost},
            "certificates": self.certs.warnings,
        }

    def statuses(self, assets: Iterable[UiAsset]) -> dict[str, dict[str, Any]]:
        return {ua.id_short: self.asset_status(ua) for ua in assets}

    def overview(self) -> dict[str, Any]:
        assets = []
        keys: list[str] = []
        for ua in self.assets.values():
            ov = ua.overview_points()
            keys += ov
            assets.append({"idShort": ua.id_short, "id": ua.aas_id, "description": ua.description,
                           "statePoint": ua.state_point, "kpi": ua.kpi, "detection": ua.detection,
                           "alarms": ua.alarms, "points": ov})
        return {"gateway": {"name": self.gateway.cfg.gateway.name, "id": self.gateway.cfg.gateway.id},
                "assets": assets, "values": self.values(keys), "status": self.statuses(self.assets.values()),
                "strip": self.strip()}

    def asset(self, ua: UiAsset) -> dict[str, Any]:
        submodels = {p.submodel: p.sm_id for p in ua.points.values()}
        return {"idShort": ua.id_short, "id": ua.aas_id, "description": ua.description,
                "statePoint": ua.state_point, "kpi": ua.kpi, "detection": ua.detection, "alarms": ua.alarms,
                "submodels": submodels, "points": [p.describe() for p in ua.points.values()],
                "values": self.values(ua.points), "status": self.statuses([ua])}


def _canonical(gateway: GatewayView, pid: str, declared: str) -> str:
    info = gateway.pipeline.points.get(pid)
    return info.value_type if info is not None else declared
