"""The `detection:` section of the gateway config: what to watch on which asset, and how.

Signals are named by the idShortPath of a configured point of the asset (`Spindle.Load`), or
`Submodel/idShortPath` when the asset maps points into several submodels. Each signal takes its
detector parameters from a preset (`steady`, `slow`, `cyclic`, `trend`, `counter`) that a `params`
block may override key by key, so a typical config is one line per signal. `check` validates the
references against the assets after the whole config parsed, naming the key of every bad one.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Literal, Protocol

from pydantic import Field, field_validator, model_validator

from aas_models.datatypes import NUMERIC_TYPES
from aas_models.idshort import check_id_short
from connectors.config_base import StrictModel
from gateway.config_view import AssetView


@dataclass(frozen=True)
class DetectorParams:
    """Everything a per-signal detector needs; `None` switches a check off.

    Sample level (each reading against the learned median/MAD of recent normal readings):
    `spike_z` one reading this many robust standard deviations away; `level_z` for `level_persist`
    readings in a row (a step); `rate_z` a change between two readings this far outside the learned
    spread of changes. Block level (means over `block_s` seconds against the median/MAD of recent
    normal block means): a two-sided CUSUM with allowance `cusum_k` and decision interval `cusum_h`
    (a drift). `stuck_min_s`: no change for this long while operating, and for `stuck_factor`
    times the learned interval between changes. `stuck_state_learn_s`: in the other machine states
    (and while settling) silence is judged by limits learned per state, in the states where the
    signal was seen this long and proved noisy (silence.py); None judges silence only while operating.
    """

    spike_z: float | None = 9.0
    level_z: float | None = 6.0
    level_persist: int = 3
    rate_z: float | None = 14.0
    block_s: float = 10.0
    cusum_k: float = 0.75
    cusum_h: float | None = 15.0
    drift_direction: Literal["both", "up", "down"] = "both"
    stuck_min_s: float | None = 30.0
    stuck_factor: float = 20.0
    stuck_state_learn_s: float | None = 300.0
    window: int = 600  # readings in the sample baseline
    learn_every_s: float = 1.0  # at most one reading per this many seconds enters it: the baseline spans
    # window x learn_every_s seconds (10 min) whatever the sampling rate
    block_window: int = 360  # block means in the block baseline
    min_samples: int = 120  # readings before sample-level checks start
    min_blocks: int = 30  # block means before the CUSUM starts
    learn_z: float = 4.0  # readings (blocks) further out than this do not enter the baseline (multimodal signals
    # need a wide gate: a gate narrower than the distance between modes would starve the smaller mode)
    hold_s: float = 15.0  # a momentary condition (spike, rate) keeps the alarm up this long
    clear_after_s: float = 30.0  # the alarm clears after this long without any condition
    rebaseline_after_s: float = 3600.0  # a condition lasting this long is taken as the new normal
    min_scale: float = 0.0  # floor of the robust scale, in signal units (quantisation, sensor resolution)


PresetName = Literal["steady", "slow", "cyclic", "trend", "counter"]
PRESETS: dict[str, DetectorParams] = {
    # controlled process values at a setpoint (barrel zones, mould, coolant): everything on
    "steady": DetectorParams(),
    # slow thermal values: longer blocks, a longer memory
    "slow": DetectorParams(block_s=30.0, block_window=240, min_blocks=20, level_persist=5),
    # values that follow the machine's cycle (speeds, loads, pressures): readings are multimodal by
    # design, so only extreme readings, drifts of the cycle average, stuck and range are checked
    "cyclic": DetectorParams(spike_z=None, level_z=None, rate_z=None, block_s=60.0, block_window=120,
                             min_blocks=15, cusum_h=12.0, cusum_k=1.0, learn_z=10.0),
    # condition indicators that grow with damage (vibration): upward drifts of the cycle average, and
    # readings far above the usual ones
    "trend": DetectorParams(spike_z=8.0, level_z=6.0, level_persist=5, rate_z=None, block_s=60.0, block_window=120,
                            min_blocks=15, cusum_h=10.0, cusum_k=1.0, drift_direction="up", learn_z=6.0),
    # counters: only whether they stop while the machine operates
    "counter": DetectorParams(spike_z=None, level_z=None, rate_z=None, cusum_h=None, stuck_min_s=120.0,
                              stuck_factor=10.0, min_samples=5),
}


class DetectorOverrides(StrictModel):
    """Any DetectorParams field, overriding the preset's value."""

    spike_z: float | None = Field(None, gt=0)
    level_z: float | None = Field(None, gt=0)
    level_persist: int | None = Field(None, ge=1)
    rate_z: float | None = Field(None, gt=0)
    block_s: float | None = Field(None, gt=0)
    cusum_k: float | None = Field(None, ge=0)
    cusum_h: float | None = Field(None, gt=0)
    drift_direction: Literal["both", "up", "down"] | None = None
    stuck_min_s: float | None = Field(None, gt=0)
    stuck_factor: float | None = Field(None, gt=0)
    stuck_state_learn_s: float | None = Field(None, gt=0)
    window: int | None = Field(None, ge=10, le=100_000)
    learn_every_s: float | None = Field(None, ge=0)
    block_window: int | None = Field(None, ge=10, le=100_000)
    min_samples: int | None = Field(None, ge=1)
    min_blocks: int | None = Field(None, ge=1)
    learn_z: float | None = Field(None, gt=0)
    hold_s: float | None = Field(None, ge=0)
    clear_after_s: float | None = Field(None, ge=0)
    rebaseline_after_s: float | None = Field(None, gt=0)
    min_scale: float | None = Field(None, ge=0)
    disable: list[Literal["spike", "level", "rate", "drift", "stuck"]] = Field(
        [], description="checks of the preset to switch off")


