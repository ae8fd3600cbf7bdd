"""Turning configured addresses into NodeIds on the current session.

Namespace *indexes* can change when a server restarts or a PLC program is
downloaded; namespace *URIs* do not. So addresses may name their namespace
by URI (``nsu=urn:...;s=X``) or rely on the source's default namespace, and
are resolved again after every (re)connect. Browse paths are resolved with
TranslateBrowsePathsToNodeIds in chunks the server accepts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from asyncua import Client, ua

import connectors.opcua.codec  # noqa: F401  (Part 6 DataValue order before any asyncua use)
from connectors.opcua.limits import call_chunked

# first browse-path segments that live in the OPC UA namespace 0
_NS0_ROOTS = {"Objects", "Types", "Views", "Server"}


class AddressError(ValueError):
    """An address that cannot be resolved on this server (the point goes bad, others go on)."""

    def __init__(self, message: str, status: int = ua.StatusCodes.BadNodeIdUnknown) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Namespaces:
    uris: tuple[str, ...]
    default_uri: str | None

    def index(self, uri: str) -> int:
        try:
            return self.uris.index(uri)
        except ValueError:
            raise AddressError(f"namespace {uri!r} is not offered by the server") from None

    def default_index(self) -> int:
        return self.index(self.default_uri) if self.default_uri else 0


def _plain(identifier: object) -> object:
    """A string identifier as a plain str: asyncua's parser makes a `ua.String` (a str subclass with an instance
    dict, ~60 bytes more per node, issue 9); it encodes, compares and hashes the same."""
    return str(identifier) if isinstance(identifier, str) else identifier


def parse_node_id(text: str, ns: Namespaces) -> ua.NodeId:
    """Parse 'ns=2;s=X', 'nsu=URI;s=X' or 's=X' (default namespace) into a NodeId."""
    text = text.strip()
    try:
        if text.startswith("nsu="):
            uri, sep, rest = text[4:].partition(";")
            if not sep:
                raise AddressError(f"bad node id {text!r}: expected nsu=URI;s=...", ua.StatusCodes.BadNodeIdInvalid)
            nid = ua.NodeId.from_string(rest)
            return ua.NodeId(_plain(nid.Identifier), ns.index(uri), nid.NodeIdType)  # type: ignore[arg-type]  # asyncua int subtype
        nid = ua.NodeId.from_string(text)
        index = nid.NamespaceIndex if text.startswith("ns=") else ns.default_index()
        return ua.NodeId(_plain(nid.Identifier), index, nid.NodeIdType)  # type: ignore[arg-type]  # asyncua int subtype
    except AddressError:
        raise
    except Exception as e:
        raise AddressError(f"bad node id {text!r}: {e}", ua.StatusCodes.BadNodeIdInvalid) from None


def parse_browse_path(text: str, ns: Namespaces) -> ua.BrowsePath:
    """'Objects/CNC01/Spindle/Speed' (segments may be '3:Name' or 'nsu=URI:Name') from the Root folder."""
    segments = [s for s in text.strip().strip("/").split("/") if s]
    if not segments:
        raise AddressError(f"empty browse path {text!r}", ua.StatusCodes.BadBrowseNameInvalid)
    elements = []
    for i, seg in enumerate(segments):
        if seg.startswith("nsu="):
            uri, _, name = seg[4:].rpartition(":")
            idx = ns.index(uri)
        elif ":" in seg and seg.split(":", 1)[0].isdigit():
            idx_s, name = seg.split(":", 1)
            idx = int(idx_s)
        elif i == 0 and seg in _NS0_ROOTS:
            idx, name = 0, seg
        else:
            idx, name = ns.default_index(), seg
        el = ua.RelativePathElement()
        el.ReferenceTypeId = ua.NodeId(ua.ObjectIds.HierarchicalReferences)  # type: ignore[arg-type]  # asyncua int subtype
        el.IsInverse = False  # type: ignore[assignment]  # asyncua's Boolean is a marker class
        el.IncludeSubtypes = True  # type: ignore[assignment]  # asyncua's Boolean is a marker class
        el.TargetName = ua.QualifiedName(name, idx)
        elements.append(el)
    bp = ua.BrowsePath()
    bp.StartingNode = ua.NodeId(ua.ObjectIds.RootFolder)  # type: ignore[arg-type]  # asyncua int subtype
    bp.RelativePath = ua.RelativePath(Elements=elements)
    return bp


async def translate_browse_paths(client: Client, paths: Sequence[ua.BrowsePath],
                                 chunk: int) -> list[ua.NodeId | AddressError]:
    """Resolve browse paths; each result is a NodeId or the AddressError of that path alone."""

    async def call(batch: Sequence[ua.BrowsePath]) -> list[ua.BrowsePathResult]:
        return await client.uaclient.translate_browsepaths_to_nodeids(list(batch))

    results = await call_chunked(paths, chunk, call)
    out: list[ua.NodeId | AddressError] = []
    for res in results:
        if res.StatusCode.is_good() and res.Targets:
            target = res.Targets[0].TargetId  # an ExpandedNodeId; a plain NodeId is what we monitor
            out.append(ua.NodeId(target.Identifier, target.NamespaceIndex, target.NodeIdType))
        else:
            out.append(AddressError(f"browse path not found ({res.StatusCode.name})", res.StatusCode.value))
    return out
