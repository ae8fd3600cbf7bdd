"""From machine state to ISO 22400-2 time category: a configured mapping, or the OPC 40001 preset.

Categories and the ISO 22400-2 time element each one feeds:

    production  -> APT  (actual production time)
    setup       -> ASUT (actual unit setup time)
    delay       -> ADET (actual unit delay time: idle, micro-stops, waiting)
    down        -> ADOT (actual unit down time: breakdowns; MTBF/MTTR count these periods)
    not_planned -> taken out of planned busy time (planned maintenance, no production planned)
    unknown     -> the gateway cannot know (machine unreachable, gateway down, value not mapped):
                   reported on its own, never guessed as production or down

OPC 40001-1 preset (MachineryItemState x MachineryOperationMode), after Annex C (Table 68):

    item state \\ mode   Processing   Setup    Maintenance   None
    Executing            production   setup    not_planned   production
    NotExecuting         delay        setup    not_planned   delay
    OutOfService         down         down     not_planned   down
    NotAvailable         down         setup    not_planned   down

Annex C books a failure while an order is registered as delay (ADET, "OutOfService/Processing")
and an idle machine without an order as down; it needs the MES's order state for that. Here
OutOfService is down in every production mode, so that down periods are failures and MTBF/MTTR
mean what maintenance expects; a site that wants Annex C literally maps its own `state.map`.
"""

from __future__ import annotations

from typing import Any

from gateway.kpi.config import StateConfig

PRODUCTION, SETUP, DELAY, DOWN, NOT_PLANNED, UNKNOWN = "production", "setup", "delay", "down", "not_planned", "unknown"
ALL = (PRODUCTION, SETUP, DELAY, DOWN, NOT_PLANNED, UNKNOWN)

BAD = object()  # a sample with a bad status: the value is not known

_OPC40001: dict[tuple[str, str], str] = {}
for _mode, _row in {
    "Processing": (PRODUCTION, DELAY, DOWN, DOWN),
    "Setup": (SETUP, SETUP, DOWN, SETUP),
    "Maintenance": (NOT_PLANNED, NOT_PLANNED, NOT_PLANNED, NOT_PLANNED),
    "None": (PRODUCTION, DELAY, DOWN, DOWN),
}.items():
    for _state, _cat in zip(("Executing", "NotExecuting", "OutOfService", "NotAvailable"), _row, strict=True):
        _OPC40001[(_state, _mode)] = _cat


def _text(v: Any) -> str:
    return v if isinstance(v, str) else str(v)


class Classifier:
    """(state values) -> category. Pure; the values are those in force at one moment."""

    def __init__(self, cfg: StateConfig) -> None:
        self.cfg = cfg
        self.preset = cfg.preset == "opc40001"
        self._map = {str(k): v for k, v in cfg.map.items()}
        self.unmapped: set[str] = set()  # values seen that the map does not know (reported by the producer)

    def classify(self, state: Any, machine_mode: Any, operator_mode: Any) -> str:
        """`state` is the mapped state or the MachineryItemState; None (never seen) or BAD: unknown."""
        if state is None or state is BAD:
            return UNKNOWN
        op = _text(operator_mode) if operator_mode not in (None, BAD) else ""
        if self.preset:
            if self.cfg.operation_mode is not None:
                if machine_mode is None or machine_mode is BAD:
                    return UNKNOWN
                mode = _text(machine_mode)
            else:  # the machine does not know its mode: the operator says it, else the configured default
                mode = op if op and op != "None" else self.cfg.default_mode
            cat = _OPC40001.get((_text(state), mode))
            if cat is None:
                self.unmapped.add(f"{state}/{mode}")
                return UNKNOWN
            return cat
        text = _text(state)
        cat = self._map.get(text)
        if cat is None:
            self.unmapped.add(text)
            cat = self.cfg.default
        # the operator knows what the machine cannot say: a stopped machine is in setup or maintenance
        if cat not in (PRODUCTION, UNKNOWN):
            if op == "Setup":
                return SETUP
            if op == "Maintenance":
                return NOT_PLANNED
        return cat
