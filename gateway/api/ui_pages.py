"""The dashboard's page and static files: `GET /` and `/ui/assets/...` (public: they hold no data).

Plain files shipped in the package (gateway/ui/static): HTML, CSS, ES modules and the vendored
chart library, no build step and nothing fetched from elsewhere, so the dashboard works offline.
They are revalidated on every load (`no-cache` with ETags: a 304 costs nothing), so an upgraded
gateway never serves a browser yesterday's script.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI
from starlette.responses import FileResponse, Response
from starlette.staticfiles import StaticFiles

from gateway.api.ui_auth_routes import ui_auth_router
from gateway.api.ui_data_routes import ui_data_router

if TYPE_CHECKING:
    from gateway.ui.dashboard import Dashboard

STATIC_DIR = Path(__file__).resolve().parent.parent / "ui" / "static"
_REVALIDATE = {"Cache-Control": "no-cache"}


class _Assets(StaticFiles):
    def file_response(self, *args: Any, **kwargs: Any) -> Response:
        response = super().file_response(*args, **kwargs)
        response.headers.update(_REVALIDATE)
        return response


def mount_dashboard(app: FastAPI, dash: Dashboard) -> None:
    """Every route of the dashboard: sign-in, its data, its page and static files."""
    app.include_router(ui_auth_router(dash))
    app.include_router(ui_data_router(dash))
    add_ui_pages(app)


def add_ui_pages(app: FastAPI) -> None:
    @app.get("/", include_in_schema=False)
    async def dashboard_page() -> Response:
        return FileResponse(STATIC_DIR / "index.html", media_type="text/html; charset=utf-8", headers=_REVALIDATE)

    app.mount("/ui/assets", _Assets(directory=STATIC_DIR), name="ui-assets")
