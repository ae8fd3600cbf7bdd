"""The gateway's OPC UA PKI: its own application instance certificate and the server trust list.

(Being built for issue 5; the interface is fixed, see `Pki`.)
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field


class PkiConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    path: Path = Field(Path("data/pki"), description="PKI folder: own/, trusted/, rejected/")
    application_uri: str | None = Field(None, description="default: urn:<hostname>:aas-edge-gateway")
