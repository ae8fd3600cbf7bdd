"""Serve the API test model with uvicorn: `python -m tests.api.serve PORT` (for manual conformance runs)."""

from __future__ import annotations

import sys

import uvicorn

from gateway.api import create_app
from gateway.auth.policy import AccessPolicy
from tests.api.model_data import build_repository

if __name__ == "__main__":
    app = create_app(build_repository(), access=AccessPolicy.open_for_tests())
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
