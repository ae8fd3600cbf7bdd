"""FastAPI dependencies that turn the ids in a URL into model objects (or a 400/404 Result)."""

from __future__ import annotations

from typing import Annotated

from basyx.aas import model
from fastapi import Path

from aas_models.repository import ModelRepository
from gateway.api.errors import NotFound
from gateway.api.ids import decode_id
from gateway.api.shell_routes import ShellDep
from gateway.api.submodel_routes import SubmodelDep

AasIdentifier = Annotated[str, Path(description="The shell's id, base64url-encoded (no padding)")]
SubmodelIdentifier = Annotated[str, Path(description="The submodel's id, base64url-encoded (no padding)")]

# Dependencies are `async def` on purpose: FastAPI runs plain `def` dependencies in a thread,
# and the model is only safe to read on the event loop that mutates it.


def shell_by_id(repo: ModelRepository) -> ShellDep:
    async def find_shell(aasIdentifier: AasIdentifier) -> model.AssetAdministrationShell:
        aas_id = decode_id(aasIdentifier, "AAS identifier")
        shell = repo.shell(aas_id)
        if shell is None:
            raise NotFound(f"No shell with id {aas_id!r}")
        return shell

    return find_shell


def submodel_by_id(repo: ModelRepository) -> SubmodelDep:
    async def find_submodel(submodelIdentifier: SubmodelIdentifier) -> model.Submodel:
        sm_id = decode_id(submodelIdentifier, "submodel identifier")
        submodel = repo.submodel(sm_id)
        if submodel is None:
            raise NotFound(f"No submodel with id {sm_id!r}")
        return submodel

    return find_submodel


def submodel_of_shell(repo: ModelRepository) -> SubmodelDep:
    """A submodel reached through a shell: only those the shell references exist there."""
    find_shell = shell_by_id(repo)

    async def find_shell_submodel(
        aasIdentifier: AasIdentifier, submodelIdentifier: SubmodelIdentifier
    ) -> model.Submodel:
        shell = await find_shell(aasIdentifier)
        sm_id = decode_id(submodelIdentifier, "submodel identifier")
        if not any(ref.key and ref.key[0].value == sm_id for ref in shell.submodel):
            raise NotFound(f"The shell {shell.id!r} references no submodel {sm_id!r}")
        submodel = repo.submodel(sm_id)
        if submodel is None:
            raise NotFound(f"No submodel with id {sm_id!r}")
        return submodel

    return find_shell_submodel
