"""OPC UA status codes as plain integers: the one definition every layer uses.

The OPC UA status code is the gateway's quality model for all protocols
(an MQTT sensor with no quality reports Good, a lost connection reports
BadNotConnected). Only the handful the gateway produces itself are named
here; names of any other code come from asyncua's table when it is installed.

Part of the dependency-free shared core (with `connectors.sample`): the standard library only,
so connectors, `aas_models` (the live model's StatusCode and Quality qualifiers) and `gateway`
all import the same constants (see the import rule in the README's architecture section).
"""

from __future__ import annotations

GOOD = 0x00000000
UNCERTAIN_LAST_USABLE_VALUE = 0x40900000
BAD_UNEXPECTED_ERROR = 0x80010000
BAD_COMMUNICATION_ERROR = 0x80050000
BAD_TIMEOUT = 0x800A0000
BAD_NODE_ID_INVALID = 0x80330000
BAD_NODE_ID_UNKNOWN = 0x80340000
BAD_ATTRIBUTE_ID_INVALID = 0x80350000
BAD_TYPE_MISMATCH = 0x80740000
BAD_NOT_CONNECTED = 0x808A0000
BAD_WAITING_FOR_INITIAL_DATA = 0x80320000
BAD_NO_COMMUNICATION = 0x80310000
BAD_OUT_OF_SERVICE = 0x808D0000

_NAMES = {
    GOOD: "Good",
    UNCERTAIN_LAST_USABLE_VALUE: "UncertainLastUsableValue",
    BAD_UNEXPECTED_ERROR: "BadUnexpectedError",
    BAD_COMMUNICATION_ERROR: "BadCommunicationError",
    BAD_TIMEOUT: "BadTimeout",
    BAD_NODE_ID_INVALID: "BadNodeIdInvalid",
    BAD_NODE_ID_UNKNOWN: "BadNodeIdUnknown",
    BAD_ATTRIBUTE_ID_INVALID: "BadAttributeIdInvalid",
    BAD_TYPE_MISMATCH: "BadTypeMismatch",
    BAD_NOT_CONNECTED: "BadNotConnected",
    BAD_WAITING_FOR_INITIAL_DATA: "BadWaitingForInitialData",
    BAD_NO_COMMUNICATION: "BadNoCommunication",
    BAD_OUT_OF_SERVICE: "BadOutOfService",
}

BAD_MASK = 0x80000000  # the severity bit every bad code has: `status & BAD_MASK` is the hot-path test
UNCERTAIN_MASK = 0x40000000
SEVERITY_MASK = 0xC0000000  # both severity bits: `status & SEVERITY_MASK == 0` is Good
# index = code >> 30 (the two severity bits): the AAS model's Quality qualifier and the MQTT payload say these
SEVERITY_NAMES = ("Good", "Uncertain", "Bad", "Bad")


def is_good(code: int) -> bool:
    return (code & SEVERITY_MASK) == 0


def is_uncertain(code: int) -> bool:
    return (code & SEVERITY_MASK) == UNCERTAIN_MASK


def is_bad(code: int) -> bool:
    return (code & BAD_MASK) != 0


def severity(code: int) -> str:
    """'good', 'uncertain' or 'bad'."""
    if is_bad(code):
        return "bad"
    if is_uncertain(code):
        return "uncertain"
    return "good"


def status_name(code: int) -> str:
    """Symbolic name of a status code (falls back to hex)."""
    name = _NAMES.get(code)
    if name is not None:
        return name
    try:  # asyncua carries the full table; connectors must not require it
        from asyncua.ua.status_codes import get_name_and_doc

        return get_name_and_doc(code)[0]
    except Exception:
        return f"0x{code:08X}"


def quality_name(code: int) -> str:
    """'Good', 'Uncertain' or 'Bad': the severity of `code` as the AAS model's Quality qualifier shows it."""
    return SEVERITY_NAMES[(code >> 30) & 3]


def status_text(code: int) -> str:
    """`code` as ``0x`` and 8 hex digits (the AAS model's StatusCode qualifier)."""
    return f"0x{code:08X}"
