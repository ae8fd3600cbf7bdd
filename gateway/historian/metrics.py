"""Prometheus metrics of one historian, registered on the registry the app passes in.

Never the global default registry: tests and several historians in one
process must not collide on metric names.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class HistorianMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.rows_written = Counter(
            "gateway_historian_rows_written", "Samples committed to the historian", registry=registry
        )
        self.commits = Counter("gateway_historian_commits", "Historian write transactions committed", registry=registry)
        self.commit_seconds = Histogram(
            "gateway_historian_commit_seconds",
            "Time to write and commit one batch",
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
            registry=registry,
        )
        self.pending = Gauge("gateway_historian_pending_rows", "Samples queued, not yet committed", registry=registry)
        self.healthy = Gauge("gateway_historian_healthy", "1 if the last write succeeded", registry=registry)
        self.write_errors = Counter(
            "gateway_historian_write_errors", "Failed write attempts (the batch is retried)", registry=registry
        )
        self.rejected = Counter(
            "gateway_historian_rejected_rows",
            "Samples SQLite refused to store (bad data); each is in the dead_letters table with the reason",
            registry=registry,
        )
        self.lost = Counter(
            "gateway_historian_lost_rows",
            "Samples neither stored nor dead-lettered (an unwritable file at shutdown, a refused dead letter)",
            registry=registry,
        )
        self.retention_deleted = Counter(
            "gateway_historian_retention_deleted_rows",
            "Samples deleted by retention",
            ["reason"],
            registry=registry,
        )
