"""Keep Python's cyclic garbage collector off the objects the gateway builds once at start.

Why: a full collection (generation 2) traverses every container object alive. The gateway builds its
configuration and AAS model at start and keeps them for its lifetime: at 10,000 points that is about a
million objects (BaSyx properties, qualifiers, references, namespace sets). Ingest allocates several
container objects per value (DataValues, Variants, Samples) whose survivors trigger a full collection
every few seconds at 10,000 values/s, and every one of them rescanned the whole model: with
benchmarks/ingest_path.py (5,000 points x 2 Hz) full collections were about a third of the gateway's CPU.

`gc.freeze()` moves everything alive at that moment into a permanent generation that collections skip;
reference counting still frees those objects as usual. What freezing cannot free is a *cycle* of frozen
objects that becomes garbage later (an element the REST API replaced: BaSyx elements and their parent
point to each other). So `keep_frozen` renews the freeze now and then: unfreeze, one full collection,
freeze again; such garbage lives at most one interval, and one full collection per interval is all the
model costs the collector.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time

log = logging.getLogger(__name__)

REFREEZE_INTERVAL_S = 600.0


def freeze() -> int:
    """Collect what is garbage now, then exclude every surviving object from future collections.

    Returns how many objects are frozen.
    """
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()


def refreeze() -> int:
    """Unfreeze, collect (cycles among formerly frozen objects included) and freeze again; returns the count."""
    gc.unfreeze()
    return freeze()


async def keep_frozen(interval_s: float = REFREEZE_INTERVAL_S) -> None:
    """Freeze now and renew the freeze every `interval_s`; when cancelled (the gateway stops), unfreeze.

    Unfreezing at the end lets a process that runs several gateways one after the other (the tests)
    collect the ones it is done with.
    """
    try:
        t0 = time.perf_counter()
        frozen = freeze()
        log.debug("gc: %d objects frozen in %.0f ms", frozen, 1000 * (time.perf_counter() - t0))
        while True:
            await asyncio.sleep(interval_s)
            t0 = time.perf_counter()
            frozen = refreeze()
            log.debug("gc: freeze renewed, %d objects, %.0f ms", frozen, 1000 * (time.perf_counter() - t0))
    finally:
        gc.unfreeze()
