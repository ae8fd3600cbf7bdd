"""The InfluxDB northbound sink: historian records to `/api/v2/write`, acknowledged.

The forwarder advances its cursor when `send` returns, so `send` returns only
after the server answered 204 for every line, and it must decide for each
failure whether waiting can fix it (raise `TransientError`, the batch is
retried) or not (the record is returned as rejected, and the rest flows on).

Error classification:

=====================================  ====================================================
server answer                          what `send` does
=====================================  ====================================================
204                                    delivered
400, 413, 422 (bad data / too big)     split the batch (bisect; lines the server names are
                                       dropped at once) until the bad records are isolated;
                                       those are rejected with the server's reason
401, 403 (token)                       TransientError: the data waits until the token is fixed
404 (org or bucket missing)            TransientError: the data waits until it exists
429, 408, 5xx, other statuses          TransientError with the Retry-After delay, if given
connection refused/reset, timeout,     TransientError
TLS failure
=====================================  ====================================================

Re-sending lines is harmless in InfluxDB: a write of the same series, field
and timestamp overwrites the value with itself. That is what makes retrying
a whole batch after a partial success, and bisecting, safe. VictoriaMetrics
keeps such duplicates unless it runs with ``-dedup.minScrapeInterval=1ms``.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, cast, overload

from connectors.base import PointMeta, Record, SendResult, TransientError
from connectors.batch import EncodedBatch, RecordBatch, as_batch
from connectors.influx.config import InfluxConfig
from connectors.influx.lineprotocol import LineBatchEncoder, LineEncoder
from connectors.influx.segment import linked_segment
from connectors.ratelimit import RateLimitedLog

if TYPE_CHECKING:
    # imported when a sink starts, not with this module: influxdb-client brings numpy and reactivex
    # (~12 MB of RSS), which a gateway without an InfluxDB forwarder does not need
    from influxdb_client import InfluxDBClient, WritePrecision
    from influxdb_client.client.write_api import WriteApi
    from influxdb_client.rest import ApiException

log = logging.getLogger(__name__)

# statuses that mean "this data can never be written"; everything else is worth waiting for
_DATA_ERRORS = {400, 413, 422}
# upper bound on extra requests spent isolating bad lines in one send(); past it, a failing
# part is rejected whole rather than split further (dead letters can be replayed, a stall cannot)
MAX_ISOLATION_REQUESTS = 256
# a server (or clock skew in an HTTP date) must not park the forwarder for longer than this
MAX_RETRY_AFTER_S = 3600.0
_MAX_REASON = 500


class _DataRejected(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message

    @property
    def reason(self) -> str:
        return f"HTTP {self.status}: {self.message}"


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP date); None if absent/invalid."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    return min(max(seconds, 0.0), MAX_RETRY_AFTER_S)


def _server_message(exc: ApiException) -> str:
    msg = getattr(exc, "message", None) or exc.body or exc.reason or ""
    if isinstance(msg, bytes):
        msg = msg.decode("utf-8", "replace")
    msg = " ".join(str(msg).split())
    return msg[:_MAX_REASON] or "(no message)"


def _is_transport_error(exc: BaseException) -> bool:
    # urllib3 is influxdb-client's transport; matched by module so the connector needs no import of it
    return isinstance(exc, OSError) or any(c.__module__.startswith("urllib3") for c in type(exc).__mro__)


class _BodyLines(Sequence[str]):
    """A worker's body as the lines `_write_isolating` works on: split only if a server rejects a part of it."""

    def __init__(self, body: bytes, count: int) -> None:
        self.body = body
        self._count = count
        self._lines: list[str] | None = None

    def __len__(self) -> int:
        return self._count

    @overload
    def __getitem__(self, index: int) -> str: ...

    @overload
    def __getitem__(self, index: slice) -> list[str]: ...

    def __getitem__(self, index: int | slice) -> str | list[str]:
        if self._lines is None:
            self._lines = self.body.decode().split("\n") if self._count else []
        return self._lines[index]


def _joined(lines: Sequence[str]) -> str | bytes:
    return lines.body if isinstance(lines, _BodyLines) else "\n".join(lines)


class _RowRecords(Sequence[Record]):
    """The Records behind the encoded lines of a batch, built only for the few a server rejects."""

    def __init__(self, batch: RecordBatch | EncodedBatch, positions: Sequence[int]) -> None:
        self._batch = batch
        self._positions = positions

    def __len__(self) -> int:
        return len(self._positions)

    @overload
    def __getitem__(self, index: int) -> Record: ...

    @overload
    def __getitem__(self, index: slice) -> _RowRecords: ...

    def __getitem__(self, index: int | slice) -> Record | _RowRecords:
        if isinstance(index, slice):
            return _RowRecords(self._batch, self._positions[index])
        return self._batch.record(self._positions[index])


# lines, the record behind each line, records that cannot be encoded (with why)
_Encoded = tuple[Sequence[str], Sequence[Record], list[tuple[Record, str]]]


