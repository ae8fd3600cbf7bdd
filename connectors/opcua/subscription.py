"""Subscriptions and monitored items on one session, and their self-healing.

We drive asyncua's low-level service calls ourselves instead of its
high-level `Subscription` object: notifications arrive as one batch per
PublishResponse (no task per value), client handles index straight into the
point table, and we decide how to rebuild. A subscription is rebuilt when
the server reports a status change (e.g. it timed out) or when neither data
nor keep-alive arrived for 1.5 keep-alive periods: the silent-subscription
failure that Telegraf, OPC Publisher and Node-RED users report most.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Awaitable, Callable, Sequence

from asyncua import Client, ua

import connectors.opcua.codec  # noqa: F401  (Part 6 DataValue order before any asyncua use)
from connectors.opcua.config import OpcUaSourceConfig
from connectors.opcua.limits import ServerLimits, call_chunked, chunked
from connectors.opcua.state import PointState
from connectors.opcua.values import to_sample
from connectors.sample import Sample, now_ns

log = logging.getLogger(__name__)

Deliver = Callable[[list[Sample]], Awaitable[None]]
MarkMissing = Callable[[PointState, int, str], Awaitable[None]]

_MISSING_CODES = {ua.StatusCodes.BadNodeIdUnknown, ua.StatusCodes.BadNodeIdInvalid,
                  ua.StatusCodes.BadAttributeIdInvalid}


class _Subscription:
    def __init__(self, sub_id: int, interval_ms: float, keepalive_count: int) -> None:
        self.id = sub_id
        self.interval_ms = interval_ms
        self.keepalive_count = keepalive_count
        self.points: set[PointState] = set()
        self.last_publish = time.monotonic()
        self.needs_rebuild: str | None = None

    def stale_after_s(self) -> float:
        return self.interval_ms / 1000 * self.keepalive_count * 1.5 + 2.0


class SubscriptionEngine:
    def __init__(self, client: Client, cfg: OpcUaSourceConfig, points: Sequence[PointState],
                 limits: ServerLimits, deliver: Deliver, mark_missing: MarkMissing, name: str) -> None:
        self._client = client
        self._cfg = cfg
        self._points = points
        self._limits = limits
        self._deliver = deliver
        self._mark_missing = mark_missing
        self._name = name
        self.subscriptions: list[_Subscription] = []
        self.rebuilds = 0
        per_sub = cfg.max_items_per_subscription
        if limits.max_monitored_items_per_subscription:
            per_sub = min(per_sub, limits.max_monitored_items_per_subscription)
        self._per_sub = per_sub

    # --- creation ----------------------------------------------------------------

    async def _create_subscription(self) -> _Subscription:
        interval = self._cfg.publishing_interval_ms
        keepalive = max(1, math.ceil(self._cfg.keepalive_s * 1000 / interval))
        params = ua.CreateSubscriptionParameters()
        params.RequestedPublishingInterval = interval
        params.RequestedMaxKeepAliveCount = keepalive
        # the server drops a subscription nobody publishes for after lifetime x interval
        params.RequestedLifetimeCount = keepalive * 6
        params.MaxNotificationsPerPublish = 20000
        params.PublishingEnabled = True
        params.Priority = 0
        holder: list[_Subscription] = []

        async def callback(result: ua.PublishResult) -> None:
            if holder:
                await self._on_publish(holder[0], result)

        res = await self._client.uaclient.create_subscription(params, callback)
        sub = _Subscription(res.SubscriptionId, res.RevisedPublishingInterval or interval,
                            res.RevisedMaxKeepAliveCount or keepalive)
        holder.append(sub)
        self.subscriptions.append(sub)
        log.debug("%s: subscription %s created (interval %.0f ms, keep-alive x%d)", self._name, sub.id,
                  sub.interval_ms, sub.keepalive_count)
        return sub

    def _item_request(self, p: PointState) -> ua.MonitoredItemCreateRequest:
        spec = p.spec
        req = ua.MonitoredItemCreateRequest()
        req.ItemToMonitor = ua.ReadValueId(NodeId=p.node_id, AttributeId=ua.AttributeIds.Value)
        req.MonitoringMode = ua.MonitoringMode.Reporting
        mp = ua.MonitoringParameters()
        mp.ClientHandle = p.handle
        mp.SamplingInterval = (spec.sampling_interval_ms if spec.sampling_interval_ms is not None
                               else self._cfg.sampling_interval_ms)
        mp.QueueSize = spec.queue_size if spec.queue_size is not None else self._cfg.queue_size
        mp.DiscardOldest = True
        if spec.deadband is not None:
            flt = ua.DataChangeFilter()
            flt.Trigger = ua.DataChangeTrigger.StatusValue
            flt.DeadbandType = (ua.DeadbandType.Absolute if spec.deadband.type == "absolute"
                                else ua.DeadbandType.Percent)
            flt.DeadbandValue = spec.deadband.value
            mp.Filter = flt
        req.RequestedParameters = mp
        return req

    async def add(self, points: Sequence[PointState]) -> None:
        """Create monitored items for `points`, filling subscriptions up to their size limit."""
        pending = list(points)
        for sub in self.subscriptions:
            room = self._per_sub - len(sub.points)
            if room > 0 and pending:
                await self._create_items(sub, pending[:room])
                pending = pending[room:]
        for group in chunked(pending, self._per_sub):
            sub = await self._create_subscription()
            await self._create_items(sub, group)

    async def _create_items(self, sub: _Subscription, points: Sequence[PointState]) -> None:
        for p in points:  # before the call: initial values may arrive before its response
            p.subscription = sub
            p.seen = False
            sub.points.add(p)
        requests = [self._item_request(p) for p in points]

        async def call(batch: Sequence[ua.MonitoredItemCreateRequest]) -> list[ua.MonitoredItemCreateResult]:
            params = ua.CreateMonitoredItemsParameters()
            params.SubscriptionId = sub.id
            params.TimestampsToReturn = ua.TimestampsToReturn.Both
            params.ItemsToCreate = list(batch)
            return await self._client.uaclient.create_monitored_items(params)

        def shrink(size: int) -> None:
            self._limits.max_monitored_items_per_call = size

        try:
            results = await call_chunked(requests, self._limits.max_monitored_items_per_call, call, shrink)
        except BaseException:
            for p in points:
                sub.points.discard(p)
                p.subscription = None
            raise
        for p, res in zip(points, results, strict=True):
            if res.StatusCode.is_good():
                p.monitored_item_id = res.MonitoredItemId
                if p.missing:
                    p.missing = False
                    log.info("%s: point %s is back (%s)", self._name, p.point_id, p.spec.address())
            else:
                sub.points.discard(p)
                p.subscription = None
                p.monitored_item_id = None
                await self._mark_missing(p, res.StatusCode.value, f"monitored item refused: {res.StatusCode.name}")

    async def remove(self, points: Sequence[PointState]) -> None:
        """Delete the monitored items of `points` (best effort: the node may be gone already)."""
        by_sub: dict[_Subscription, list[PointState]] = {}
        for p in points:
            if p.subscription is not None:
                by_sub.setdefault(p.subscription, []).append(p)
        for sub, pts in by_sub.items():
            ids = [p.monitored_item_id for p in pts if p.monitored_item_id is not None]
            for p in pts:
                sub.points.discard(p)
                p.subscription = None
                p.monitored_item_id = None
            if ids:
                params = ua.DeleteMonitoredItemsParameters()
                params.SubscriptionId = sub.id
                params.MonitoredItemIds = ids
                try:
                    await self._client.uaclient.delete_monitored_items(params)
                except ua.UaStatusCodeError as e:
                    log.debug("%s: delete monitored items: %s", self._name, e)

    # --- notifications ---------------------------------------------------------------

    async def _on_publish(self, sub: _Subscription, result: ua.PublishResult) -> None:
        sub.last_publish = time.monotonic()
        data = result.NotificationMessage.NotificationData
        if not data:
            return  # keep-alive
        now = now_ns()
        samples: list[Sample] = []
        gone: list[PointState] = []
        points = self._points
        for notif in data:
            if isinstance(notif, ua.DataChangeNotification):
                for item in notif.MonitoredItems:
                    h = item.ClientHandle
                    if h >= len(points):
                        continue
                    p = points[h]
                    if p.subscription is not sub:
                        continue  # late notification of an item we already dropped
                    p.seen = True
                    s = to_sample(p.spec.point_id, item.Value, now, p.convert)
                    samples.append(s)
                    if s.status in _MISSING_CODES:
                        gone.append(p)
            elif isinstance(notif, ua.StatusChangeNotification):
                code = notif.Status
                log.warning("%s: server reported status %s for subscription %s; rebuilding it",
                            self._name, code.name if hasattr(code, "name") else code, sub.id)
                sub.needs_rebuild = f"status change {code}"
        if samples:
            await self._deliver(samples)
        if gone:  # a server that does report a deleted node: drop the item, retry like any missing node
            await self.remove(gone)
            for p in gone:
                await self._mark_missing(p, p.health.status or ua.StatusCodes.BadNodeIdUnknown,
                                         "server reports the node no longer exists")

    # --- supervision -----------------------------------------------------------------

    async def supervise(self) -> None:
        """One watchdog pass: rebuild subscriptions that are silent or reported bad."""
        now = time.monotonic()
        for sub in list(self.subscriptions):
            reason = sub.needs_rebuild
            silent = now - sub.last_publish
            if reason is None and silent > sub.stale_after_s():
                reason = f"no publish response or keep-alive for {silent:.1f} s"
            if reason is not None:
                await self.rebuild(sub, reason)

    async def rebuild(self, sub: _Subscription, reason: str) -> None:
        log.warning("%s: rebuilding subscription %s (%s)", self._name, sub.id, reason)
        self.rebuilds += 1
        self.subscriptions.remove(sub)
        points = list(sub.points)
        for p in points:
            p.subscription = None
            p.monitored_item_id = None
        try:
            await self._client.uaclient.delete_subscriptions([sub.id])
        except Exception as e:  # it may be gone on the server already; that is why we are here
            log.debug("%s: delete of subscription %s failed: %s", self._name, sub.id, e)
        new = await self._create_subscription()
        for group in chunked(points, self._per_sub):
            await self._create_items(new, group)

    async def check_quiet_nodes(self) -> None:
        """Find subscribed nodes that went silent because they no longer exist.

        Some servers (asyncua among them) send nothing when a monitored node is
        deleted, e.g. by a PLC program download. Nodes that reported since the
        last pass are alive; the quiet ones get a cheap NodeClass read.
        """
        quiet = []
        for sub in self.subscriptions:
            for p in sub.points:
                if not p.seen:
                    quiet.append(p)
                p.seen = False
        if not quiet:
            return

        async def call(batch: Sequence[PointState]) -> list[ua.DataValue]:
            params = ua.ReadParameters()
            for p in batch:
                params.NodesToRead.append(ua.ReadValueId(NodeId=p.node_id, AttributeId=ua.AttributeIds.NodeClass))
            return await self._client.uaclient.read(params)

        results = await call_chunked(quiet, self._limits.max_nodes_per_read, call)
        gone = []
        for p, dv in zip(quiet, results, strict=True):
            code = dv.StatusCode.value if dv.StatusCode is not None else 0
            if code in _MISSING_CODES:
                gone.append((p, code))
        if gone:
            await self.remove([p for p, _ in gone])
            for p, code in gone:
                await self._mark_missing(p, code, "node no longer exists on the server")
