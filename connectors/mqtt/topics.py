"""The gateway's MQTT topic scheme (a unified namespace that mirrors the AAS model).

Subscribers build their filters from this scheme, so it is a public contract:

    {prefix}/{aasIdShort}/{submodelIdShort}/{idShortPath levels}   one point (per_point payload)
    {prefix}/{aasIdShort}/$batch                                   per-asset batches (per_asset payload)
    {prefix}/{aasIdShort}/$status                                  asset status, retained
    {prefix}/{aasIdShort}/$events                                  events of the asset (alarm transitions)
    {prefix}/$status/{gatewayId}                                   gateway status, retained (+ last will)

- The idShortPath becomes topic levels: `.` separates levels and a list index `[n]` becomes its
  own level `n`, so `Spindle.Speed` -> `Spindle/Speed` and `Axes[0].Position` -> `Axes/0/Position`.
  Hence `aas/CNC01/OperationalData/Spindle/#` selects a subtree with plain MQTT wildcards. The
  mapping is reversible: idShorts start with a letter, so an all-digit level is always an index.
- Levels starting with `$` are gateway metadata, never model elements (idShorts cannot start
  with `$`), so `aas/+/+/#` style filters never confuse status with values. `$` is only special
  to brokers in the first level, which is the prefix (and that may not start with `$`).
- idShorts are checked against the AAS pattern `[A-Za-z][A-Za-z0-9_-]*`, which already rules out
  `+`, `#`, `/`, empty levels and NUL; the check runs once at startup, so a bad name is a
  configuration error rather than a publish that a broker silently drops.
"""

from __future__ import annotations

import re

_ID_SHORT = re.compile(r"[A-Za-z][A-Za-z0-9_-]*")
_PATH_PART = re.compile(r"([A-Za-z][A-Za-z0-9_-]*)((?:\[\d+\])*)")
_INDEX = re.compile(r"\[(\d+)\]")
_MAX_TOPIC_BYTES = 65535


def validate_topic(topic: str) -> str:
    """A topic name we publish to: no wildcards, no empty levels, no NUL."""
    if not topic:
        raise ValueError("topic must not be empty")
    if "+" in topic or "#" in topic:
        raise ValueError(f"topic {topic!r} must not contain the MQTT wildcards '+' or '#'")
    if "\0" in topic:
        raise ValueError("topic must not contain NUL")
    if any(level == "" for level in topic.split("/")):
        raise ValueError(f"topic {topic!r} has an empty level (leading, trailing or double '/')")
    if len(topic.encode()) > _MAX_TOPIC_BYTES:
        raise ValueError("topic longer than 65535 bytes")
    return topic


def validate_filter(topic_filter: str) -> str:
    """A subscription filter as MQTT defines it ('+' and '#' only as whole levels, '#' last).

    Empty levels are allowed here: devices really publish to topics like '/sensors/t1'.
    """
    if not topic_filter:
        raise ValueError("topic filter must not be empty")
    if "\0" in topic_filter:
        raise ValueError("topic filter must not contain NUL")
    levels = topic_filter.split("/")
    for i, level in enumerate(levels):
        if "#" in level and (level != "#" or i != len(levels) - 1):
            raise ValueError(f"topic filter {topic_filter!r}: '#' must be a whole level and the last one")
        if "+" in level and level != "+":
            raise ValueError(f"topic filter {topic_filter!r}: '+' must be a whole level")
    return topic_filter


def check_id_short(id_short: str, what: str = "idShort") -> str:
    if not _ID_SHORT.fullmatch(id_short):
        raise ValueError(f"{what} {id_short!r} is not a valid idShort ([A-Za-z][A-Za-z0-9_-]*): "
                         f"it cannot become an MQTT topic level")
    return id_short


def path_levels(id_short_path: str) -> list[str]:
    """`Axes[0].Position` -> ['Axes', '0', 'Position']."""
    levels: list[str] = []
    for part in id_short_path.split("."):
        m = _PATH_PART.fullmatch(part)
        if m is None:
            raise ValueError(f"idShortPath {id_short_path!r}: element {part!r} is not an idShort (with [n] indices)")
        levels.append(m.group(1))
        levels.extend(_INDEX.findall(m.group(2)))
    return levels


def point_topic(prefix: str, asset: str, submodel: str, id_short_path: str) -> str:
    check_id_short(asset, "asset idShort")
    check_id_short(submodel, "submodel idShort")
    return validate_topic("/".join([prefix, asset, submodel, *path_levels(id_short_path)]))


def asset_batch_topic(prefix: str, asset: str) -> str:
    return f"{prefix}/{check_id_short(asset, 'asset idShort')}/$batch"


def asset_status_topic(prefix: str, asset: str) -> str:
    return f"{prefix}/{check_id_short(asset, 'asset idShort')}/$status"


def asset_events_topic(prefix: str, asset: str) -> str:
    """Where the asset's events go (an AAS EventPayload per message, e.g. an alarm raised/acknowledged/cleared):
    the messageTopic of its BasicEventElements. One topic per asset, like `$batch` and `$status`."""
    return f"{prefix}/{check_id_short(asset, 'asset idShort')}/$events"


def gateway_status_topic(prefix: str, status_topic: str, gateway_id: str) -> str:
    """`status_topic` is relative to the prefix; `{gateway_id}` in it is replaced."""
    if "/" in gateway_id:
        raise ValueError(f"gateway id {gateway_id!r} must be a single topic level (no '/')")
    return validate_topic(f"{prefix}/{status_topic.replace('{gateway_id}', gateway_id)}")
