"""Structures (ExtensionObjects) decoded with the server's own DataTypeDefinitions, per session.

A vendor structure arrives as an ExtensionObject: an encoding NodeId and a binary body that only the
server's DataTypeDefinition (OPC UA 1.04+, Part 3 8.48) explains. `StructureDecoder` reads the
definitions of the data types the configured structure points use (and, transitively, of their
fields' types) when a session starts, and decodes bodies field by field into `StructValue`s.

Why not asyncua's ``Client.load_data_type_definitions()``: it browses the server's whole type tree
(one Browse per DataType node, every structure and enumeration of every namespace, on each call),
which on a PLC with thousands of UDTs is a flood of requests at every reconnect; and it registers
generated classes in asyncua's process-wide registry keyed by NodeId, so two servers whose
structures share a NodeId (ns=3;i=3001 on two PLCs of one vendor is common) decode each other's
values, and a vendor type named like a standard one replaces it by name. This decoder reads only
what the points need, keeps everything per session (a reconnect reloads: a PLC download may have
changed the types), and never touches asyncua's registry.

Failures stay local: a type whose definition cannot be read makes only its points bad (the source
marks them BadDataTypeIdUnknown); a value whose encoding is unknown or whose body does not decode
is kept losslessly as ``{"typeId": "<encoding NodeId>", "body": <bytes>}`` (`OpaqueStructure`),
which the source marks Uncertain. Unknown encodings seen in values (a subtype of the variable's
type, a structure inside a Variant) are looked up later by `resolve_misses`.
"""

from __future__ import annotations

import dataclasses
import logging
import struct
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from asyncua import Client, ua
from asyncua.common.utils import Buffer
from asyncua.ua import ua_binary

import connectors.opcua.codec  # noqa: F401  (Part 6 DataValue order before any asyncua use)
from connectors.opcua.limits import call_chunked
from connectors.opcua.values import OpaqueStructure, StructValue, plain_value

log = logging.getLogger(__name__)

_STRUCTURE = ua.NodeId(ua.ObjectIds.Structure)  # type: ignore[arg-type]  # asyncua int subtype
_BASE_DATA_TYPE = 24
_ABSTRACT_VARIANT = {24, 26, 27, 28}  # BaseDataType, Number, Integer, UInteger: encoded as a Variant
_ENUMERATION = 29
_HAS_ENCODING = ua.NodeId(ua.ObjectIds.HasEncoding)  # type: ignore[arg-type]  # asyncua int subtype
_HAS_SUBTYPE = ua.NodeId(ua.ObjectIds.HasSubtype)  # type: ignore[arg-type]  # asyncua int subtype
_DEFAULT_BINARY = "Default Binary"
_MAX_ROUNDS = 16  # nesting depth of structure definitions we follow
_BROWSE_CHUNK = 200

Reader = Callable[[Buffer], Any]
DecodeExtension = Callable[[Any], Any]


class StructureLoadError(Exception):
    """The definition of a data type (or of one of its fields' types) could not be read."""


@dataclass
class _Field:
    name: str
    type_text: str  # "Double", "Int32[]", "Structure", "LocalizedText[][]" ...
    optional: bool
    reader: Reader | None = None


@dataclass
class _Struct:
    name: str
    data_type: ua.NodeId
    encoding: ua.NodeId
    kind: int  # ua.StructureType value
    fields: list[_Field] = field(default_factory=list)
    field_types: dict[str, str] = field(default_factory=dict)


@dataclass
class _TypeInfo:
    """What a data type NodeId turned out to be."""

    kind: str  # "builtin", "struct", "enum", "class" (ns=0 structure asyncua knows), "alias" (subtype of another)
    variant_type: ua.VariantType | None = None
    struct: _Struct | None = None
    cls: type | None = None
    alias_of: ua.NodeId | None = None
    definition: ua.StructureDefinition | None = None
    name: str = ""


