"""Wiring of the dashboard into a running gateway: one `install_dashboard` call from the app.

It indexes the model, opens the session store (and tells the access middleware about it), adds the
live hub as a pipeline sink, and mounts the routes: the dashboard's own (gateway/api/ui_*.py) and the
admin audit query (gateway/api/audit_routes.py, served whether the dashboard is on or not).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from fastapi import FastAPI

from gateway.api.audit_routes import audit_router
from gateway.auth.oidc import OidcClient
from gateway.auth.policy import AccessPolicy
from gateway.ui.index import DashboardIndex
from gateway.ui.live import LiveHub
from gateway.ui.sessions import SessionStore

if TYPE_CHECKING:
    from gateway.app import Gateway

log = logging.getLogger(__name__)


class Dashboard:
    def __init__(self, gateway: Gateway, access: AccessPolicy) -> None:
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


def install_dashboard(app: FastAPI, gateway: Gateway, access: AccessPolicy) -> Dashboard | None:
    from gateway.api.ui_auth_routes import ui_auth_router
    from gateway.api.ui_data_routes import ui_data_router
    from gateway.api.ui_pages import add_ui_pages

    app.include_router(audit_router(gateway.audit.path))
    if not gateway.cfg.api.ui.enabled:
        return None
    dash = Dashboard(gateway, access)
    access.sessions = dash.sessions
    gateway.pipeline.add_sink(dash.hub)
    app.include_router(ui_auth_router(dash))
    app.include_router(ui_data_router(dash))
    add_ui_pages(app)
    log.info("dashboard served at / (sign-in with an API key%s)",
             f" or through {dash.oidc.issuer}" if dash.oidc is not None else "")
    return dash