_DISABLE = {"spike": "spike_z", "level": "level_z", "rate": "rate_z", "drift": "cusum_h", "stuck": "stuck_min_s"}


class ConditionConfig(StrictModel):
    """Learn one baseline per operating point: e.g. vibration per spindle-speed band of `step` rpm."""

    point: str = Field(description="numeric point that sets the operating point, e.g. Spindle.Speed")
    step: float = Field(gt=0, description="width of one band, in that point's unit")


class SignalConfig(StrictModel):
    point: str = Field(description="idShortPath of a numeric point of the asset (or Submodel/idShortPath)")
    preset: PresetName = "steady"
    setpoint: str | None = Field(None, description="point holding the setpoint: the detector watches value - setpoint")
    condition: ConditionConfig | None = Field(None, description="a baseline per operating point (band of another "
                                              "signal): readings are judged against their own band's baseline")
    range: tuple[float, float] | None = Field(None, description="[low, high]: outside is an alarm at once")
    max_rate: float | None = Field(None, gt=0, description="fastest physically possible change, units per second")
    severity: int = Field(500, ge=1, le=1000, description="alarm severity, 1..1000 as in OPC UA")
    alarm: bool = Field(True, description="false: scores only, no alarm")
    params: DetectorOverrides = DetectorOverrides()

    @field_validator("range")
    @classmethod
    def _range(cls, v: tuple[float, float] | None) -> tuple[float, float] | None:
        if v is not None and not v[0] < v[1]:
            raise ValueError("range must be [low, high] with low < high")
        return v

    def detector_params(self) -> DetectorParams:
        p = PRESETS[self.preset]
        changes = {f.name: getattr(self.params, f.name) for f in fields(DetectorParams)
                   if getattr(self.params, f.name) is not None}
        for check in self.params.disable:
            changes[_DISABLE[check]] = None
        return replace(p, **changes)


class StateConfig(StrictModel):
    point: str = Field(description="point carrying the machine state (any type)")
    operating: list[str] = Field(["Running"], min_length=1, description="states in which the machine operates")
    settle_s: float = Field(120.0, ge=0,
                            description="after entering an operating state, nothing is judged for this long")