class StructureDecoder:
    """The structure definitions of one session and the decoding of ExtensionObjects with them."""

    def __init__(self, client: Client, max_nodes_per_read: int, name: str) -> None:
        self._client = client
        self._max_read = max_nodes_per_read
        self._name = name
        self._types: dict[ua.NodeId, _TypeInfo] = {}
        self._failed: dict[ua.NodeId, str] = {}  # data type -> why it could not be loaded
        self.by_encoding: dict[ua.NodeId, _Struct] = {}
        self.misses: set[ua.NodeId] = set()  # encodings seen in values but not known (yet)
        self._given_up: set[ua.NodeId] = set()
        self.requests = 0  # service calls spent loading definitions (reported, and asserted by tests)

    # --- loading --------------------------------------------------------------------------------------

    async def load(self, data_types: Iterable[ua.NodeId]) -> dict[ua.NodeId, str]:
        """Load these data types and everything their fields need; returns {data type: why not} for failures."""
        pending = [t for t in dict.fromkeys(data_types) if self._needs_loading(t)]
        for _ in range(_MAX_ROUNDS):
            if not pending:
                break
            pending = await self._round(pending)
        for t in pending:
            self._failed.setdefault(t, "structure definitions nested too deeply")
        self._link()
        await self._complete_encodings()
        return {t: self._failed[t] for t in dict.fromkeys(data_types) if t in self._failed}

    async def _round(self, ids: list[ua.NodeId]) -> list[ua.NodeId]:
        """Read definitions of `ids`; returns the data types they refer to that are not known yet."""
        nodes: list[tuple[ua.NodeId, ua.AttributeIds]] = []
        for t in ids:
            nodes += [(t, ua.AttributeIds.DataTypeDefinition), (t, ua.AttributeIds.BrowseName)]
        results = await self._read(nodes)
        aliases: list[ua.NodeId] = []
        nxt: list[ua.NodeId] = []
        for i, t in enumerate(ids):
            dv_def, dv_name = results[2 * i], results[2 * i + 1]
            name = _value(dv_name).Name if isinstance(_value(dv_name), ua.QualifiedName) else str(t)
            definition = _value(dv_def)
            if isinstance(definition, ua.StructureDefinition):
                info = _TypeInfo("struct", definition=definition, name=name)
                self._types[t] = info
                for f in definition.Fields:
                    if self._needs_loading(f.DataType):
                        nxt.append(f.DataType)
                base = definition.BaseDataType
                if base is not None and not base.is_null() and base != _STRUCTURE and base.NamespaceIndex != 0:
                    nxt.append(base)  # a subtype: its supertype's fields may need prepending
            elif isinstance(definition, ua.EnumDefinition):
                self._types[t] = _TypeInfo("enum", name=name)
            else:
                aliases.append(t)  # no definition: a simple type (subtype of a built-in) or abstract
        if aliases:
            for t, parent in zip(aliases, await self._supertypes(aliases), strict=True):
                if parent is None:
                    self._failed[t] = "the server gives neither a DataTypeDefinition nor a supertype"
                    continue
                self._types[t] = _TypeInfo("alias", alias_of=parent)
                if self._needs_loading(parent):
                    nxt.append(parent)
        return [t for t in dict.fromkeys(nxt) if t not in self._types and t not in self._failed]

    def _needs_loading(self, t: ua.NodeId) -> bool:
        return t not in self._types and t not in self._failed and _ns0_info(t) is None

    async def _read(self, nodes: Sequence[tuple[ua.NodeId, ua.AttributeIds]]) -> list[ua.DataValue]:
        async def call(batch: Sequence[tuple[ua.NodeId, ua.AttributeIds]]) -> list[ua.DataValue]:
            params = ua.ReadParameters()
            for node, attr in batch:
                params.NodesToRead.append(ua.ReadValueId(NodeId=node, AttributeId=attr))
            self.requests += 1
            return await self._client.uaclient.read(params)

        return await call_chunked(nodes, self._max_read, call)

    async def _browse(self, nodes: Sequence[ua.NodeId], ref: ua.NodeId, forward: bool) -> list[list[Any]]:
        out: list[list[Any]] = []
        for i in range(0, len(nodes), _BROWSE_CHUNK):
            params = ua.BrowseParameters()
            params.RequestedMaxReferencesPerNode = 0
            for n in nodes[i:i + _BROWSE_CHUNK]:
                d = ua.BrowseDescription()
                d.NodeId = n
                d.BrowseDirection = ua.BrowseDirection.Forward if forward else ua.BrowseDirection.Inverse
                d.ReferenceTypeId = ref
                d.IncludeSubtypes = False
                d.NodeClassMask = 0
                d.ResultMask = ua.BrowseResultMask.All
                params.NodesToBrowse.append(d)
            self.requests += 1
            results = await self._client.uaclient.browse(params)
            out += [list(r.References or []) if r.StatusCode.is_good() else [] for r in results]
        return out

    async def _supertypes(self, ids: Sequence[ua.NodeId]) -> list[ua.NodeId | None]:
        refs = await self._browse(ids, _HAS_SUBTYPE, forward=False)
        return [r[0].NodeId if r else None for r in refs]

    async def _encodings(self, ids: Sequence[ua.NodeId]) -> list[ua.NodeId | None]:
        """The "Default Binary" encoding of data types whose definition names none."""
        refs = await self._browse(ids, _HAS_ENCODING, forward=True)
        return [next((x.NodeId for x in r if x.BrowseName.Name == _DEFAULT_BINARY), None) for r in refs]

    def _link(self) -> None:
        """Turn loaded definitions into decoders (after every round, so all fields' types are known)."""
        for t, info in list(self._types.items()):
            if info.kind != "struct" or info.struct is not None or info.definition is None:
                continue
            try:
                info.struct = self._make_struct(t, info)
            except StructureLoadError as e:
                self._failed[t] = str(e)
                del self._types[t]
                continue
            if not info.struct.encoding.is_null():
                self.by_encoding[info.struct.encoding] = info.struct
                self.misses.discard(info.struct.encoding)

    def _make_struct(self, t: ua.NodeId, info: _TypeInfo) -> _Struct:
        definition = info.definition
        assert definition is not None
        fields = list(definition.Fields)
        base = definition.BaseDataType
        seen: set[ua.NodeId] = {t}
        while base is not None and base.NamespaceIndex != 0 and base not in seen:
            # some servers leave the supertype's fields out of a subtype's definition (Part 3 puts them in)
            seen.add(base)
            parent = self._types.get(base)
            if parent is None or parent.definition is None:
                break
            names = {f.Name for f in fields}
            fields = [f for f in parent.definition.Fields if f.Name not in names] + fields
            base = parent.definition.BaseDataType
        s = _Struct(info.name, t, definition.DefaultEncodingId or ua.NodeId(), int(definition.StructureType))
        for f in fields:
            text, reader = self._field_reader(f, s.kind)
            s.fields.append(_Field(f.Name, text, bool(f.IsOptional), reader))
            s.field_types[f.Name] = text
        return s

    async def _complete_encodings(self) -> None:
        """Find the encoding of structures whose definition does not name its DefaultEncodingId."""
        missing = [s for s in (i.struct for i in self._types.values()) if s is not None and s.encoding.is_null()]
        if not missing:
            return
        for s, enc in zip(missing, await self._encodings([s.data_type for s in missing]), strict=True):
            if enc is None:
                self._failed[s.data_type] = "the data type has no Default Binary encoding"
                continue
            s.encoding = enc
            self.by_encoding[enc] = s
            self.misses.discard(enc)

    async def resolve_misses(self) -> None:
        """Load the types of encodings seen in values that no loaded definition covered (once each).

        A server that refuses the lookup costs only the decoding of those values (they stay whole and
        Uncertain): the session goes on.
        """
        todo = [e for e in self.misses if e not in self._given_up]
        if not todo:
            return
        self._given_up.update(todo)
        try:
            refs = await self._browse(todo, _HAS_ENCODING, forward=False)
            types = [r[0].NodeId for r in refs if r]
            failed = await self.load(types) if types else {}
        except (ua.UaError, TimeoutError) as e:
            log.warning("%s: looking up %d structure encoding(s) failed: %s", self._name, len(todo), e)
            return
        for t, why in failed.items():
            log.warning("%s: structure type %s cannot be decoded: %s", self._name, t.to_string(), why)
        log.info("%s: looked up %d unknown structure encoding(s); %d decodable now", self._name, len(todo),
                 sum(e in self.by_encoding for e in todo))

    def failure(self, data_type: ua.NodeId) -> str | None:
        return self._failed.get(data_type)

    # --- field readers -----------------------------------------------------------------------------------

    def _resolve(self, t: ua.NodeId) -> _TypeInfo:
        seen = 0
        info = self._types.get(t) or _ns0_info(t)
        while info is not None and info.kind == "alias" and info.alias_of is not None and seen < _MAX_ROUNDS:
            seen += 1
            t = info.alias_of
            info = self._types.get(t) or _ns0_info(t)
        if info is None or info.kind == "alias":
            why = self._failed.get(t, "not loaded")
            raise StructureLoadError(f"the field type {t.to_string()} is not known: {why}")
        return info

    def _field_reader(self, f: ua.StructureField, kind: int) -> tuple[str, Reader]:
        info = self._resolve(f.DataType)
        one: Reader
        if info.kind == "builtin":
            assert info.variant_type is not None
            vt = info.variant_type
            text = "Variant" if vt == ua.VariantType.Variant else vt.name
            one = _builtin_reader(vt, self.decode)
        elif info.kind == "enum":
            text, one = "Int32", _builtin_reader(ua.VariantType.Int32, self.decode)
        elif info.kind == "class":
            assert info.cls is not None
            cls = info.cls
            text = "Structure"

            def one(buf: Buffer, cls: type = cls) -> Any:
                return plain_value(ua_binary.struct_from_binary(cls, buf), self.decode)
        else:
            text = "Structure"
            target = info

            def one(buf: Buffer, target: _TypeInfo = target) -> Any:
                # a nested structure may be linked after its parent (same _link pass): looked up when read
                assert target.struct is not None, "linked before use"
                return self._decode_body(target.struct, buf)
        subtyped = kind in (ua.StructureType.StructureWithSubtypedValues, ua.StructureType.UnionWithSubtypedValues)
        if subtyped and f.IsOptional:  # "AllowSubTypes": a structure as an ExtensionObject, anything else a Variant
            if text == "Structure":
                one = _builtin_reader(ua.VariantType.ExtensionObject, self.decode)
            else:
                text, one = "Variant", _builtin_reader(ua.VariantType.Variant, self.decode)
        rank = f.ValueRank if f.ValueRank is not None and f.ValueRank >= 1 else (1 if f.ValueRank == 0 else 0)
        return text + "[]" * rank, _array_reader(one, rank)

    # --- decoding ------------------------------------------------------------------------------------------

    def decode(self, eo: Any) -> Any:
        """A raw ua.ExtensionObject as a StructValue (or an OpaqueStructure if it cannot be decoded)."""
        if not isinstance(eo, ua.ExtensionObject):
            return plain_value(eo, self.decode)
        s = self.by_encoding.get(eo.TypeId)
        if s is None or eo.Body is None:
            if s is None and not eo.TypeId.is_null():
                self.misses.add(eo.TypeId)
            return opaque(eo)
        try:
            buf = Buffer(eo.Body)
            value = self._decode_body(s, buf)
        except (struct.error, ua.UaError, ValueError, TypeError, AssertionError, IndexError, OverflowError) as e:
            log.debug("%s: body of %s does not decode with its definition: %s", self._name, s.name, e)
            return opaque(eo)
        return value

    def _decode_body(self, s: _Struct, buf: Buffer) -> StructValue:
        if s.kind in (ua.StructureType.Union, ua.StructureType.UnionWithSubtypedValues):
            switch = ua_binary.Primitives.UInt32.unpack(buf)
            if switch == 0:
                return StructValue({}, {})
            f = s.fields[switch - 1]
            assert f.reader is not None
            return StructValue({f.name: f.reader(buf)}, {f.name: f.type_text})
        values: dict[str, Any] = {}
        if s.kind == ua.StructureType.StructureWithOptionalFields:
            mask = ua_binary.Primitives.UInt32.unpack(buf)
            bit = 0
            for f in s.fields:
                present = True
                if f.optional:
                    present = bool(mask >> bit & 1)
                    bit += 1
                assert f.reader is not None
                values[f.name] = f.reader(buf) if present else None
        else:
            for f in s.fields:
                assert f.reader is not None
                values[f.name] = f.reader(buf)
        return StructValue(values, s.field_types)


