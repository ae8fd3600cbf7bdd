"""UNECE (CEFACT Rec. 20) engineering units, encoded the way OPC UA Part 8 prescribes.

Kept in one table so that every machine module labels its variables consistently and the
gateway can rely on ``EngineeringUnits.UnitId`` being computed by the spec's rule rather than
by hand.
"""

from __future__ import annotations

from dataclasses import dataclass

from asyncua import ua

UNECE_NAMESPACE = "http://www.opcfoundation.org/UA/units/un/cefact"


def unit_id(code: str) -> int:
    """OPC UA Part 8 §5.6.3: the UnitId is the common code's ASCII bytes packed big-endian."""
    value = 0
    for ch in code.upper():
        value = (value << 8) | ord(ch)
    return value


@dataclass(frozen=True)
class Unit:
    code: str  # UNECE common code, e.g. "CEL"
    symbol: str  # display name, e.g. "°C"
    description: str

    def eu_information(self) -> ua.EUInformation:
        return ua.EUInformation(
            NamespaceUri=UNECE_NAMESPACE,
            UnitId=unit_id(self.code),
            DisplayName=ua.LocalizedText(self.symbol, "en"),
            Description=ua.LocalizedText(self.description, "en"),
        )


CELSIUS = Unit("CEL", "°C", "degree Celsius")
RPM = Unit("RPM", "r/min", "revolutions per minute")
PERCENT = Unit("P1", "%", "percent")
MM = Unit("MMT", "mm", "millimetre")
MM_PER_MIN = Unit("H81", "mm/min", "millimetre per minute")
MM_PER_S = Unit("C16", "mm/s", "millimetre per second")
BAR = Unit("BAR", "bar", "bar [unit of pressure]")
SECOND = Unit("SEC", "s", "second [unit of time]")
PIECE = Unit("H87", "pc", "piece")
KILOWATT = Unit("KWT", "kW", "kilowatt")
KILOVAR = Unit("KVR", "kvar", "kilovolt ampere (reactive)")
KILOWATT_HOUR = Unit("KWH", "kW·h", "kilowatt hour")
VOLT = Unit("VLT", "V", "volt")
AMPERE = Unit("AMP", "A", "ampere")
HERTZ = Unit("HTZ", "Hz", "hertz")
ONE = Unit("C62", "1", "one (dimensionless)")
