"""Settings of the operator's dashboard (`api.ui` in the gateway config)."""

from __future__ import annotations

from pydantic import Field

from connectors.config_base import StrictModel
from gateway.auth.config import OidcConfig


class UiConfig(StrictModel):
    enabled: bool = Field(True, description="serve the dashboard at / (the API is unaffected)")
    session_idle_minutes: float = Field(
        60.0, gt=0, le=7 * 24 * 60,
        description="a session ends after this long without a request of its user (the live stream does not count)")
    session_max_hours: float = Field(12.0, gt=0, le=24 * 30, description="a session ends this long after sign-in")
    max_sessions: int = Field(1000, ge=1, le=100_000, description="sessions kept at once; the oldest end first")
    oidc: OidcConfig | None = Field(
        None, description="sign-in through the IdP of api.auth.jwt (authorization code flow with PKCE)")
