"""Serve the API test model with uvicorn: `python -m tests.api.serve PORT` (for manual conformance runs)."""

from __future__ import annotations

import sys

import uvicorn

from gateway.api import create_app
from tests.api.model_data import build_repository
from tests.api.open_policy import open_policy

if __name__ == "__main__":
    app = create_app(build_repository(), access=open_policy())
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
