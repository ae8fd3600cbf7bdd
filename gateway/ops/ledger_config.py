"""The `ledger:` section of the config: the operation-rate ledger (gateway/ops/ledger.py).

Its own module (not gateway/config/) so that the config package imports it without importing the
ledger's machinery, and the ledger never imports the config loader.
"""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator

from connectors.config_base import StrictModel

LEDGER_DIR = "ledger"
LEDGER_FILE = "ledger.jsonl"
HEARTBEAT_FILE = "heartbeat.json"


class LedgerConfig(StrictModel):
    """Records the gateway's own operation (uptime, source and forwarder availability, completeness)."""

    enabled: bool = Field(True, description="keep the operation ledger and publish the OperationRate submodel")
    retention_days: float = Field(1096.0, ge=1, description="ledger files are kept this long (3 years), independent "
                                  "of the historian's sample retention")
    heartbeat_s: float = Field(5.0, ge=0.5, le=60, description="how often the gateway notes that it is alive: a "
                               "crash's downtime is known to within this")
    timezone: str = Field("UTC", description="days and months of the OperationRate submodel (IANA name, e.g. "
                          "Asia/Seoul); the report takes --tz")
    max_file_mb: float = Field(10.0, gt=0, description="rotate the ledger file at this size")
    max_file_days: float = Field(31.0, gt=0, description="... or when its first record is this old")

    @field_validator("timezone")
    @classmethod
    def _zone(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {v!r} (an IANA name such as UTC or Asia/Seoul)") from None
        return v


def ledger_path(data_dir: Path) -> Path:
    """The current ledger file of a data directory (the historian's folder)."""
    return Path(data_dir) / LEDGER_DIR / LEDGER_FILE
