"""Service descriptions: which Part 2 profiles each service URL implements.

Clients and aas-test-engines look for the exact profile id string, and the
spec asks for every major version, so the 3.0 and 3.1 ids are both listed.
"""

from __future__ import annotations

from pydantic import BaseModel

_PREFIX = "https://admin-shell.io/aas/API"
_VERSIONS = ("3/0", "3/1")


def _read_profiles(spec: str) -> list[str]:
    return [f"{_PREFIX}/{v}/{spec}ServiceSpecification/SSP-002" for v in _VERSIONS]


REPOSITORY_PROFILES = _read_profiles("AssetAdministrationShellRepository") + _read_profiles("SubmodelRepository")
AAS_SERVICE_PROFILES = _read_profiles("AssetAdministrationShell")
SUBMODEL_SERVICE_PROFILES = _read_profiles("Submodel")


class ServiceDescription(BaseModel):
    profiles: list[str]


def description(profiles: list[str]) -> dict[str, list[str]]:
    return {"profiles": list(profiles)}
