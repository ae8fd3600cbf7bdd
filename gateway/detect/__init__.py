"""Online anomaly detection, quality prediction and remaining useful life at the edge (issue 14).

config.py (the `detection:` section), signal.py (per-signal detectors) on robust.py (median/MAD
windows), multivariate.py (Hotelling's T² per asset), quality.py (scrap prediction per cycle),
rul.py (degradation trend to a limit), alarms.py (ISA-18.2 alarm life cycle), engine.py (one
asset, clock-free), state.py (learned state on disk), producer.py (the gateway plug-in).
"""
