"""Turning model objects into response bytes for each content kind (normal, $metadata, $reference, ...).

Normal JSON goes through BaSyx's encoder straight into `json.dumps`, so every
response is serialised once; FastAPI's response-model validation would walk
the same data a second time for nothing. ValueOnly comes from
`aas_models.valueonly`, idShortPaths from `aas_models.paths`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from basyx.aas import model
from starlette.responses import Response

from aas_models import paths as aas_paths
from aas_models import valueonly
from aas_models.basyx_adapters import json_adapter
from gateway.api.errors import NotFound
from gateway.api.modifiers import Level


class Encoder(json_adapter.AASToJsonEncoder):
    """BaSyx's encoder, minus its one schema violation: BaSyx 2.2 writes `"specificAssetIds": []`
    for every Entity, and the JSON schema forbids empty arrays."""

    @classmethod
    def _entity_to_json(cls, obj: model.Entity) -> dict[str, object]:
        data = super()._entity_to_json(obj)
        if not data.get("specificAssetIds", True):
            del data["specificAssetIds"]
        return data


class _WithoutBlobEncoder(Encoder):
    """extent=withoutBlobValue: a Blob keeps its contentType, its bytes stay out."""

    @classmethod
    def _blob_to_json(cls, obj: model.Blob) -> dict[str, object]:
        data = super()._blob_to_json(obj)
        data.pop("value", None)
        return data


def encoder(with_blob: bool) -> type[Encoder]:
    return Encoder if with_blob else _WithoutBlobEncoder


def dumps(data: Any, cls: type[json.JSONEncoder]) -> str:
    """The one way response JSON is written (compact, UTF-8): `submodel_cache` splices pieces of it."""
    return json.dumps(data, cls=cls, separators=(",", ":"), ensure_ascii=False)


def json_response(data: Any, *, with_blob: bool = False, status: int = 200) -> Response:
    body = dumps(data, encoder(with_blob)).encode()
    return Response(body, status_code=status, media_type="application/json")


# --- children ------------------------------------------------------------------------------------------------

_CHILD_KEYS: dict[type, str] = {
    model.Submodel: "submodelElements",
    model.SubmodelElementCollection: "value",
    model.SubmodelElementList: "value",
    model.Entity: "statements",
    model.AnnotatedRelationshipElement: "annotations",
}


def children(obj: model.Referable) -> list[model.SubmodelElement]:
    """Direct children in model order (the order the API pages through)."""
    if isinstance(obj, model.Submodel):
        return list(obj.submodel_element)
    if isinstance(obj, model.SubmodelElementCollection | model.SubmodelElementList):
        return list(obj.value)
    if isinstance(obj, model.Entity):
        return list(obj.statement)
    if isinstance(obj, model.AnnotatedRelationshipElement):
        return list(obj.annotation)
    return []


def _child_key(obj: object) -> str | None:
    for cls, key in _CHILD_KEYS.items():
        if isinstance(obj, cls):
            return key
    return None


def is_container(obj: object) -> bool:
    return isinstance(obj, model.SubmodelElementCollection | model.SubmodelElementList | model.Entity)


# --- normal ----------------------------------------------------------------------------------------------------


def _without_children(obj: model.Referable, enc: Encoder) -> Any:
    data = enc.default(obj)
    key = _child_key(obj)
    if key is not None and isinstance(data, dict):
        data.pop(key, None)
    return data


def normal(obj: model.Referable, level: Level, with_blob: bool) -> Any:
    """What `json.dumps(..., cls=encoder(with_blob))` turns into the Normal serialisation.

    level=core keeps the direct children but drops what lies below them.
    """
    if level is Level.deep:
        return obj
    key = _child_key(obj)
    if key is None:
        return obj
    enc = encoder(with_blob)()
    data = enc.default(obj)
    assert isinstance(data, dict)
    if key in data:
        data[key] = [_without_children(child, enc) for child in children(obj)]
    return data


# --- $metadata ----------------------------------------------------------------------------------------------

# everything that is value or children; the rest (including mandatory attributes such as
# valueType, contentType, entityType, first/second) is metadata
_VALUE_KEYS: dict[type, tuple[str, ...]] = {
    model.Submodel: ("submodelElements",),
    model.SubmodelElementCollection: ("value",),
    model.SubmodelElementList: ("value",),
    # globalAssetId/specificAssetIds stay: AASd-014 requires them on a SelfManagedEntity
    model.Entity: ("statements",),
    model.AnnotatedRelationshipElement: ("annotations",),
    model.Property: ("value", "valueId"),
    model.MultiLanguageProperty: ("value", "valueId"),
    model.Range: ("min", "max"),
    model.Blob: ("value",),
    model.File: ("value",),
    model.ReferenceElement: ("value",),
    model.Operation: ("inputVariables", "outputVariables", "inoutputVariables"),
}


def has_metadata_content(obj: object) -> bool:
    """Operations and Capabilities have no separate metadata view in Part 2 ($metadata is not applicable)."""
    return not isinstance(obj, model.Operation | model.Capability)


def metadata(obj: model.Referable) -> Any:
    data = Encoder().default(obj)
    assert isinstance(data, dict)
    for cls, keys in _VALUE_KEYS.items():
        if isinstance(obj, cls):
            for key in keys:
                data.pop(key, None)
    return data


# --- $reference, $path, $value ------------------------------------------------------------------------------


def reference(obj: model.Referable) -> model.ModelReference[Any]:
    return model.ModelReference.from_referable(obj)


def _walk(obj: model.Referable, deep: bool) -> Iterator[model.SubmodelElement]:
    for child in children(obj):
        yield child
        if deep:
            yield from _walk(child, deep)


def element_paths(obj: model.Referable, level: Level, include_self: bool) -> list[str]:
    """idShortPaths of `obj` (if an element) and everything below it (level=core: direct children only)."""
    found = [aas_paths.element_path(obj)] if include_self else []
    found += [aas_paths.element_path(e) for e in _walk(obj, level is Level.deep)]
    return found


def has_value_content(obj: object) -> bool:
    return not isinstance(obj, model.Operation | model.Capability)


def _extent(with_blob: bool) -> str:
    return "withBlobValue" if with_blob else "withoutBlobValue"


def value_of(obj: model.Submodel | model.SubmodelElement, level: Level, with_blob: bool) -> Any:
    """The unnamed ValueOnly form (a Submodel's `$value`)."""
    if not has_value_content(obj):
        raise NotFound(f"A {type(obj).__name__} has no value (content '$value' does not apply)")
    return valueonly.to_value(obj, level=level.value, extent=_extent(with_blob))


def element_value(element: model.SubmodelElement, level: Level, with_blob: bool) -> Any:
    """An element's `$value`: named `{"idShort": value}` as Part 2 v3.0 serialises every element.

    Part 1 v3.1 would allow a bare value for a Property, but a bare number is not the JSON
    object or array that v3.0 clients (and aas-test-engines) expect. Items of a list have no
    idShort in v3.0, so they stay unnamed.
    """
    value = value_of(element, level, with_blob)
    if element.id_short is None or isinstance(element.parent, model.SubmodelElementList):
        return value
    return {element.id_short: value}


def named_value(element: model.SubmodelElement, level: Level, with_blob: bool) -> dict[str, Any] | None:
    """`{"idShort": value}` for element lists; None for elements ValueOnly leaves out."""
    if not has_value_content(element):
        return None
    value = valueonly.to_value(element, level=level.value, extent=_extent(with_blob))
    if value is None:
        return None
    key = element.id_short if element.id_short is not None else aas_paths.element_path(element)
    return {key: value}
