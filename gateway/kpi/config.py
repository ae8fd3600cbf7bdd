"""The optional `kpi:` block of an asset: which points say what, the production calendar, the rules.

Strict like the rest of the config (unknown keys are errors) and every error names its key, e.g.
``assets[1].kpi.state.map.Running: 'producing' is not a time category``. Cross-asset checks (a
point named here must exist, possibly on another asset such as the energy meter) run once the
whole config is known: `check_points` is called by GatewayConfig.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date, time
from pathlib import Path
from typing import Literal, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator, model_validator

from connectors.config_base import KeyedError, StrictModel
from connectors.sample import point_id
from gateway.config_view import AssetView

# ISO 22400 time categories a state value can be mapped to. "unknown" is not mappable: it is what
# the engine says when it cannot know (machine unreachable, gateway down, value not mapped).
CATEGORIES = ("production", "setup", "delay", "down", "not_planned")
Category = Literal["production", "setup", "delay", "down", "not_planned"]
OPERATION_MODES = ("None", "Maintenance", "Setup", "Processing")  # OPC 40001-1 MachineryOperationMode
WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
_DAY_ALIASES = {"MON": "MO", "TUE": "TU", "WED": "WE", "THU": "TH", "FRI": "FR", "SAT": "SA", "SUN": "SU"}
_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")




def parse_hhmm(v: str) -> time:
    m = _HHMM.match(v.strip()) if isinstance(v, str) else None
    if not m:
        raise ValueError(f"{v!r} is not a time of day HH:MM (24 h), e.g. 06:00")
    return time(int(m.group(1)), int(m.group(2)))


class BreakConfig(StrictModel):
    start: str = Field(description="HH:MM, local time")
    end: str = Field(description="HH:MM, local time")

    @field_validator("start", "end")
    @classmethod
    def _time(cls, v: str) -> str:
        parse_hhmm(v)
        return v


class ShiftConfig(StrictModel):
    """A shift repeating on the given weekdays (in the calendar's time zone); may cross midnight."""

    name: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9_ -]{0,63}$")
    start: str = Field(description="HH:MM, local time")
    end: str = Field(description="HH:MM, local time; before start means the next day")
    days: list[str] = Field(default_factory=lambda: list(WEEKDAYS), description="weekdays the shift starts on")
    breaks: list[BreakConfig] = []

    @field_validator("start", "end")
    @classmethod
    def _time(cls, v: str) -> str:
        parse_hhmm(v)
        return v

    @field_validator("days")
    @classmethod
    def _days(cls, v: list[str]) -> list[str]:
        out = []
        for d in v:
            key = d.strip().upper()
            key = _DAY_ALIASES.get(key, key)
            if key not in WEEKDAYS:
                raise ValueError(f"{d!r} is not a weekday (Mon..Sun or MO..SU)")
            out.append(key)
        if not out:
            raise ValueError("a shift needs at least one weekday")
        return out

    @model_validator(mode="after")
    def _length(self) -> ShiftConfig:
        if self.start == self.end:
            raise KeyedError("end", "a shift cannot end when it starts")
        return self


class CalendarConfig(StrictModel):
    """Planned busy time: shifts minus breaks and holidays, or an IDTA 02067 iCalendar file."""

    timezone: str = Field("UTC", description="IANA zone of the shift times, e.g. Asia/Seoul")
    day_start: str = Field("00:00", description="local time a production day starts (night shifts belong to one day)")
    shifts: list[ShiftConfig] = Field(default_factory=list, description="empty and no ical: planned 24/7")
    holidays: list[date] = Field(default_factory=list, description="local dates on which no shift starts")
    ical: str | None = Field(None, description="IDTA 02067 production calendar (.ics) instead of `shifts`; "
                                               "relative to the config file")

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{v!r} is not a known IANA time zone (e.g. Asia/Seoul, Europe/Berlin, UTC)") from None
        return v

    @field_validator("day_start")
    @classmethod
    def _day_start(cls, v: str) -> str:
        parse_hhmm(v)
        return v

    @model_validator(mode="after")
    def _one_source(self) -> CalendarConfig:
        if self.ical is not None and self.shifts:
            raise KeyedError("ical", "give either `shifts` or `ical`, not both")
        names = [s.name for s in self.shifts]
        for i, n in enumerate(names):
            if n in names[:i]:
                raise KeyedError(f"shifts[{i}].name", f"shift {n!r} is defined twice")
        return self


