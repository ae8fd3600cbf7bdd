"""AAS Part 2 HTTP/REST API of the gateway (FastAPI), serving a ModelRepository."""

from gateway.api.app import create_app
from gateway.api.history import HistoryBackend

__all__ = ["HistoryBackend", "create_app"]
