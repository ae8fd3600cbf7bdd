"""When a sample counts: the one rule that makes live and recomputed KPIs the same numbers.

A sample is placed at its source timestamp, clamped into [received - grace, received]:

    eff = min(received, max(source_ts, received - grace))

so a source clock that runs ahead or behind cannot move data into a period that has already
been closed, and a period [a, b) is complete once the gateway's clock passes b + grace. The live
engine closes it then (plus a short settling time for samples still in the pipeline); the
recompute applies the same rule to the historian's rows, which keep all three timestamps.
The recompute reads the historian by source time: the window widened by `max_clock_skew`, plus the
last rows before it (an OPC UA subscription's first notification after a reconnect carries the
time the value last *changed*, hours ago maybe: such a row is among the newest of its point by
source time). Samples stamped more than `max_clock_skew` *ahead* of their arrival are ignored
(and counted): a machine clock that far off is broken, and the recompute could not find them.
A machine clock more than `max_clock_skew` *behind* makes recomputed periods differ from live ones.
"""

from __future__ import annotations

# rows read before a window besides the value in force at its start: re-notifications with old source times
BEFORE_ROWS = 50


def effective_ts(ts: int, received: int, grace_ns: int) -> int:
    lo = received - grace_ns
    return received if ts > received else (ts if ts > lo else lo)


def too_far_ahead(ts: int, received: int, max_skew_ns: int) -> bool:
    return ts - received > max_skew_ns
