"""The AAS edge gateway: configuration, pipeline, historian, API and wiring."""

__version__ = "0.1.0"