def opaque(eo: ua.ExtensionObject) -> OpaqueStructure:
    """An ExtensionObject nobody can decode, kept whole: its encoding id and its body bytes."""
    return OpaqueStructure({"typeId": eo.TypeId.to_string(), "body": bytes(eo.Body or b"")},
                           OpaqueStructure.FIELD_TYPES)


def _value(dv: ua.DataValue) -> Any:
    if dv.StatusCode is not None and not dv.StatusCode.is_good():
        return None
    return dv.Value.Value if dv.Value is not None else None


def _ns0_info(t: ua.NodeId) -> _TypeInfo | None:
    """Namespace 0 types without asking the server: built-ins, abstract types, standard structures and enums."""
    if t.NamespaceIndex != 0 or not isinstance(t.Identifier, int):
        return None
    i = t.Identifier
    if i in _ABSTRACT_VARIANT:
        return _TypeInfo("builtin", ua.VariantType.Variant)
    if i == _ENUMERATION:
        return _TypeInfo("enum")
    if 1 <= i <= 25:
        return _TypeInfo("builtin", ua.VariantType(i))
    name = ua.ObjectIdNames.get(i)
    cls = getattr(ua, name, None) if name else None
    if cls is None or not isinstance(cls, type):
        return None
    if isinstance(cls, type) and issubclass(cls, Enum):
        return _TypeInfo("enum")
    if dataclasses.is_dataclass(cls):
        return _TypeInfo("class", cls=cls)
    vt = ua.VariantType.__members__.get(cls.__name__)  # Duration -> Double, UtcTime -> DateTime ...
    return _TypeInfo("builtin", vt) if vt is not None else None


