"""The Normal JSON of a whole submodel, serialised once and patched only where the model changed.

Why: `GET /submodels/{id}` is what an MES or dashboard polls for a machine's whole state, and BaSyx's
encoder spends ~1.4 ms of CPU on the 24 KB OperationalData of the demo's CNC machine. Under ingest the
values change many times a second, so a cache of the whole answer alone would rarely hit. Instead the
answer is split once into its static skeleton (the submodel and its collections as JSON text, with a
hole for each leaf element) and one fragment per leaf, and each request re-encodes only the leaves
whose state changed since the answer before. The bytes are those `encoding.json_response` writes for
the same submodel (`tests/api/test_submodel_cache.py` holds them byte-identical after live updates of
every value type).

What "changed" means, and why there is no version counter: an element's fingerprint is the identity
of every attribute it holds (its `__dict__`: value, a BasicEventElement's lastUpdate, ...) and of its
qualifiers' values. Every writer of the live model assigns new objects: the pipeline's live-model
sink, the status submodel's refresh, the detection producer stamping an event's lastUpdate. So any
write is seen here without the writer knowing of this cache, where a counter bumped by the live sink
alone would miss the last two. Identity, not equality: `0.0 == -0.0`, `Decimal("1.0") ==
Decimal("1.00")` and `1 == True`, yet each serialises differently. A fingerprint keeps the objects it
saw alive, so no new object can reuse one of their ids while it is compared.

Structure: the children of collections, lists and entities are fixed once the model is built, except
below a point's list or structure collection (`_live_dynamic`, see `aas_models.elements`): those
elements are re-encoded on every request. A container whose own state or number of children changes
anyway rebuilds the skeleton. What the fingerprint cannot see is a mutable attribute value changed in
place (a description's dict edited rather than replaced); nothing in the gateway does that.
"""

from __future__ import annotations

import re
import secrets
from operator import is_
from typing import Any

from basyx.aas import model

from gateway.api import encoding as enc

_CONTAINERS = (model.Submodel, model.SubmodelElementCollection, model.SubmodelElementList, model.Entity,
               model.AnnotatedRelationshipElement)


class _Watched:
    """An element and the objects its JSON was last written from (its attributes, its qualifiers')."""

    __slots__ = ("element", "qualifiable", "qualifiers", "state")

    def __init__(self, element: model.Referable) -> None:
        self.element = element
        self.qualifiable = isinstance(element, model.Qualifiable)
        self.qualifiers: list[model.Qualifier] = []
        self.state: list[object] = []

    def changed(self) -> bool:
        """Whether any attribute of the element or of its qualifiers is another object than last time."""
        el: Any = self.element
        quals = self.qualifiers
        if self.qualifiable and len(el.qualifier) != len(quals):
            self.qualifiers = quals = list(el.qualifier)
        state = list(el.__dict__.values())
        for q in quals:
            state.extend(q.__dict__.values())
            # the live qualifiers keep their value in a slot, outside __dict__ (aas_models.live._LiveQualifier)
            state.append(q.value)
        old = self.state
        if len(state) == len(old) and all(map(is_, state, old)):
            return False
        self.state = state  # keeps the objects alive: no new object can take one of their ids
        return True


class _Container(_Watched):
    __slots__ = ("count",)

    def __init__(self, element: model.Referable) -> None:
        super().__init__(element)
        self.changed()
        self.count = len(enc.children(element))

    def intact(self) -> bool:
        return not self.changed() and len(enc.children(self.element)) == self.count


class _Leaf(_Watched):
    __slots__ = ("always",)

    def __init__(self, element: model.SubmodelElement) -> None:
        super().__init__(element)
        # a point's list or structure collection: the elements below it follow the data
        self.always = bool(getattr(element, "_live_dynamic", False))


class _Skeleton:
    """One submodel's answer: static JSON text with a fragment per leaf element spliced in."""

    __slots__ = ("body", "containers", "encoder", "leaves", "parts", "submodel")

    def __init__(self, submodel: model.Submodel, encoder: type[enc.Encoder]) -> None:
        self.submodel = submodel
        self.encoder = encoder
        self.containers: list[_Container] = []
        self.leaves: list[_Leaf] = []
        nonce = secrets.token_hex(8)
        containers, leaves = self.containers, self.leaves

        class Holes(encoder):  # type: ignore[misc, valid-type]
            """Writes a marker string in place of every leaf element; notes every container on the way."""

            def default(self, obj: object) -> object:
                if isinstance(obj, model.SubmodelElement) and (
                        not isinstance(obj, _CONTAINERS) or getattr(obj, "_live_dynamic", False)):
                    leaves.append(_Leaf(obj))
                    return f"\x00{nonce}:{len(leaves) - 1}"
                if isinstance(obj, _CONTAINERS):
                    containers.append(_Container(obj))
                return super().default(obj)

        text = enc.dumps(submodel, Holes)
        # json writes the marker's NUL as \u0000; a string from the model cannot hold this nonce
        pieces = re.split(r'"\\u0000' + nonce + r':(\d+)"', text)
        if [int(i) for i in pieces[1::2]] != list(range(len(leaves))):
            raise AssertionError("submodel skeleton: leaf markers out of order")  # cannot happen with json
        self.parts: list[bytes] = [b""] * len(pieces)
        self.parts[0::2] = [p.encode() for p in pieces[0::2]]
        self.body: bytes | None = None

    def intact(self) -> bool:
        return all(c.intact() for c in self.containers)

    def render(self) -> bytes:
        parts = self.parts
        fresh = False
        for i, leaf in enumerate(self.leaves):
            if leaf.changed() or leaf.always:
                parts[2 * i + 1] = enc.dumps(leaf.element, self.encoder).encode()
                fresh = True
        if fresh or self.body is None:
            self.body = b"".join(parts)
        return self.body


class SubmodelJsonCache:
    """`GET /submodels/{id}` at level=deep: the bytes of `enc.json_response(submodel, with_blob=...)`."""

    def __init__(self) -> None:
        self._skeletons: dict[tuple[str, bool], _Skeleton] = {}

    def normal(self, submodel: model.Submodel, with_blob: bool) -> bytes:
        key = (submodel.id, with_blob)
        skeleton = self._skeletons.get(key)
        if skeleton is None or skeleton.submodel is not submodel or not skeleton.intact():
            skeleton = _Skeleton(submodel, enc.encoder(with_blob))
            self._skeletons[key] = skeleton
        return skeleton.render()
