"""Reading a whole ValueOnly document back into a BaSyx element: the inverse of `aas_models.valueonly.to_value`.

The gateway itself writes single Property values only (PATCH $value, `property_value_from_json`);
this reader exists for the tests, which prove with it that every form `to_value` writes reads back
to the same value. It is a partial update for objects (children not named stay as they are, unknown
names are an error) and a full update for lists (the length must match; elements are never created
or deleted). It validates the whole value first and only then assigns, so on error nothing changes.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from typing import Any

from basyx.aas import model
from basyx.aas.adapter import _generic

from aas_models.valueonly import property_value_from_json, to_value


def reference_from_json(j: Any) -> model.Reference:
    if not isinstance(j, dict):
        raise ValueError(f"a Reference must be a JSON object, got {type(j).__name__}")
    try:
        rtype = _generic.REFERENCE_TYPES_INVERSE[j["type"]]
        keys = tuple(model.Key(_generic.KEY_TYPES_INVERSE[k["type"]], k["value"]) for k in j["keys"])
        referred = j.get("referredSemanticId")
        referred_ref = reference_from_json(referred) if referred is not None else None
        if rtype is model.ModelReference:
            return model.ModelReference(keys, model.Referable, referred_ref)  # type: ignore[type-abstract]
        return model.ExternalReference(keys, referred_ref)
    except (KeyError, TypeError) as e:
        raise ValueError(f"malformed Reference {j!r}: missing or unknown {e}") from None


def submodel_value(sm: model.Submodel, level: str = "deep", extent: str = "withBlobValue") -> dict[str, Any]:
    out = to_value(sm, level, extent)
    return out if isinstance(out, dict) else {}


_Apply = Callable[[], None]


def set_from_value(element: model.Submodel | model.SubmodelElement, value: Any) -> None:
    """Write a ValueOnly `value` into `element` in place; ValueError (and no change) if it does not fit."""
    actions: list[_Apply] = []
    _plan(element, value, actions, _label(element))
    for act in actions:
        act()


def _label(obj: Any) -> str:
    return str(obj.id_short or type(obj).__name__)


def _setter(obj: Any, attr: str, v: Any) -> _Apply:
    def apply() -> None:
        setattr(obj, attr, v)

    return apply


def _plan(obj: Any, value: Any, actions: list[_Apply], where: str) -> None:
    if isinstance(obj, model.Property):
        try:
            v = property_value_from_json(value, obj.value_type)
        except ValueError as e:
            raise ValueError(f"{where}: {e}") from None
        actions.append(_setter(obj, "value", v))
    elif isinstance(obj, model.Submodel | model.SubmodelElementCollection):
        if not isinstance(value, dict):
            raise ValueError(f"{where}: needs a JSON object, got {type(value).__name__}")
        children = obj.submodel_element if isinstance(obj, model.Submodel) else obj.value
        for key, v in value.items():
            try:
                child = children.get_object_by_attribute("id_short", key)
            except KeyError:
                raise ValueError(f"{where}: unknown child idShort {key!r}") from None
            _plan(child, v, actions, f"{where}.{key}")
    elif isinstance(obj, model.SubmodelElementList):
        if not isinstance(value, list):
            raise ValueError(f"{where}: needs a JSON array, got {type(value).__name__}")
        if len(value) != len(obj.value):
            raise ValueError(f"{where}: list has {len(obj.value)} elements, value has {len(value)}")
        for i, (child, v) in enumerate(zip(obj.value, value, strict=True)):
            _plan(child, v, actions, f"{where}[{i}]")
    elif isinstance(obj, model.MultiLanguageProperty):
        actions.append(_setter(obj, "value", _mlp_from_json(value, where)))
    elif isinstance(obj, model.Range):
        if not isinstance(value, dict) or not set(value) <= {"min", "max"}:
            raise ValueError(f"{where}: a Range value is an object with 'min' and/or 'max'")
        try:
            lo = property_value_from_json(value.get("min"), obj.value_type)
            hi = property_value_from_json(value.get("max"), obj.value_type)
        except ValueError as e:
            raise ValueError(f"{where}: {e}") from None
        actions.append(_setter(obj, "min", lo))
        actions.append(_setter(obj, "max", hi))
    elif isinstance(obj, model.Blob | model.File):
        _plan_file(obj, value, actions, where)
    elif isinstance(obj, model.ReferenceElement):
        ref = None if value is None else reference_from_json(value)
        actions.append(_setter(obj, "value", ref))
    else:
        raise ValueError(f"{where}: {type(obj).__name__} cannot be written through its value")


def _mlp_from_json(value: Any, where: str) -> model.MultiLanguageTextType | None:
    if value is None:
        return None
    if not isinstance(value, list):
        raise ValueError(f"{where}: a MultiLanguageProperty value is an array of {{language: text}} objects")
    texts: dict[str, str] = {}
    for item in value:
        if not isinstance(item, dict) or len(item) != 1:
            raise ValueError(f"{where}: each entry must be one {{language: text}} object, got {item!r}")
        ((lang, text),) = item.items()
        if not isinstance(text, str) or not isinstance(lang, str):
            raise ValueError(f"{where}: language and text must be strings, got {item!r}")
        if lang in texts:
            raise ValueError(f"{where}: language {lang!r} given twice")
        texts[lang] = text
    if not texts:
        return None
    try:
        return model.MultiLanguageTextType(texts)
    except (ValueError, KeyError) as e:
        raise ValueError(f"{where}: {e}") from None


def _plan_file(obj: model.Blob | model.File, value: Any, actions: list[_Apply], where: str) -> None:
    if not isinstance(value, dict) or not set(value) <= {"contentType", "value"}:
        raise ValueError(f"{where}: a {type(obj).__name__} value is an object with 'contentType' and 'value'")
    ct = value.get("contentType", obj.content_type)
    if ct is not None and (not isinstance(ct, str) or not ct):
        raise ValueError(f"{where}: contentType must be a non-empty string")
    v = value.get("value")
    if v is not None and not isinstance(v, str):
        raise ValueError(f"{where}: value must be a string")
    if isinstance(obj, model.Blob):
        data: bytes | None = None
        if v is not None:
            try:
                data = base64.b64decode(v, validate=True)
            except (binascii.Error, ValueError):
                raise ValueError(f"{where}: Blob value is not base64") from None
        actions.append(_setter(obj, "content_type", ct))
        actions.append(_setter(obj, "value", data))
    else:
        actions.append(_setter(obj, "content_type", ct))
        actions.append(_setter(obj, "value", v))
