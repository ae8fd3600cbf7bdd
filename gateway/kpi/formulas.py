"""ISO 22400-2 KPIs (and the P·Q·C·D extras) from one period's totals.

Formulas as the ISO 22400-2 ontology (hsu-aut/IndustrialStandard-ODP-ISO22400-2) states them:

    Availability            = APT / PBT
    Effectiveness           = PRU x PQ / APT   (PRU may change within a period: sum of PRU x parts)
    Quality ratio           = GQ / PQ
    OEE index               = Availability x Effectiveness x Quality ratio
    NEE index               = AUPT / PBT x Effectiveness x Quality ratio
    Utilization efficiency  = APT / AUBT
    Allocation efficiency   = AUBT / PBT
    Technical efficiency    = APT / (APT + ADET)
    Setup rate              = ASUT / AUPT
    Throughput rate         = PQ / AOET        (parts per hour)
    Scrap ratio, rework ratio = SQ / PQ, RQ / PQ

with AUPT = APT + ASUT, AUBT = APT + ASUT + ADET, and AOET (the time the unit spent on orders
with a known state) = APT + ASUT + ADET + ADOT, as OPC 40501-1 derives it. The ontology names
MTBF and MTTR without formulas; here, with n the down periods in the period (a down period
crossing a period boundary counts in both, with its part in each): MTBF = APT / n, MTTR = ADOT / n.
Energy per good part = energy used / GQ (kWh). Coverage = 1 - unknown / PBT says how much of the
planned busy time had a known machine state. A ratio whose denominator is 0 is None (undefined).
"""

from __future__ import annotations

from dataclasses import dataclass, field

NS = 1_000_000_000


@dataclass
class Totals:
    """What one period (or the part of it so far) adds up to; times in ns, quantities in counter units."""

    start: int
    end: int  # the accounted end (the period's end once closed, "now" while open)
    planned: int = 0  # calendar planned busy time
    production: int = 0
    setup: int = 0
    delay: int = 0
    down: int = 0
    not_planned: int = 0
    unknown: int = 0
    down_periods: int = 0
    down_by_reason: dict[str, int] = field(default_factory=dict)
    produced: float = 0
    good: float = 0
    scrap: float = 0
    rework: float = 0
    planned_production_ns: float = 0  # sum of PRU x produced parts
    energy_kwh: float | None = None
    pru_s: float | None = None  # planned runtime per item in force at the end

    @property
    def pbt(self) -> int:
        return self.planned - self.not_planned


def _ratio(a: float, b: float) -> float | None:
    return a / b if b > 0 else None


def kpis(t: Totals) -> dict[str, float | None]:
    """Every KPI of the period; times in seconds, ratios as fractions (0.853, not 85.3 %)."""
    pbt, apt, asut, adet, adot = t.pbt, t.production, t.setup, t.delay, t.down
    aupt = apt + asut
    aubt = aupt + adet
    aoet = aubt + adot
    availability = _ratio(apt, pbt)
    effectiveness = _ratio(t.planned_production_ns, apt)
    quality = _ratio(t.good, t.produced)
    oee = None if None in (availability, effectiveness, quality) else \
        availability * effectiveness * quality  # type: ignore[operator]
    nee_base = _ratio(aupt, pbt)
    nee = None if None in (nee_base, effectiveness, quality) else \
        nee_base * effectiveness * quality  # type: ignore[operator]
    n = t.down_periods
    return {
        "Availability": availability,
        "Effectiveness": effectiveness,
        "QualityRatio": quality,
        "OEE": oee,
        "NEE": nee,
        "UtilizationEfficiency": _ratio(apt, aubt),
        "AllocationEfficiency": _ratio(aubt, pbt),
        "TechnicalEfficiency": _ratio(apt, apt + adet),
        "SetupRate": _ratio(asut, aupt),
        "ThroughputRate": _ratio(t.produced * 3600 * NS, aoet),
        "ScrapRatio": _ratio(t.scrap, t.produced),
        "ReworkRatio": _ratio(t.rework, t.produced),
        "MTBF": apt / NS / n if n else None,
        "MTTR": adot / NS / n if n else None,
        "DownPeriods": float(n),
        "EnergyConsumption": t.energy_kwh,
        "EnergyPerGoodPart": None if t.energy_kwh is None else _ratio(t.energy_kwh, t.good),
        "Coverage": None if pbt <= 0 else 1 - t.unknown / pbt,
        "PlannedBusyTime": pbt / NS,
        "ActualProductionTime": apt / NS,
        "ActualUnitSetupTime": asut / NS,
        "ActualUnitDelayTime": adet / NS,
        "ActualUnitDownTime": adot / NS,
        "ActualUnitProcessingTime": aupt / NS,
        "ActualUnitBusyTime": aubt / NS,
        "ActualOrderExecutionTime": aoet / NS,
        "UnknownTime": t.unknown / NS,
        "ProducedQuantity": float(t.produced),
        "GoodQuantity": float(t.good),
        "ScrapQuantity": float(t.scrap),
        "ReworkQuantity": float(t.rework),
        "PlannedRuntimePerItem": t.pru_s,
    }
