"""Reading the live state back from an element's qualifiers (the inverse of `aas_models.live.set_live_value`).

The gateway never needs it (it writes the model, clients read it as JSON); the tests use it to check
what the qualifiers say.
"""

from __future__ import annotations

from datetime import datetime

from basyx.aas import model

from aas_models.live import Q_SOURCE_TIMESTAMP, Q_STATUS_CODE
from connectors.status import BAD_WAITING_FOR_INITIAL_DATA, GOOD


def status_of(prop: model.SubmodelElement) -> int:
    """The status code of the latest sample (BadWaitingForInitialData before the first)."""
    try:
        v = prop.get_qualifier_by_type(Q_STATUS_CODE).value
    except KeyError:
        return GOOD if getattr(prop, "value", None) is not None else BAD_WAITING_FOR_INITIAL_DATA
    return int(str(v), 16) if v else BAD_WAITING_FOR_INITIAL_DATA


def source_timestamp_of(prop: model.SubmodelElement) -> datetime | None:
    try:
        v = prop.get_qualifier_by_type(Q_SOURCE_TIMESTAMP).value
    except KeyError:
        return None
    return v if isinstance(v, datetime) else None