def _builtin_reader(vt: ua.VariantType, decode: DecodeExtension) -> Reader:
    if vt == ua.VariantType.Variant:
        def read_variant(buf: Buffer) -> Any:
            return plain_value(ua_binary.variant_from_binary(buf), decode)

        return read_variant
    def read(buf: Buffer) -> Any:
        return plain_value(ua_binary.unpack_uatype(vt, buf), decode)

    return read


def _array_reader(one: Reader, rank: int) -> Reader:
    if rank == 0:
        return one
    if rank == 1:
        def read_array(buf: Buffer) -> list[Any] | None:
            n = ua_binary.Primitives.Int32.unpack(buf)
            return None if n < 0 else [one(buf) for _ in range(n)]

        return read_array

    def read_matrix(buf: Buffer) -> list[Any] | None:
        # Part 6, 5.2.5: the dimensions (an Int32 array), then all values; their count is not encoded
        n = ua_binary.Primitives.Int32.unpack(buf)
        if n < 0:
            return None
        dims = [ua_binary.Primitives.Int32.unpack(buf) for _ in range(n)]
        total = 1
        for d in dims:
            total *= max(0, d)
        return _reshape([one(buf) for _ in range(total)], dims)

    return read_matrix


def _reshape(flat: list[Any], dims: list[int]) -> list[Any]:
    if len(dims) <= 1:
        return flat
    size = len(flat) // dims[0] if dims[0] else 0
    return [_reshape(flat[i * size:(i + 1) * size], dims[1:]) for i in range(dims[0])]
