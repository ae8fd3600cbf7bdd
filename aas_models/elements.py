"""The AAS element a point of each type becomes, and how a coerced value fills it in place.

`new_element` makes the element at build time from the configured type alone (`aas_models.pointtypes`):
a Property, a MultiLanguageProperty, an empty SubmodelElementCollection (a structure: the server's
definition is not known before its first value) or a SubmodelElementList whose items match the type
(Property items carry ``valueTypeListElement``; a two-dimensional array is a list of lists).

`fill` writes a value as `aas_models.datatypes.coercer` returns it (the ValueOnly JSON form for
everything but scalar Properties) into such an element: a list grows or shrinks to the length of
the data, a structure's collection gets one child per field (named and typed by the
`StructureValue`'s ``types``) on its first value and again only when the structure's fields change;
otherwise values are set in place. Lists and structure collections are marked with
``_live_dynamic`` because the elements below them come and go with the data (the API's `$value`
shortcut must not cache them).
"""

from __future__ import annotations

from typing import Any

from basyx.aas import model

from aas_models.datatypes import StructureValue
from aas_models.pointtypes import PointType, parse_point_type
from aas_models.valueonly import property_value_from_json

_ELEMENT_CLASSES: dict[str, type[model.SubmodelElement]] = {
    "Property": model.Property,
    "MultiLanguageProperty": model.MultiLanguageProperty,
    "SubmodelElementCollection": model.SubmodelElementCollection,
}


def xs_class(value_type: str) -> type:
    """BaSyx datatype class of an xs: type name (aliases accepted)."""
    vt = parse_point_type(value_type).value_type
    if vt is None:
        raise ValueError(f"{value_type} has no xs valueType (it is not a Property)")
    return model.datatypes.XSD_TYPE_CLASSES[vt]


def new_element(id_short: str | None, t: PointType, **kwargs: Any) -> model.SubmodelElement:
    """An empty element for values of type `t` (`kwargs`: description, semantic_id, qualifier ...)."""
    el: model.SubmodelElement
    if t.rank:
        item = t.item()
        if item.rank:
            el = model.SubmodelElementList(id_short, model.SubmodelElementList, **kwargs)
        elif item.element == "Property":
            el = model.SubmodelElementList(id_short, model.Property, value_type_list_element=xs_class(item.name),
                                           **kwargs)
        else:
            el = model.SubmodelElementList(id_short, _ELEMENT_CLASSES[item.element], **kwargs)
        el._live_dynamic = True  # type: ignore[attr-defined]
    elif t.element == "Property":
        el = model.Property(id_short, xs_class(t.name), **kwargs)
    elif t.element == "MultiLanguageProperty":
        el = model.MultiLanguageProperty(id_short, **kwargs)
    else:
        el = model.SubmodelElementCollection(id_short, **kwargs)
        el._live_dynamic = True  # type: ignore[attr-defined]
    el._point_type = t  # type: ignore[union-attr]
    return el


def point_type_of(el: model.SubmodelElement) -> PointType:
    """The type an element was made for (guessed from its kind if it was not made by `new_element`)."""
    t = getattr(el, "_point_type", None)
    if t is not None:
        return t
    if isinstance(el, model.SubmodelElementList):
        if el.type_value_list_element is model.Property and el.value_type_list_element is not None:
            vt = model.datatypes.XSD_TYPE_NAMES[el.value_type_list_element]
            return PointType(vt, 1)
        if el.type_value_list_element is model.MultiLanguageProperty:
            return PointType("LocalizedText", 1)
        return PointType("Structure", 1)
    if isinstance(el, model.MultiLanguageProperty):
        return PointType("LocalizedText")
    if isinstance(el, model.Property):
        return PointType(model.datatypes.XSD_TYPE_NAMES[el.value_type])
    return PointType("Structure")


def fill(el: model.SubmodelElement, t: PointType, value: Any) -> None:
    """Write the coerced `value` into `el` (made for type `t`); TypeError/ValueError if it does not fit."""
    if isinstance(el, model.Property):
        el.value = property_value_from_json(value, el.value_type)
    elif isinstance(el, model.MultiLanguageProperty):
        el.value = _mlp_value(value)
    elif isinstance(el, model.SubmodelElementList):
        _fill_list(el, t, value)
    elif isinstance(el, model.SubmodelElementCollection):
        _fill_structure(el, value)
    else:
        raise TypeError(f"a {type(el).__name__} cannot hold a point's value")


def _mlp_value(value: Any) -> model.MultiLanguageTextType | None:
    if value is None:
        return None
    if not isinstance(value, list):
        raise TypeError(f"a LocalizedText value is a list of {{language: text}}, got {type(value).__name__}")
    texts: dict[str, str] = {}
    for item in value:
        texts.update(item)
    return model.MultiLanguageTextType(texts) if texts else None


def _fill_list(el: model.SubmodelElementList, t: PointType, value: Any) -> None:
    items = el.value
    if value is None:
        del items[0:len(items)]
        return
    if not isinstance(value, list):
        raise TypeError(f"an array value must be a list, got {type(value).__name__}")
    item_t = t.item()
    n = len(value)
    if len(items) > n:
        del items[n:len(items)]
    while len(items) < n:
        items.add(new_element(None, item_t))
    for child, v in zip(items, value, strict=True):
        fill(child, item_t, v)


def _fill_structure(el: model.SubmodelElementCollection, value: Any) -> None:
    if value is None:
        for _, child, ct in getattr(el, "_live_children", ()):
            fill(child, ct, None)
        return
    if not isinstance(value, StructureValue):
        raise TypeError(f"a structure value must be a StructureValue, got {type(value).__name__}")
    types = value.types
    if getattr(el, "_live_types", None) is not types:
        if getattr(el, "_live_types", None) != types:
            _rebuild(el, types)
        el._live_types = types  # type: ignore[attr-defined]
    for key, child, ct in el._live_children:  # type: ignore[attr-defined]
        fill(child, ct, value.get(key))


def _rebuild(el: model.SubmodelElementCollection, types: dict[str, PointType] | Any) -> None:
    """New children for a structure whose fields are not those the collection has (first value, new type)."""
    el.value.clear()
    children = []
    for key, ct in types.items():
        child = new_element(key, ct)
        el.value.add(child)
        children.append((key, child, ct))
    el._live_children = children  # type: ignore[attr-defined]