class InfluxSink:
    """Writes records as line protocol with the synchronous client, in a worker thread of its own.

    Encoding has a thread of its own too: the forwarder hands over the next batch (`prepare`) while
    the current one is on the wire, so building lines overlaps the server's work instead of adding
    to it (`send` of a batch that was not prepared encodes it first).
    """

    def __init__(self, name: str, cfg: InfluxConfig, meta: Mapping[str, PointMeta]) -> None:
        self.name = name
        self.cfg = cfg
        self._meta = meta
        self._encoder = LineEncoder(cfg.measurement, cfg.tags, cfg.precision, meta)
        self._client: InfluxDBClient | None = None
        self._write_api: WriteApi | None = None
        # one thread: requests leave in record order, and a slow server never occupies the default pool
        self._executor: ThreadPoolExecutor | None = None
        self._encoding: ThreadPoolExecutor | None = None  # one thread: the encoder's caches have one writer
        self._prepared: tuple[Sequence[Record], _Encoded] | None = None  # the latest batch encoded ahead
        self._closing = threading.Event()
        self._failing: str | None = None  # cause of the current outage, logged once per change
        # counters (read by the gateway's metrics; written only by the worker thread)
        self.points_written = 0
        self.batches_written = 0
        self.requests = 0
        self.retries = 0  # TransientErrors raised: each one means the forwarder retries the batch
        self.rejected = 0
        self._rejected_log = RateLimitedLog(log)
        self.isolation_requests = 0
        self.last_error: str | None = None

    @property
    def endpoint(self) -> str:
        return f"{self.cfg.url} (org {self.cfg.org!r}, bucket {self.cfg.bucket!r})"

    async def start(self) -> None:
        from influxdb_client import InfluxDBClient
        from influxdb_client.client.write_api import SYNCHRONOUS

        cfg = self.cfg
        # constructing the client does no I/O: a server that is down only shows in send()
        self._client = InfluxDBClient(
            url=cfg.url,
            token=cfg.token.get_secret_value() if cfg.token is not None else "",
            org=cfg.org,
            timeout=int(cfg.timeout_s * 1000),
            enable_gzip=cfg.gzip,
            verify_ssl=cfg.verify_ssl,
            ssl_ca_cert=cfg.ca_file,
        )
        self._write_api = self._client.write_api(write_options=SYNCHRONOUS)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"influx-{self.name}")
        self._encoding = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"influx-encode-{self.name}")
        self._closing.clear()
        log.info("InfluxDB sink %s writes to %s, measurement %r, precision %s",
                 self.name, self.endpoint, cfg.measurement, cfg.precision)

    def batch_encoder(self) -> LineBatchEncoder:
        """The same lines, encoded in the forwarder's worker process (connectors.batch.EncodesInWorker)."""
        return LineBatchEncoder(self.cfg.measurement, self.cfg.tags, self.cfg.precision, self._meta)

    async def prepare(self, records: Sequence[Record]) -> None:
        """Encode `records` now, off the event loop, for the `send` that follows (see PreparesBatches)."""
        encoded = await self._encoded(records)
        self._prepared = (records, encoded)

    async def _encoded(self, records: Sequence[Record]) -> _Encoded:
        if self._encoding is None:
            raise RuntimeError(f"InfluxDB sink {self.name}: used before start()")
        return await asyncio.get_running_loop().run_in_executor(self._encoding, self._encode, records)

    async def send(self, records: Sequence[Record], historical_before_ns: int) -> SendResult:
        # historical_before_ns: line protocol has no way to flag replays; timestamps say it all
        if self._executor is None:
            raise RuntimeError(f"InfluxDB sink {self.name}: send() before start()")
        if not records:
            return SendResult()
        if isinstance(records, EncodedBatch):  # read and encoded by the forwarder's worker: post the body
            return await asyncio.get_running_loop().run_in_executor(self._executor, self._send_encoded, records)
        prepared = self._prepared  # kept after use: a retry of the same batch reuses it
        encoded = prepared[1] if prepared is not None and prepared[0] is records else await self._encoded(records)
        return await asyncio.get_running_loop().run_in_executor(self._executor, self._send_sync, encoded)

    async def close(self) -> None:
        self._closing.set()
        self._prepared = None
        executor, self._executor = self._executor, None
        if executor is not None:
            # waits for a request in flight (bounded by timeout_s) without blocking the loop
            await asyncio.to_thread(executor.shutdown, wait=True)
        encoding, self._encoding = self._encoding, None
        if encoding is not None:
            await asyncio.to_thread(encoding.shutdown, wait=True)
        if self._write_api is not None:
            self._write_api.close()
            self._write_api = None
        if self._client is not None:
            self._client.close()
            self._client = None

    # --- worker thread ----------------------------------------------------------------------

    def _encode(self, records: Sequence[Record]) -> _Encoded:
        batch = as_batch(records)
        if batch is not None:  # historian rows: lines without a Sample per row (see connectors.batch)
            lines, positions, rejected = self._encoder.encode_batch(batch)
            return lines, _RowRecords(batch, positions), rejected
        return self._encoder.encode_records(records)

    def _send_encoded(self, batch: EncodedBatch) -> SendResult:
        failed = batch.failed_records() if batch.failed else []  # reads their rows back: rare
        return self._send_sync((_BodyLines(batch.body, batch.lines), _RowRecords(batch, batch.line_rows), failed))

    def _send_sync(self, encoded_batch: _Encoded) -> SendResult:
        lines, encoded, not_encodable = encoded_batch
        rejected = list(not_encodable)  # a copy: a retried batch starts from the same encoding
        delivered = 0
        budget = [MAX_ISOLATION_REQUESTS]
        try:
            size = self.cfg.batch_size
            for start in range(0, len(lines), size):
                part = lines if len(lines) <= size else lines[start:start + size]
                d, r = self._write_isolating(part, encoded[start:start + size], budget)
                delivered += d
                rejected.extend(r)
        except TransientError as e:
            self.retries += 1
            self.last_error = str(e)
            cause = str(e).split(":", 1)[0]
            if cause != self._failing:
                self._failing = cause
                log.error("InfluxDB sink %s: %s; the batch stays in the historian and is retried", self.name, e)
            raise
        if self._failing is not None:
            log.info("InfluxDB sink %s: %s accepts writes again", self.name, self.endpoint)
            self._failing = None
        if rejected:
            rejected.sort(key=lambda item: item[0].seq)
            self.rejected += len(rejected)
            self._rejected_log.warning("rejected", "InfluxDB sink %s: records rejected (latest batch's first: seq %d: "
                                       "%s)", self.name, rejected[0][0].seq, rejected[0][1], count=len(rejected))
        self._rejected_log.flush()
        self.points_written += delivered
        return SendResult(delivered=delivered, rejected=rejected)

    def _write_isolating(self, lines: Sequence[str], recs: Sequence[Record],
                         budget: list[int]) -> tuple[int, list[tuple[Record, str]]]:
        """Write `lines`; on a data error, split until the bad lines are found. Returns (delivered, rejected)."""
        delivered = 0
        rejected: list[tuple[Record, str]] = []
        stack: list[list[int]] = [list(range(len(lines)))]
        first = True
        while stack:
            part = stack.pop()
            if not first:
                budget[0] -= 1
                self.isolation_requests += 1
            first = False
            try:
                self._post(_joined(lines) if len(part) == len(lines) else "\n".join([lines[i] for i in part]))
            except _DataRejected as e:
                if len(part) == 1:
                    rejected.append((recs[part[0]], e.reason))
                    continue
                named = self._named_lines(e.message, lines, part)
                if named:
                    rejected.extend((recs[i], e.reason) for i in named)
                    rest = [i for i in part if i not in named]
                    if rest:
                        stack.append(rest)
                elif budget[0] <= 0:
                    rejected.extend((recs[i], f"{e.reason} (in a part of {len(part)} lines not split further: "
                                              "too many failing requests in one batch)") for i in part)
                else:
                    mid = len(part) // 2
                    stack.append(part[mid:])  # the stack pops the first half first: writes keep record order
                    stack.append(part[:mid])
                continue
            delivered += len(part)
        return delivered, rejected

    @staticmethod
    def _named_lines(message: str, lines: Sequence[str], part: list[int]) -> set[int]:
        """Lines the server quoted in its error (InfluxDB: "unable to parse '<line>': ...")."""
        if "'" not in message:
            return set()
        return {i for i in part if f"'{lines[i]}'" in message}

    def _post(self, body: str | bytes) -> None:
        if self._closing.is_set() or self._write_api is None:
            raise TransientError(f"sink closing: InfluxDB sink {self.name} is shutting down")
        from influxdb_client.rest import ApiException

        self.requests += 1
        try:
            self._write_api.write(bucket=self.cfg.bucket, org=self.cfg.org, record=body,
                                  # the client's WritePrecision values are these very strings
                                  write_precision=cast("WritePrecision", self.cfg.precision))
        except ApiException as e:
            raise self._classify(e) from e
        except Exception as e:
            if not _is_transport_error(e):
                raise
            raise TransientError(f"cannot reach InfluxDB: {self.endpoint}: {type(e).__name__}: {e}") from e
        self.batches_written += 1

    def _classify(self, e: ApiException) -> Exception:
        status = int(e.status or 0)
        message = _server_message(e)
        if status in _DATA_ERRORS:
            return _DataRejected(status, message)
        retry_after = parse_retry_after(getattr(e, "retry_after", None))
        if status in (401, 403):
            return TransientError(f"token refused: InfluxDB {self.endpoint} answered HTTP {status} ({message}); "
                                  "check the token and its write permission on the bucket", retry_after)
        if status == 404:
            return TransientError(f"not found: InfluxDB {self.endpoint} answered HTTP 404 ({message}); "
                                  "check org and bucket", retry_after)
        return TransientError(f"HTTP {status}: InfluxDB {self.endpoint}: {message}", retry_after)


__all__ = ["InfluxSink", "linked_segment", "parse_retry_after"]
