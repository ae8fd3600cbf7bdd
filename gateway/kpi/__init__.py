"""Factory KPIs at the edge: ISO 22400-2 time accounting, OEE and P·Q·C·D per asset (issue 12).

Kept import-light on purpose: `gateway.config` imports the config models from here, so nothing in
this package's `__init__` may import the gateway. The producer registers itself when
`gateway.kpi.producer` is imported (gateway/app.py does).

Modules, one job each: `config` (the `kpi:` block), `calendar` and `ical` (planned busy time and
the shift / hour / day windows), `categories` (state -> ISO 22400 time category), `timing` (when
a sample counts), `counters` (quantities from counters), `series` (what the engine remembers),
`accounting` (one window's times), `formulas` (ISO 22400-2 KPIs), `engine` (the pure per-asset
engine), `asset` (an asset's engine inputs and derived points from the config), `producer` (the
live Producer), `recompute` (the engine over the historian), `report` and `cli` (`aas-gateway kpi`).
"""
