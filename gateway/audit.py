"""Audit log: who changed what, from where, with which result (JSON lines, rotating, retained for years).

(Being built for issue 5; the interface is fixed, see `AuditLog.record`.)
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field


class AuditConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    path: Path = Field(Path("data/audit/audit.jsonl"), description="current audit file; rotated files sit beside it")
    retention_days: float = Field(1096.0, gt=0, description="rotated files older than this are deleted (3 years)")
    max_file_mb: float = Field(10.0, gt=0, description="rotate when the current file reaches this size")
