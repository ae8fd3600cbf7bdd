"""What the gateway does as a service: the one object `gateway.app.Gateway` wires in for issue 15.

- holds the run lock on the data directory while the gateway runs (a restore refuses meanwhile);
- owns the log-signing key (PKI folder) the audit log and the ledger prune behind;
- builds the operation ledger and its producer, and the gateway's own AAS shell that carries it;
- speaks systemd's notify protocol: READY=1 after start, WATCHDOG=1 while healthy, STOPPING=1.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from basyx.aas import model

from aas_models.operation import build_gateway_shell
from connectors.base import ConnectionState, Source
from gateway.ops.chain import Head
from gateway.ops.checkpoint import LogSigner, signing_dir
from gateway.ops.ledger import Ledger
from gateway.ops.operation import OperationProducer
from gateway.ops.runlock import RunLock
from gateway.ops.sdnotify import SdNotify, Watchdog, WriterProgress

if TYPE_CHECKING:
    from gateway.config import GatewayConfig
    from gateway.forwarder import Forwarder
    from gateway.historian import Historian

log = logging.getLogger(__name__)

WRITER_STALL_S = 60.0


def gateway_id_short_of(name: str, taken: set[str] | None = None) -> str:
    """The idShort of the gateway's own shell: its name made an idShort, never an asset's."""
    s = re.sub(r"[^A-Za-z0-9_]", "_", name) or "Gateway"
    s = s if s[:1].isalpha() else f"G{s}"
    while taken and s in taken:
        s += "_Gateway"
    return s[:128]


def gateway_id_short(cfg: GatewayConfig) -> str:
    return gateway_id_short_of(cfg.gateway.name, {a.id_short for a in cfg.assets})


class GatewayOps:
    def __init__(self, cfg: GatewayConfig, historian: Historian, audit_head: Callable[[], Head] | None = None) -> None:
        self.cfg = cfg
        self.data_dir = cfg.historian.path.parent
        self.signer = LogSigner(signing_dir(cfg.pki.path))
        self.lock = RunLock(self.data_dir)
        self.notify = SdNotify()
        self.watchdog: Watchdog | None = None
        self.shell: model.AssetAdministrationShell | None = None
        self.operation: OperationProducer | None = None
        self.ledger: Ledger | None = None
        if cfg.ledger.enabled:
            self.shell = build_gateway_shell(cfg.gateway.id, gateway_id_short(cfg),
                                             f"This edge gateway ({cfg.gateway.name}): its own operation")
            self.ledger = Ledger(cfg, self.signer)
            self.operation = OperationProducer(cfg, historian, self.ledger, self.shell.id_short, self.shell.id,
                                               audit_head)
        self._historian = historian

    def set_audit_head(self, audit_head: Callable[[], Head]) -> None:
        if self.operation is not None:
            self.operation.audit_head = audit_head

    def producers(self) -> list[OperationProducer]:
        return [self.operation] if self.operation is not None else []

    def watch(self, sources: dict[str, Source], forwarders: Sequence[Forwarder]) -> None:
        self._sources = sources
        self._forwarders = forwarders
        if self.operation is not None:
            self.operation.watch(sources, forwarders)

    def acquire(self) -> None:
        """Before anything opens the data directory."""
        self.lock.acquire()

    def ready(self, tasks: Sequence[asyncio.Task[None]]) -> asyncio.Task[None] | None:
        """The gateway started: tell systemd, and start the watchdog if systemd wants one."""
        self.notify.notify("READY=1", "STATUS=" + self.status())
        if self.notify.watchdog_s is None:
            return None
        hist = self._historian
        progress = WriterProgress(lambda: hist.pending_rows, lambda: _done(hist), lambda: hist.healthy,
                                  stall_s=max(WRITER_STALL_S, 2 * self.notify.watchdog_s))

        def problems() -> list[str]:
            out = [f"task {t.get_name()} ended" for t in tasks if t.done()]
            p = progress.problem()
            if p:
                out.append(p)
            return out

        self.watchdog = Watchdog(self.notify, self.notify.watchdog_s / 3, problems, self.status)
        log.info("systemd watchdog: pinging every %.1f s while healthy (WatchdogSec=%.0f s)",
                 self.watchdog.interval_s, self.notify.watchdog_s)
        return asyncio.create_task(self.watchdog.run(), name="systemd-watchdog")

    def status(self) -> str:
        sources = getattr(self, "_sources", {})
        up = sum(1 for s in sources.values() if s.health().state == ConnectionState.CONNECTED)
        c = self._historian.counts()
        fw = getattr(self, "_forwarders", [])
        delivering = sum(1 for f in fw if f.health.state == "forwarding")
        return (f"{up}/{len(sources)} sources connected; {c.committed} samples committed"
                + (f", {c.lost} LOST" if c.lost else "") + (f"; {delivering}/{len(fw)} forwarders delivering"
                                                            if fw else ""))

    def stopping(self) -> None:
        self.notify.notify("STOPPING=1", "STATUS=stopping: flushing the historian")

    def release(self) -> None:
        self.lock.release()
        self.notify.close()


def _done(hist: Historian) -> int:
    c = hist.counts()
    return c.committed + c.dead_lettered + c.lost
