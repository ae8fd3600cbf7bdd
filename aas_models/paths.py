"""idShortPath parsing and resolution (IDTA-01002 Part 2), e.g. ``a.b[0].c``.

BaSyx resolves idShort lists but knows neither the textual path syntax nor
Entity statements and relationship annotations as path steps; the REST API
needs all of them, with a 400 for a malformed path and a 404 for a missing
element, so both cases raise distinct exceptions here.
"""

from __future__ import annotations

import re

from basyx.aas import model

# the OpenAPI PathItem pattern (digest section 1.1), split into its tokens
_FIRST = re.compile(r"[A-Za-z][A-Za-z0-9_]+|\[[0-9]+\]")
_NEXT = re.compile(r"\.([A-Za-z][A-Za-z0-9_]+)|\[([0-9]+)\]")
_SINGLE = re.compile(r"[A-Za-z]")  # one-letter idShorts are valid AAS idShorts; the OpenAPI regex forgets them
PathSegment = str | int


def parse_id_short_path(text: str) -> list[PathSegment]:
    """``a.b[0].c`` -> ``["a", "b", 0, "c"]``; raises ValueError on a malformed path.

    The text must already be URL-decoded. Accepts the OpenAPI pattern plus
    one-letter idShorts (valid per AASd-002).
    """
    if not text:
        raise ValueError("idShortPath is empty")
    out: list[PathSegment] = []
    m = _FIRST.match(text) or _SINGLE.match(text)
    if m is None:
        raise ValueError(f"malformed idShortPath {text!r}: must start with an idShort (letter first) or [index]")
    tok = m.group(0)
    out.append(int(tok[1:-1]) if tok.startswith("[") else tok)
    pos = m.end()
    while pos < len(text):
        m = _NEXT.match(text, pos)
        if m is None:
            # single-letter idShort after a dot
            if text[pos] == "." and pos + 1 < len(text) and _SINGLE.match(text, pos + 1):
                end = pos + 2
                if end == len(text) or text[end] in ".[":
                    out.append(text[pos + 1])
                    pos = end
                    continue
            raise ValueError(
                f"malformed idShortPath {text!r} at position {pos}: expected '.idShort' or '[index]', "
                f"got {text[pos : pos + 10]!r}"
            )
        out.append(m.group(1) if m.group(1) is not None else int(m.group(2)))
        pos = m.end()
    return out


def format_id_short_path(segments: list[PathSegment]) -> str:
    parts: list[str] = []
    for s in segments:
        if isinstance(s, int):
            parts.append(f"[{s}]")
        else:
            parts.append(f".{s}" if parts else s)
    return "".join(parts)


def _child(parent: object, seg: PathSegment) -> model.SubmodelElement:
    if isinstance(parent, model.SubmodelElementList):
        if not isinstance(seg, int):
            raise KeyError(f"{seg!r}: elements of a SubmodelElementList are addressed by [index]")
        if seg >= len(parent.value):
            raise KeyError(f"[{seg}]: list has {len(parent.value)} elements")
        return parent.value[seg]
    if isinstance(seg, int):
        raise KeyError(f"[{seg}]: only SubmodelElementList children have an index")
    children: model.NamespaceSet | None
    if isinstance(parent, model.Submodel):
        children = parent.submodel_element
    elif isinstance(parent, model.SubmodelElementCollection):
        children = parent.value
    elif isinstance(parent, model.Entity):
        children = parent.statement
    elif isinstance(parent, model.AnnotatedRelationshipElement):
        children = parent.annotation
    else:
        children = None
    if children is None:
        raise KeyError(f"{seg!r}: {type(parent).__name__} has no child elements")
    try:
        return children.get_object_by_attribute("id_short", seg)
    except KeyError:
        raise KeyError(f"{seg!r} not found") from None


def resolve(submodel: model.Submodel, path: str | list[PathSegment]) -> model.SubmodelElement:
    """The element at `path` in `submodel`; ValueError if malformed, KeyError if not found."""
    segments = parse_id_short_path(path) if isinstance(path, str) else path
    if not segments:
        raise ValueError("idShortPath is empty")
    node: object = submodel
    for i, seg in enumerate(segments):
        try:
            node = _child(node, seg)
        except KeyError as e:
            where = format_id_short_path(segments[: i + 1])
            raise KeyError(f"no element at {where!r} in submodel {submodel.id!r}: {e.args[0]}") from None
    assert isinstance(node, model.SubmodelElement)
    return node


def element_path(element: model.Referable) -> str:
    """The idShortPath of `element` inside its submodel (for `$path` responses)."""
    segments: list[PathSegment] = []
    node: model.Referable | None = element
    while node is not None and not isinstance(node, model.Submodel):
        parent = node.parent
        if isinstance(parent, model.SubmodelElementList):
            segments.append(_index_in(parent, node))
        elif node.id_short is not None:
            segments.append(node.id_short)
        else:
            raise ValueError(f"element {node!r} has neither an idShort nor a list parent")
        node = parent if isinstance(parent, model.Referable) else None
    if node is None:
        raise ValueError("element is not part of a submodel")
    return format_id_short_path(list(reversed(segments)))


def _index_in(lst: model.SubmodelElementList, element: model.Referable) -> int:
    for i, e in enumerate(lst.value):
        if e is element:
            return i
    raise ValueError("element not found in its parent list")