class StateConfig(StrictModel):
    """Where the machine state comes from and how its values map to ISO 22400 time categories.

    Either `point` + `map` (any state variable, e.g. Running/Idle/Alarm), or `preset: opc40001`
    with the MachineryItemState point and, if the machine knows it, its MachineryOperationMode
    point (OPC 40001-1 Annex C). Where the machine does not know its mode, the operator's
    OperationMode input (a writable point of the KPI submodel) supplies it.
    """

    preset: Literal["opc40001"] | None = None
    point: str | None = Field(None, description="state point: PATH, SUBMODEL/PATH or ASSET/SUBMODEL/PATH")
    map: dict[str, Category] = Field(default_factory=dict, description="state value -> time category")
    default: Category | Literal["unknown"] = Field(
        "unknown", description="category of a value not in `map` (unknown: never guessed)")
    item_state: str | None = Field(None, description="opc40001: the MachineryItemState point")
    operation_mode: str | None = Field(None, description="opc40001: the MachineryOperationMode point, if any")
    default_mode: Literal["None", "Maintenance", "Setup", "Processing"] = Field(
        "Processing", description="opc40001: mode assumed while neither the machine nor the operator says one")

    @field_validator("map", mode="before")
    @classmethod
    def _keys(cls, v: object) -> object:
        if isinstance(v, dict):
            for k in v:
                if isinstance(k, bool):
                    raise ValueError(f"a state value read as the boolean {k}: YAML takes unquoted Off/On/Yes/No "
                                     "for booleans; quote it, e.g. \"Off\": not_planned")
            return {str(k): c for k, c in v.items()}  # numeric state codes (3: down) are fine
        return v

    @model_validator(mode="after")
    def _shape(self) -> StateConfig:
        if self.preset == "opc40001":
            if self.item_state is None:
                raise KeyedError("item_state", "the opc40001 preset needs the MachineryItemState point")
            if self.point is not None or self.map:
                raise KeyedError("point", "`point`/`map` are for a mapped state; the opc40001 preset uses "
                                           "`item_state` and `operation_mode`")
        else:
            if self.point is None:
                raise KeyedError("point", "give the state point (and `map`), or `preset: opc40001`")
            if not self.map:
                raise KeyedError("map", "map at least one state value to a category "
                                         f"({', '.join(CATEGORIES)})")
            if self.item_state is not None or self.operation_mode is not None:
                raise KeyedError("item_state", "`item_state`/`operation_mode` belong to `preset: opc40001`")
        return self

    def points(self) -> dict[str, str]:
        out = {}
        for key in ("point", "item_state", "operation_mode"):
            v = getattr(self, key)
            if v is not None:
                out[key] = v
        return out


class CountersConfig(StrictModel):
    """Counter points (cumulative, any integer or float type); deltas survive resets and wrap-around."""

    produced: str | None = None
    good: str | None = None
    scrap: str | None = None
    rework: str | None = None
    wrap: int | None = Field(None, ge=1, description="counter modulus, e.g. 4294967296 for UInt32 "
                                                     "(default: from the point's type)")

    @model_validator(mode="after")
    def _some(self) -> CountersConfig:
        if self.produced is None and self.good is None:
            raise KeyedError("produced", "give at least `produced` or `good`")
        return self

    def points(self) -> dict[str, str]:
        return {k: v for k in ("produced", "good", "scrap", "rework") if (v := getattr(self, k)) is not None}


