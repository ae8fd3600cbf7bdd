"""One OPC UA endpoint: connect, collect, and come back after any loss.

The session lifecycle is ours (asyncua's own auto-reconnect is off): on any
loss (server restart, network drop, session timeout, a failed service call)
the whole session is torn down, every point is marked BadNotConnected, and a
new session is built after an exponential backoff with jitter, or as soon as a
server that stopped accepting connections accepts one again (a TCP probe every
0.5 s while backing off; see connectors.backoff.wait_for_peer): values resume
about a second after a PLC restart, with still one session attempt per step. Namespaces,
addresses and server limits are resolved afresh each time, because a
restarted PLC may have changed them. A node that is missing affects only its
own point, which is retried periodically while the rest keeps flowing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from urllib.parse import urlsplit

from asyncua import Client, ua

import connectors.opcua.codec  # noqa: F401  (installs the Part 6 DataValue codec before any client exists)
from connectors import status as st
from connectors.backoff import Backoff, tcp_reachable, wait_for_peer
from connectors.base import ConnectionState, Emit, SourceHealth
from connectors.opcua.config import OpcUaPointSpec, OpcUaSourceConfig
from connectors.opcua.limits import ServerLimits, call_chunked, read_limits
from connectors.opcua.nodes import AddressError, Namespaces, parse_browse_path, parse_node_id, translate_browse_paths
from connectors.opcua.pki import Pki
from connectors.opcua.poller import PollGroup
from connectors.opcua.security import SecurityError, explain_refusal, secure_client, set_identity
from connectors.opcua.state import PointState
from connectors.opcua.structures import StructureDecoder
from connectors.opcua.subscription import SubscriptionEngine
from connectors.opcua.values import converter
from connectors.ratelimit import RateLimitedLog
from connectors.sample import Sample, flag_names, now_ns

log = logging.getLogger(__name__)

_SUPERVISE_PERIOD_S = 1.0


class _ConnectionLost(Exception):
    pass


class OpcUaSource:
    """A `connectors.base.Source` for one OPC UA server."""

    def __init__(self, name: str, cfg: OpcUaSourceConfig, points: Sequence[OpcUaPointSpec], *,
                 pki: Pki | None = None) -> None:
        self.name = name
        self.cfg = cfg
        self.pki = pki  # own certificate and server trust list; needed by secured sources
        self.points = [PointState(spec, i) for i, spec in enumerate(points)]
        self._by_id = {p.point_id: p for p in self.points}
        self._health = SourceHealth(name=name, endpoint=cfg.endpoint, state_since_ns=now_ns(),
                                    points={p.point_id: p.health for p in self.points})
        self._emit: Emit | None = None
        self._client: Client | None = None
        self.subscriptions: SubscriptionEngine | None = None
        self.poll_groups: list[PollGroup] = []
        self.structures: StructureDecoder | None = None  # this session's structure definitions
        self.limits = ServerLimits()
        self._connected = asyncio.Event()
        self._flag_log = RateLimitedLog(log)
        url = urlsplit(cfg.endpoint)
        self._host, self._port = url.hostname or "localhost", url.port or 4840
        self.attempts = 0  # sessions tried (connects counts those that came up)
        if cfg.security.policy == "None":
            log.warning("%s: OPC UA security is None for %s: traffic is neither signed nor encrypted "
                        "(chosen explicitly in the configuration)", name, cfg.endpoint)

    # --- public ------------------------------------------------------------------------

    def health(self) -> SourceHealth:
        return self._health

    async def wait_connected(self) -> None:
        """Return once a session is up and collecting (use with asyncio.timeout)."""
        await self._connected.wait()

    async def run(self, emit: Emit) -> None:
        self._emit = emit
        rc = self.cfg.reconnect
        backoff = Backoff(rc.initial_delay_s, rc.max_delay_s, rc.jitter)
        try:
            while True:
                self._set_state(ConnectionState.CONNECTING)
                peer_down = False  # did the server stop accepting connections? (then it is probed)
                try:
                    self.attempts += 1
                    await self._session(backoff)
                except* _ConnectionLost as eg:
                    self._note_error(f"connection lost: {eg.exceptions[0]}")
                    peer_down = True
                except* SecurityError as eg:
                    self._note_error(str(eg.exceptions[0]))  # already names endpoint, cause and remedy
                except* (OSError, TimeoutError, ConnectionError, ua.UaError) as eg:
                    self._note_error(_describe(eg.exceptions[0]))
                    # refused or unreachable; not a timeout (a hung server accepts connections: no early retry)
                    peer_down = isinstance(eg.exceptions[0], OSError) and not isinstance(eg.exceptions[0], TimeoutError)
                except* Exception as eg:
                    log.exception("%s: unexpected error", self.name, exc_info=eg.exceptions[0])
                    self._note_error(_describe(eg.exceptions[0]))
                self._connected.clear()
                await self._mark_all(st.BAD_NOT_CONNECTED, "not connected")  # before the state: observers see both
                self._set_state(ConnectionState.DISCONNECTED)
                delay = backoff.next_delay()
                log.warning("%s: no session with %s (%s); reconnecting in %.1f s%s (attempt %d)", self.name,
                            self.cfg.endpoint, self._health.last_error, delay,
                            ", or as soon as it accepts connections again" if peer_down else "", backoff.attempts)
                if await wait_for_peer(delay, self._reachable, down=peer_down):
                    log.info("%s: %s accepts connections again; reconnecting now", self.name, self.cfg.endpoint)
        finally:
            self._connected.clear()
            self._set_state(ConnectionState.STOPPED)

    async def _reachable(self) -> bool:
        return await tcp_reachable(self._host, self._port, min(1.0, self.cfg.request_timeout_s))

    # --- session -------------------------------------------------------------------------

    def _make_client(self) -> Client:
        cfg = self.cfg
        client = Client(cfg.endpoint, timeout=cfg.request_timeout_s, watchdog_intervall=cfg.health_check_interval_s)
        client.name = "AAS Edge Gateway"
        client.description = "AAS Edge Gateway"
        client.application_uri = "urn:aas-gateway:client"
        client.product_uri = "urn:aas-gateway"
        client.session_timeout = int(cfg.session_timeout_s * 1000)
        return client

    async def _session(self, backoff: Backoff) -> None:
        client = self._make_client()
        lost = asyncio.Event()
        reason: list[str] = []

        async def on_lost(exc: Exception) -> None:
            reason.append(_describe(exc))
            lost.set()

        client.connection_lost_callback = on_lost
        self._client = client
        try:
            # endpoint choice and the server-certificate check come first: nothing secret is sent to an
            # untrusted server
            await secure_client(client, self.cfg, self.pki, self.name)
            await set_identity(client, self.cfg)
            try:
                await asyncio.wait_for(client.connect(), self.cfg.request_timeout_s * 2)
            except ua.UaStatusCodeError as e:
                refusal = explain_refusal(e, self.cfg)
                if refusal is None:
                    raise
                raise refusal from None
            namespaces = Namespaces(tuple(await client.get_namespace_array()), self.cfg.namespace)
            self.limits = await read_limits(client)
            resolved = await self._resolve(client, namespaces, self.points)
            await self._load_structures(client, resolved)
            async with asyncio.TaskGroup() as tg:
                if self.structures is not None:
                    tg.create_task(self._every(self.cfg.node_retry_interval_s, self.structures.resolve_misses))
                if self.cfg.mode == "subscription":
                    self.subscriptions = SubscriptionEngine(client, self.cfg, self.points, self.limits,
                                                            self._deliver, self._mark_missing, self.name)
                    await self.subscriptions.add(resolved)
                    tg.create_task(self._every(_SUPERVISE_PERIOD_S, self.subscriptions.supervise))
                    tg.create_task(self._every(self.cfg.node_check_interval_s, self.subscriptions.check_quiet_nodes))
                else:
                    self._start_polling(client, tg)
                tg.create_task(self._every(self.cfg.node_retry_interval_s,
                                           lambda: self._retry_missing(client, namespaces)))
                self._health.connects += 1
                self._set_state(ConnectionState.CONNECTED)
                self._health.last_error = None
                self._connected.set()
                backoff.reset()
                log.info("%s: connected to %s (%d points, %d missing, mode %s)", self.name, self.cfg.endpoint,
                         len(self.points), sum(p.missing for p in self.points), self.cfg.mode)
                await lost.wait()
                raise _ConnectionLost(reason[0] if reason else "transport closed")
        finally:
            self._client = None
            self.subscriptions = None
            self.poll_groups = []
            self.structures = None
            await _close_quietly(client)

    def _start_polling(self, client: Client, tg: asyncio.TaskGroup) -> None:
        groups: dict[float, list[PointState]] = {}
        for p in self.points:
            interval = p.spec.sampling_interval_ms or self.cfg.publishing_interval_ms
            groups.setdefault(interval, []).append(p)
        self.poll_groups = [PollGroup(client, interval, pts, self.limits, self._deliver, self._mark_missing, self.name)
                            for interval, pts in sorted(groups.items())]
        for g in self.poll_groups:
            tg.create_task(g.run())

    async def _every(self, period_s: float, fn: Callable[[], Awaitable[None]]) -> None:
        while True:
            await asyncio.sleep(period_s)
            await fn()

    # --- structures ---------------------------------------------------------------------------

    async def _load_structures(self, client: Client, resolved: Sequence[PointState]) -> None:
        """Load the server's definitions of the structures the points use (only if some point needs them).

        A type that cannot be loaded marks only its own points BadDataTypeIdUnknown; their values are
        still stored, undecoded and Uncertain (see connectors.opcua.structures).
        """
        needing = [p for p in self.points if p.needs_structures]
        decoder = StructureDecoder(client, self.limits.max_nodes_per_read, self.name) if needing else None
        self.structures = decoder
        for p in self.points:
            p.convert = converter(p.spec.type, decoder.decode if decoder is not None and p.needs_structures else None)
        if decoder is None:
            return
        typed = [p for p in resolved if p.needs_structures and p.spec.type and p.spec.type.startswith("Structure")]
        if not typed:
            return

        async def read_data_types(batch: Sequence[PointState]) -> list[ua.DataValue]:
            params = ua.ReadParameters()
            for p in batch:
                params.NodesToRead.append(ua.ReadValueId(NodeId=p.node_id, AttributeId=ua.AttributeIds.DataType))
            return await client.uaclient.read(params)

        unusable: dict[tuple[str, str], list[PointState]] = {}  # (data type, why) -> its points
        try:
            results = await call_chunked(typed, self.limits.max_nodes_per_read, read_data_types)
            data_types = {p: dv.Value.Value for p, dv in zip(typed, results, strict=True)
                          # asyncua decodes an absent StatusCode as Good, never None
                          if dv.StatusCode.is_good()  # type: ignore[union-attr]
                          and dv.Value is not None and isinstance(dv.Value.Value, ua.NodeId)}
            failed = await decoder.load(data_types.values())
            for p, t in data_types.items():
                if t in failed:
                    unusable.setdefault((t.to_string(), failed[t]), []).append(p)
        except (ua.UaError, TimeoutError) as e:
            unusable[("?", f"reading structure definitions failed: {_describe(e)}")] = typed
        for (type_text, why), pts in unusable.items():  # one line per type, not per point
            log.warning("%s: structure type %s cannot be decoded: %s; the values of its %d point(s) (%s%s) are "
                        "kept undecoded (typeId and body) and marked Uncertain", self.name, type_text, why, len(pts),
                        pts[0].point_id, ", ..." if len(pts) > 1 else "")
            for p in pts:
                await self._emit_status(p, ua.StatusCodes.BadDataTypeIdUnknown)
        log.info("%s: structure definitions loaded for %d point(s) (%d unusable, %d request(s))", self.name,
                 len(typed), sum(len(v) for v in unusable.values()), decoder.requests)

    # --- addressing -------------------------------------------------------------------------

    async def _resolve(self, client: Client, ns: Namespaces, points: Sequence[PointState]) -> list[PointState]:
        """Resolve addresses of `points`; unresolvable ones are marked missing. Returns the resolved ones.

        A resolved point stays `missing` until its node answers (monitored item created, or read).
        """
        by_path: list[tuple[PointState, ua.BrowsePath]] = []
        ok: list[PointState] = []
        for p in points:
            try:
                if p.spec.node is not None:
                    p.node_id = parse_node_id(p.spec.node, ns)
                    ok.append(p)
                else:
                    by_path.append((p, parse_browse_path(p.spec.browse_path or "", ns)))
            except AddressError as e:
                p.node_id = None
                await self._mark_missing(p, e.status, str(e))
        if by_path:
            results = await translate_browse_paths(client, [bp for _, bp in by_path],
                                                   self.limits.max_nodes_per_translate)
            for (p, _), res in zip(by_path, results, strict=True):
                if isinstance(res, AddressError):
                    p.node_id = None
                    await self._mark_missing(p, res.status, str(res))
                else:
                    p.node_id = res
                    ok.append(p)
        return ok

    async def _retry_missing(self, client: Client, ns: Namespaces) -> None:
        missing = [p for p in self.points if p.missing]
        if not missing:
            return
        log.debug("%s: retrying %d missing point(s)", self.name, len(missing))
        resolved = await self._resolve(client, ns, missing)
        if self.subscriptions is not None and resolved:
            await self.subscriptions.add(resolved)
        # in poll mode the next poll reads them; if still gone they are marked missing again

    # --- samples and status -------------------------------------------------------------------

    async def _deliver(self, samples: list[Sample]) -> None:
        by_id = self._by_id
        last = 0
        flagged: Sample | None = None
        n_flagged = 0
        for s in samples:
            p = by_id[s.point]
            h = p.health
            h.status = s.status
            h.last_sample_ns = last = s.received_ts
            h.error = None
            p.last_key = (s.value, s.status, s.source_ts)
            if s.flags:
                flagged = s
                n_flagged += 1
        self._health.last_sample_ns = last
        if flagged is not None:
            self._flag_log.warning(
                "timestamps", "%s: %s sends timestamps that are no time (OPC UA's null DateTime, before 1970, or "
                "over a year ahead); those samples are kept without them and flagged (latest: %s %s)",
                self.name, self.cfg.endpoint, flagged.point, "+".join(flag_names(flagged.flags)), count=n_flagged)
        self._flag_log.flush()
        assert self._emit is not None
        await self._emit(samples)

    async def _mark_missing(self, p: PointState, status: int, message: str) -> None:
        # warn on the transition only: a node missing for a month must not log every retry
        level = logging.WARNING if not p.missing or p.health.status != status else logging.DEBUG
        log.log(level, "%s: point %s (%s) is bad: %s [%s]; retrying every %.0f s", self.name, p.point_id,
                p.spec.address(), message, st.status_name(status), self.cfg.node_retry_interval_s)
        p.missing = True
        p.health.error = message
        await self._emit_status(p, status)

    async def _mark_all(self, status: int, message: str) -> None:
        changed = [p for p in self.points if p.health.status != status]
        if changed:
            now = now_ns()
            await self._deliver([Sample(p.point_id, None, None, None, now, status) for p in changed])
        for p in self.points:
            p.health.error = message

    async def _emit_status(self, p: PointState, status: int) -> None:
        """Record a status-only sample when a point's quality changes (bad values are visible, not dropped)."""
        if p.health.status == status:
            return
        error = p.health.error
        await self._deliver([Sample(p.point_id, None, None, None, now_ns(), status)])
        p.health.error = error

    def _set_state(self, state: ConnectionState) -> None:
        self._health.set_state(state, now_ns())

    def _note_error(self, message: str) -> None:
        self._health.last_error = message

    async def write(self, point_id: str, value: object, value_type: str) -> None:
        """`connectors.base.WritableSource`: one value to the machine; WriteError names a refusal."""
        from connectors.opcua.writer import write_value  # here, so the write path stays out of the read path

        client = self._client if self._connected.is_set() else None
        await write_value(client, self._by_id[point_id].node_id, value, value_type, self.cfg.request_timeout_s)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, ua.UaStatusCodeError):
        return f"{type(exc).__name__}: {exc}"
    if isinstance(exc, asyncio.TimeoutError | TimeoutError):
        return "timed out"
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


async def _close_quietly(client: Client) -> None:
    """Tear a session down without hanging on a dead peer."""
    try:
        await asyncio.wait_for(client.disconnect(), 2.0)
    except Exception:
        pass
    with contextlib.suppress(Exception):
        client.disconnect_socket()
    # make sure no asyncua background task outlives the session
    for attr in ("_supervisor_task", "_stale_watchdog_task", "_renew_channel_task"):
        task = getattr(client, attr, None)
        if task is not None and not task.done():
            task.cancel()