class MultivariateConfig(StrictModel):
    enabled: bool = True
    signals: list[str] | None = Field(None, description="default: the asset's signals with presets other than counter")
    window: int = Field(3600, ge=100, description="memory of the mean and covariance, in ticks")
    min_ticks: int = Field(900, ge=50, description="ticks learned before it judges")
    quantile: float = Field(0.99, gt=0.5, lt=1, description="quantile of normal T² that sets the limit")
    factor: float = Field(2.0, ge=1, description="limit = factor x that quantile")
    persist: int = Field(10, ge=1, description="ticks in a row above the limit to raise the alarm")
    severity: int = Field(500, ge=1, le=1000)


class QualityFeature(StrictModel):
    point: str
    agg: Literal["mean", "max", "min", "last"] = "mean"
    setpoint: str | None = None


class QualityConfig(StrictModel):
    cycle_counter: str = Field(description="counter that increments once per production cycle")
    scrap_counter: str = Field(description="counter of scrap parts (its increment labels the cycle as scrap)")
    good_counter: str | None = Field(None, description="counter of good parts (else: a cycle without scrap is good)")
    features: list[str | QualityFeature] = Field(min_length=1, description="process parameters of a cycle")
    rate_window: int = Field(50, ge=5, description="cycles in the rolling expected scrap rate")
    min_cycles: int = Field(30, ge=1, description="labelled cycles before the classifier is trusted")
    alarm_rate: float | None = Field(0.25, gt=0, le=1, description="expected scrap rate that raises an alarm")
    learning_rate: float = Field(1.0, gt=0, description="AdaGrad step size")
    l2: float = Field(1e-3, ge=0)
    severity: int = Field(600, ge=1, le=1000)

    def feature_list(self) -> list[QualityFeature]:
        return [QualityFeature(point=f) if isinstance(f, str) else f for f in self.features]


class RulConfig(StrictModel):
    name: str = Field(description="idShort of the component, e.g. Tool (submodel PredictiveMaintenance_Tool)")
    point: str = Field(description="degradation indicator, e.g. Tool.Wear")
    limit: float = Field(description="value at which the component is worn out")
    direction: Literal["up", "down"] = "up"
    unit: str | None = None
    model: Literal["linear", "exponential"] = "linear"
    window_s: float = Field(300.0, gt=0, description="operating seconds of recent history the trend is fitted on")
    smooth_s: float = Field(0.0, ge=0, description="average readings over this long before fitting (vibration)")
    horizon_s: float = Field(3600.0, gt=0, description="failure probability = P(limit reached within this many "
                             "operating seconds)")
    pre_alert_s: float | None = Field(600.0, gt=0, description="alarm when the remaining life is below this")
    reset_drop: float | None = Field(None, gt=0, description="a fall by this much means the component was replaced "
                                     "(default: 10 % of the limit)")
    min_points: int = Field(20, ge=3)
    severity: int = Field(400, ge=1, le=1000)

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        return check_id_short(v, max_length=100)  # the submodel's idShort is PredictiveMaintenance_<name>


class AssetDetectionConfig(StrictModel):
    asset: str = Field(description="idShort of a configured asset")
    state: StateConfig | None = None
    signals: list[SignalConfig] = []
    multivariate: MultivariateConfig = MultivariateConfig()
    quality: QualityConfig | None = None
    rul: list[RulConfig] = []

    def multivariate_signals(self) -> list[str]:
        if self.multivariate.signals is not None:
            return list(self.multivariate.signals)
        return [s.point for s in self.signals if s.preset != "counter"]


class DetectionConfig(StrictModel):
    """Online anomaly detection, quality prediction and remaining useful life (gateway/detect)."""

    enabled: bool = True
    state_path: Path | None = Field(None, description="learned state (default: detect-state.json beside the "
                                    "historian; a relative path is relative to the historian's folder)")
    save_interval_s: float = Field(300.0, ge=1, description="how often the learned state is saved (and at stop)")
    tick_s: float = Field(1.0, gt=0, le=60, description="how often alarms, stuck checks and the multivariate "
                          "detector are evaluated")
    score_interval_s: float = Field(10.0, gt=0, description="per-signal anomaly scores: the maximum over this "
                                    "interval is stored")
    assets: list[AssetDetectionConfig] = []

    @model_validator(mode="after")
    def _unique_assets(self) -> DetectionConfig:
        seen = set()
        for a in self.assets:
            if a.asset in seen:
                raise ValueError(f"asset {a.asset!r} appears twice")
            seen.add(a.asset)
        return self

    def resolved_state_path(self, historian_path: Path) -> Path:
        folder = Path(historian_path).parent
        if self.state_path is None:
            return folder / "detect-state.json"
        return self.state_path if self.state_path.is_absolute() else folder / self.state_path