class KpiConfig(StrictModel):
    """KPIs of one asset (ISO 22400-2), published as IDTA 02066 PVM + a KPI submodel."""

    state: StateConfig
    counters: CountersConfig
    ideal_cycle_time_s: float | None = Field(None, gt=0, description="planned runtime per item (PRU), seconds")
    ideal_cycle_time_point: str | None = Field(None, description="or a point giving it (seconds)")
    energy: str | None = Field(None, description="energy register point (kWh), may be on another asset")
    energy_resolution_kwh: float = Field(0.001, gt=0, description="register resolution: sums stay exact")
    calendar: CalendarConfig = CalendarConfig()
    update_interval_s: float = Field(10.0, ge=0.5, description="how often the current shift's values are published")
    grace_s: float = Field(10.0, ge=0.0, le=3600.0, description=(
        "a sample counts at most this long before it reached the gateway (source clocks ahead or behind "
        "are clamped), and a period closes this long after its end"))
    max_clock_skew_s: float = Field(3600.0, gt=0, description=(
        "how far a machine clock may be off: samples stamped further ahead of their arrival are ignored "
        "(and counted); further behind, recomputed periods may differ from live ones (see gateway/kpi/timing.py)"))

    @model_validator(mode="after")
    def _pru(self) -> KpiConfig:
        if self.ideal_cycle_time_s is not None and self.ideal_cycle_time_point is not None:
            raise KeyedError("ideal_cycle_time_point", "give ideal_cycle_time_s or ideal_cycle_time_point, not both")
        if self.max_clock_skew_s <= self.grace_s:
            raise KeyedError("max_clock_skew_s", "must be larger than grace_s")
        return self

    def point_refs(self) -> dict[str, str]:
        """key path (below `kpi`) -> point reference, for validation and wiring."""
        refs = {f"state.{k}": v for k, v in self.state.points().items()}
        refs.update({f"counters.{k}": v for k, v in self.counters.points().items()})
        if self.ideal_cycle_time_point:
            refs["ideal_cycle_time_point"] = self.ideal_cycle_time_point
        if self.energy:
            refs["energy"] = self.energy
        return refs

    def with_calendar_resolved(self, config_dir: Path | None) -> tuple[KpiConfig, tuple[str, str] | None]:
        """This block with its calendar file relative to the config file's folder, and (key, problem) if that
        file cannot be used (read at load time: a bad calendar is a config error, not a surprise at the shift)."""
        ical = self.calendar.ical
        if ical is None:
            return self, None
        out = self
        if config_dir is not None and "BEGIN:VCALENDAR" not in ical and not Path(ical).is_absolute():
            ical = str(config_dir / ical)
            out = self.model_copy(update={"calendar": self.calendar.model_copy(update={"ical": ical})})
        from gateway.kpi.ical import IcalError, load_calendar

        try:
            load_calendar(ical)
        except IcalError as e:
            return out, ("calendar.ical", str(e))
        return out, None


def resolve_point(ref: str, asset: str) -> str:
    """A point reference in the `kpi` block -> the gateway-wide point id."""
    parts = ref.split("/")
    if len(parts) == 1:
        return f"{asset}/OperationalData/{ref}"
    if len(parts) == 2:
        return f"{asset}/{parts[0]}/{parts[1]}"
    return ref


class _KpiAsset(AssetView, Protocol):
    @property
    def kpi(self) -> KpiConfig | None: ...


class _Assets(Protocol):
    @property
    def assets(self) -> Sequence[_KpiAsset]: ...


def check_points(cfg: _Assets) -> list[tuple[str, str]]:
    """(key, message) for every `kpi` point reference that names no configured point (`cfg`: a GatewayConfig)."""
    known = {point_id(a.id_short, p.submodel, p.path): p.type for a in cfg.assets for p in a.points}
    problems = []
    for i, a in enumerate(cfg.assets):
        if a.kpi is None:
            continue
        for key, ref in a.kpi.point_refs().items():
            pid = resolve_point(ref, a.id_short)
            if pid not in known:
                problems.append((f"assets[{i}].kpi.{key}", f"no point {pid!r} is configured"))
    return problems
