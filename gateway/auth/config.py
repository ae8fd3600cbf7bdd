"""Settings of REST authentication, TLS and CORS (the `api:` section of the gateway config)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ApiAuthConfig(_Strict):
    anonymous_read: bool = False


class ApiTlsConfig(_Strict):
    certificate: str
    private_key: str


class CorsConfig(_Strict):
    allow_origins: list[str] = []