# --- references to points -----------------------------------------------------------------------------


def find_point(asset: AssetView, ref: str) -> tuple[str, str, str] | None:
    """(submodel, path, xs type) of the asset's point named `ref` (`Path` or `Submodel/Path`), or None."""
    sm, sep, path = ref.partition("/")
    if not sep:
        sm, path = "", ref
    hits = [(p.submodel, p.path, p.type) for p in asset.points if p.path == path and (not sm or p.submodel == sm)]
    return hits[0] if len(hits) == 1 else None


def alarm_name(path: str) -> str:
    """The idShort of a signal's alarm: its idShortPath with '.' as '_' (Barrel.Zone1.Temperature ->
    Barrel_Zone1_Temperature)."""
    return re.sub(r"[^A-Za-z0-9_]", "_", path.rpartition("/")[2])


class _Config(Protocol):
    @property
    def assets(self) -> Sequence[AssetView]: ...

    @property
    def detection(self) -> DetectionConfig: ...


def check(cfg: _Config) -> list[tuple[str, str]]:
    """Every bad reference of the detection section as (key path, message) (`cfg`: a GatewayConfig)."""
    issues: list[tuple[str, str]] = []
    assets = {a.id_short: a for a in cfg.assets}
    for i, ad in enumerate(cfg.detection.assets):
        key = f"detection.assets[{i}]"
        asset = assets.get(ad.asset)
        if asset is None:
            issues.append((f"{key}.asset", f"no asset {ad.asset!r} is configured"))
            continue

        def numeric(k: str, ref: str, asset: AssetView = asset) -> None:
            found = find_point(asset, ref)
            if found is None:
                issues.append((k, f"{ref!r} is not a point of {asset.id_short} (or names several)"))
            elif found[2] not in NUMERIC_TYPES:
                issues.append((k, f"{ref!r} is {found[2]}, not a numeric type"))

        if ad.state is not None and find_point(asset, ad.state.point) is None:
            issues.append((f"{key}.state.point", f"{ad.state.point!r} is not a point of {asset.id_short}"))
        names: dict[str, str] = {}
        for j, s in enumerate(ad.signals):
            numeric(f"{key}.signals[{j}].point", s.point)
            if s.setpoint is not None:
                numeric(f"{key}.signals[{j}].setpoint", s.setpoint)
            if s.condition is not None:
                numeric(f"{key}.signals[{j}].condition.point", s.condition.point)
            name = alarm_name(s.point)
            if name in names:
                issues.append((f"{key}.signals[{j}].point", f"{s.point!r} is already watched ({names[name]})"))
            names[name] = s.point
        watched = {s.point for s in ad.signals}
        for j, ref in enumerate(ad.multivariate.signals or []):
            if ref not in watched:
                issues.append((f"{key}.multivariate.signals[{j}]", f"{ref!r} is not one of this asset's signals"))
        if ad.quality is not None:
            q = ad.quality
            for attr in ("cycle_counter", "scrap_counter", "good_counter"):
                ref = getattr(q, attr)
                if ref is not None:
                    numeric(f"{key}.quality.{attr}", ref)
            for j, f in enumerate(q.feature_list()):
                numeric(f"{key}.quality.features[{j}]", f.point)
                if f.setpoint is not None:
                    numeric(f"{key}.quality.features[{j}].setpoint", f.setpoint)
        rul_names: set[str] = set()
        for j, r in enumerate(ad.rul):
            numeric(f"{key}.rul[{j}].point", r.point)
            if r.name in rul_names:
                issues.append((f"{key}.rul[{j}].name", f"{r.name!r} is already used"))
            rul_names.add(r.name)
    return issues
