"""The dashboard's state in a running gateway: its model index, sessions, live hub and OIDC client.

`gateway.app` builds it when `api.ui.enabled`, tells the access middleware about the sessions, adds
the hub as a pipeline consumer and mounts the routes (gateway/api/ui_*.py).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from gateway.auth.oidc import OidcClient
from gateway.auth.policy import AccessPolicy
from gateway.ui.index import DashboardIndex
from gateway.ui.live import LiveHub
from gateway.ui.sessions import SessionStore

if TYPE_CHECKING:
    from gateway.ui.view import GatewayView

log = logging.getLogger(__name__)


class Dashboard:
    def __init__(self, gateway: GatewayView, access: AccessPolicy) -> None:
        cfg = gateway.cfg.api.ui
        self.gateway = gateway
        self.access = access
        self.index = DashboardIndex(gateway)
        self.sessions = SessionStore(access, cfg.session_idle_minutes * 60, cfg.session_max_hours * 3600,
                                     cfg.max_sessions)
        self.hub = LiveHub(self.index)
        jwt_cfg = gateway.cfg.api.auth.jwt
        self.oidc = (OidcClient(cfg.oidc, jwt_cfg.issuer, access.jwt)
                     if cfg.oidc is not None and jwt_cfg is not None and access.jwt is not None else None)

    def close(self) -> None:
        """End the live streams, so that the API server stops at once."""
        self.hub.close()
