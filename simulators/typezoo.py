"""A machine whose variables cover every OPC UA built-in type (``urn:aas-gateway:sim:typezoo``).

Not a physical machine but the counterpart of the gateway's type mapping (OPC UA Part 6, 5.1.2):
one scalar variable per built-in type below ``Scalar``, arrays (one- and two-dimensional, of
numbers, strings, ByteStrings, LocalizedTexts, Guids and structures) below ``Array``, vendor
structures with real DataTypeDefinitions below ``Struct``, and a few variables that change every
tick below ``Live`` (a counter, an array whose length follows the tick, a structure).

The vendor data types, defined in the machine's namespace with asyncua's ``new_struct`` /
``new_enum`` so that clients read them from the server like from a PLC:

- ``ToolState`` (enumeration: Idle, Cutting, Worn);
- ``Geometry`` {Radius: Double, Angle: Float};
- ``ToolData`` {Id: UInt32, Name: String, Length: Double, Wear: Float, Active: Boolean,
  State: ToolState, Label: LocalizedText, Geometry: Geometry, Offsets: Double[],
  LastChange: DateTime, Signature: ByteString, Serial: Guid};
- ``SpindleReport`` with optional fields {Speed: Double, Torque: Double?, Alarm: String?};
- ``Measurement``, a union of {Length: Double, Count: UInt32}.

Structure values are published as ExtensionObjects whose bodies this module encodes by hand from the
field lists below (``encode``), so the server process never registers generated classes in asyncua's
process-wide registry: a gateway in the same process must decode them with the server's definitions,
as it would against a PLC. ``Struct.Opaque`` carries an ExtensionObject whose encoding no data type
describes: a client can only keep it as it is.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from asyncua import Server, ua
from asyncua.common.structures104 import new_enum, new_struct, new_struct_field
from asyncua.ua import ua_binary

from simulators.server import MachineServer, VarSpec

VT = ua.VariantType
FieldSpec = tuple[str, VT | str, bool, bool]  # name, built-in type or name of a zoo type, array, optional

ENUMS: dict[str, list[str]] = {"ToolState": ["Idle", "Cutting", "Worn"]}
STRUCTS: dict[str, list[FieldSpec]] = {  # in dependency order
    "Geometry": [("Radius", VT.Double, False, False), ("Angle", VT.Float, False, False)],
    "ToolData": [
        ("Id", VT.UInt32, False, False), ("Name", VT.String, False, False), ("Length", VT.Double, False, False),
        ("Wear", VT.Float, False, False), ("Active", VT.Boolean, False, False), ("State", "ToolState", False, False),
        ("Label", VT.LocalizedText, False, False), ("Geometry", "Geometry", False, False),
        ("Offsets", VT.Double, True, False), ("LastChange", VT.DateTime, False, False),
        ("Signature", VT.ByteString, False, False), ("Serial", VT.Guid, False, False),
    ],
    "SpindleReport": [("Speed", VT.Double, False, False), ("Torque", VT.Double, False, True),
                      ("Alarm", VT.String, False, True)],
}
UNIONS: dict[str, list[FieldSpec]] = {"Measurement": [("Length", VT.Double, False, False),
                                                      ("Count", VT.UInt32, False, False)]}
OPAQUE_ENCODING = 999_999  # numeric id (machine namespace) of an encoding no data type describes

T0 = datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=UTC)
SERIAL = uuid.UUID("72962b91-fa75-4ae6-8d28-b404dc7daf63")


def tool(i: int, wear: float = 12.5) -> dict[str, Any]:
    """The logical value of a ToolData structure (field name -> value)."""
    return {"Id": i, "Name": f"Mill D{i}", "Length": 80.0 + i, "Wear": wear, "Active": i % 2 == 1,
            "State": 1, "Label": ua.LocalizedText(f"Fräser {i}", "de-DE"),
            "Geometry": {"Radius": 4.0 + i, "Angle": 30.0}, "Offsets": [0.1 * i, -0.2, 0.0],
            "LastChange": T0, "Signature": bytes([i, 0, 255]), "Serial": SERIAL}


# path -> (variant type, value, value rank, data type name or NodeId); the static part of the zoo
SCALARS: dict[str, tuple[VT, Any]] = {
    "Boolean": (VT.Boolean, True),
    "SByte": (VT.SByte, -100),
    "Byte": (VT.Byte, 200),
    "Int16": (VT.Int16, -30000),
    "UInt16": (VT.UInt16, 60000),
    "Int32": (VT.Int32, -2_000_000_000),
    "UInt32": (VT.UInt32, 4_000_000_000),
    "Int64": (VT.Int64, -9_000_000_000_000_000_000),
    "UInt64": (VT.UInt64, 2**64 - 1),
    "Float": (VT.Float, 1.5),
    "Double": (VT.Double, 3.25),
    "String": (VT.String, "Läuft"),
    "DateTime": (VT.DateTime, T0),
    "Guid": (VT.Guid, SERIAL),
    "ByteString": (VT.ByteString, b"\x00\x01\x02\xff"),
    "XmlElement": (VT.XmlElement, ua.XmlElement('<Recipe id="7"/>')),  # type: ignore[arg-type]  # asyncua str subtype
    "NodeId": (VT.NodeId, ua.NodeId(85, 0)),  # type: ignore[arg-type]  # asyncua int subtype
    "ExpandedNodeId": (VT.ExpandedNodeId, ua.ExpandedNodeId(5001, 0, NamespaceUri="urn:vendor:types")),  # type: ignore[arg-type]  # asyncua int/str subtypes
    "StatusCode": (VT.StatusCode, ua.StatusCode(ua.StatusCodes.BadNodeIdUnknown)),  # type: ignore[arg-type]  # asyncua int subtype
    "QualifiedName": (VT.QualifiedName, ua.QualifiedName("Tool", 2)),
    "LocalizedText": (VT.LocalizedText, ua.LocalizedText("Bereit", "de-DE")),
    "DataValue": (VT.DataValue, ua.DataValue(ua.Variant(21.5, VT.Double), SourceTimestamp=T0)),  # type: ignore[arg-type]  # asyncua DateTime subtype
    "DiagnosticInfo": (VT.DiagnosticInfo, ua.DiagnosticInfo(SymbolicId=1, AdditionalInfo="trace",  # type: ignore[arg-type]  # asyncua int/str subtypes
                                                            InnerStatusCode=ua.StatusCode(0x80000000))),  # type: ignore[arg-type]  # asyncua int subtype
}
WRITABLE = {"NodeId", "Guid"}  # clients may write these (the gateway writes them in their own type)
ARRAYS: dict[str, tuple[VT, list[Any], int]] = {
    "Boolean": (VT.Boolean, [True, False, True], 1),
    "Int32": (VT.Int32, [1, -2, 3], 1),
    "Double": (VT.Double, [0.5, 1.5, 2.5], 1),
    "String": (VT.String, ["a", "b", "Ü"], 1),
    "ByteString": (VT.ByteString, [b"\x01", b"\x02\x03"], 1),
    "Guid": (VT.Guid, [SERIAL], 1),
    "LocalizedText": (VT.LocalizedText, [ua.LocalizedText("One", "en"), ua.LocalizedText("Zwei", "de")], 1),
    "Matrix": (VT.Double, [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], 2),
}


class TypeZoo(MachineServer):
    machine_type = "typezoo"
    default_name = "ZOO01"

    def __init__(self, name: str | None = None, **kwargs: Any) -> None:
        self.encodings: dict[str, ua.NodeId] = {}  # structure name -> its Default Binary encoding
        super().__init__(name, **kwargs)

    def variables(self) -> list[VarSpec]:
        specs = [VarSpec(f"Scalar.{name}", vt, value, description=f"A {name}", writable=name in WRITABLE)
                 for name, (vt, value) in SCALARS.items()]
        specs.append(VarSpec("Scalar.Variant", VT.Int32, 7, data_type=ua.NodeId(ua.ObjectIds.BaseDataType),  # type: ignore[arg-type]  # asyncua int subtype
                             description="A BaseDataType variable holding an Int32"))
        specs += [VarSpec(f"Array.{name}", vt, value, value_rank=rank, description=f"An array of {vt.name}")
                  for name, (vt, value, rank) in ARRAYS.items()]
        specs += [
            VarSpec("Struct.Tool", VT.ExtensionObject, None, data_type="ToolData", description="A vendor structure"),
            VarSpec("Struct.Spindle", VT.ExtensionObject, None, data_type="SpindleReport",
                    description="A structure with optional fields (Torque set, Alarm not)"),
            VarSpec("Struct.Measurement", VT.ExtensionObject, None, data_type="Measurement",
                    description="A union (Length chosen)"),
            VarSpec("Struct.Opaque", VT.ExtensionObject, None,
                    description="An ExtensionObject whose encoding no data type describes"),
            VarSpec("Array.Tools", VT.ExtensionObject, None, value_rank=1, data_type="ToolData",
                    description="An array of vendor structures"),
            VarSpec("Live.Counter", VT.UInt32, 0, description="Counts ticks"),
            VarSpec("Live.Trend", VT.Double, [0.0], value_rank=1, description="Length follows the tick (1-4)"),
            VarSpec("Live.Tool", VT.ExtensionObject, None, data_type="ToolData", description="Wear grows"),
        ]
        return specs

    async def _add_data_types(self, server: Server) -> dict[str, ua.NodeId]:
        ns = await server.get_namespace_index(self.namespace_uri)
        types: dict[str, ua.NodeId] = {}
        for name, members in ENUMS.items():
            types[name] = (await new_enum(server, ua.NodeId(name, ns), name, members)).nodeid  # type: ignore[arg-type]  # asyncua int/str subtypes; new_enum only reads the list

        def field(f: FieldSpec) -> ua.StructureField:
            name, t, array, optional = f
            return new_struct_field(name, t if isinstance(t, VT) else types[t], array=array, optional=optional)

        for group, union in ((STRUCTS, False), (UNIONS, True)):
            for name, fields in group.items():
                dtype, encs = await new_struct(server, ua.NodeId(name, ns), name, [field(f) for f in fields],  # type: ignore[arg-type]  # asyncua int/str subtypes
                                               is_union=union)
                types[name] = dtype.nodeid
                self.encodings[name] = encs[0].nodeid
        # the structure values need the encodings: set them now that they exist
        for path, value in self._structure_values(0).items():
            self._model[path] = self.values[path] = value
        self._model["Struct.Opaque"] = self.values["Struct.Opaque"] = ua.ExtensionObject(
            ua.NodeId(OPAQUE_ENCODING, ns), b"\x01\x02\x03")  # type: ignore[arg-type]  # asyncua int/bytes subtypes
        return types

    def _structure_values(self, ticks: int) -> dict[str, Any]:
        return {
            "Struct.Tool": self.extension_object("ToolData", tool(7)),
            "Struct.Spindle": self.extension_object("SpindleReport", {"Speed": 8000.0, "Torque": 12.5}),
            "Struct.Measurement": self.extension_object("Measurement", {"Length": 42.5}),
            "Array.Tools": [self.extension_object("ToolData", tool(i)) for i in (1, 2)],
            "Live.Tool": self.extension_object("ToolData", tool(3, wear=round(0.5 * ticks, 3))),
        }

    def step(self, dt: float) -> dict[str, Any]:
        n = self.ticks + 1
        out: dict[str, Any] = {
            "Live.Counter": n % 2**32,
            "Live.Trend": [round(0.25 * n + i, 3) for i in range(1 + n % 4)],
        }
        if self.encodings:
            out["Live.Tool"] = self._structure_values(n)["Live.Tool"]
        return out

    async def set_variant(self, value: ua.Variant) -> None:
        """Give ``Scalar.Variant`` (a BaseDataType variable) a value of any type.

        asyncua's own write refuses a Variant type other than the current one; a PLC's BaseDataType
        variable does not, so the value is set the way every publish sets values.
        """
        attr = self._attrs.get("Scalar.Variant")
        if attr is None:
            raise RuntimeError("the machine is not running")
        now = datetime.now(UTC)
        dv = ua.DataValue(value, SourceTimestamp=now, ServerTimestamp=now)  # type: ignore[arg-type]  # asyncua DateTime subtype
        attr.value = dv
        for handle, callback in list(attr.datachange_callbacks.items()):
            await callback(handle, dv)

    # --- encoding ------------------------------------------------------------------------------------

    def extension_object(self, type_name: str, value: dict[str, Any]) -> ua.ExtensionObject:
        return ua.ExtensionObject(self.encodings[type_name], encode(type_name, value))  # type: ignore[arg-type]  # asyncua bytes subtype


def encode(type_name: str, value: dict[str, Any]) -> bytes:
    """The binary body of a zoo structure (OPC UA Part 6, 5.2.6 and 5.2.7) from its logical value."""
    if type_name in UNIONS:
        fields = UNIONS[type_name]
        for i, f in enumerate(fields, start=1):
            if f[0] in value:
                return ua_binary.Primitives.UInt32.pack(i) + _encode_field(f, value[f[0]])
        return ua_binary.Primitives.UInt32.pack(0)
    fields = STRUCTS[type_name]
    out = b""
    optional = [f for f in fields if f[3]]
    if optional:
        mask = sum(1 << i for i, f in enumerate(optional) if value.get(f[0]) is not None)
        out += ua_binary.Primitives.UInt32.pack(mask)
    for f in fields:
        if f[3] and value.get(f[0]) is None:
            continue
        out += _encode_field(f, value[f[0]])
    return out


def _encode_field(f: FieldSpec, v: Any) -> bytes:
    _, t, array, _ = f
    if array:
        return ua_binary.Primitives.Int32.pack(len(v)) + b"".join(_encode_one(t, x) for x in v)
    return _encode_one(t, v)


def _encode_one(t: VT | str, v: Any) -> bytes:
    if isinstance(t, VT):
        return ua_binary.pack_uatype(t, v)
    if t in ENUMS:
        return ua_binary.Primitives.Int32.pack(v)
    return encode(t, v)
