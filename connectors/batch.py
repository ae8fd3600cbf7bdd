"""A batch of historian rows that reads as a sequence of Records, built only when asked for.

Forwarding is the one place where the gateway handles hundreds of thousands
of samples per second. Turning every stored row into a `Sample` and a
`Record` costs more than a hand-written forwarder spends on the whole
sample, so the historian hands over its rows as they came out of SQLite.
A sink with a fast path (the InfluxDB line encoder) formats straight from
`rows`; any other sink uses the batch as the `Sequence[Record]` the `ForwardSink`
protocol promises, and pays for the objects then. Rejected samples are
always reported as Records, so dead letters look the same either way.

A row holds only what a line needs (the effective timestamp, not the three it
was chosen from): every column read costs the fast path about 0.1 µs per row.
The source, server and receive times are read from the historian, for the
whole batch at once, when the first Record is built; that read blocks, so
Records are built off the event loop (the sinks' worker threads do).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, Protocol, overload, runtime_checkable

from connectors.base import Record
from connectors.sample import Sample

# seq, series id, stored value, status, ts (source, else server, else receive)
Row = tuple[int, int, Any, int, int]
# source, server and receive time of a sample
SampleTimes = tuple[int | None, int | None, int]
# (first seq, last seq) -> the SampleTimes of each stored seq in that range; blocking
TimesLoader = Callable[[int, int], Mapping[int, SampleTimes]]


class BatchSeries:
    """What a batch knows of one series id: the point id, and how to turn a stored value back into Python."""

    __slots__ = ("decode", "point")

    def __init__(self, point: str, decode: Callable[[Any], Any] | None) -> None:
        self.point = point
        self.decode = decode  # None: values are stored as they are

    def value(self, stored: Any) -> Any:
        # floats (the common case) are never encoded; booleans come back as 0/1, big ints and JSON as text
        if self.decode is None or stored is None or type(stored) is float:
            return stored
        return self.decode(stored)


class RecordBatch(Sequence[Record]):
    """Rows in seq order, plus the series they belong to; a `Sequence[Record]` on demand."""

    __slots__ = ("_load_times", "_records", "_times", "rows", "series")

    def __init__(self, rows: list[Row], series: Mapping[int, BatchSeries], times: TimesLoader) -> None:
        self.rows = rows
        self.series = series
        self._load_times = times
        self._times: Mapping[int, SampleTimes] | None = None
        self._records: list[Record] | None = None

    @property
    def last_seq(self) -> int:
        return self.rows[-1][0]

    def info(self, series_id: int) -> BatchSeries:
        return self.series.get(series_id) or BatchSeries(f"#{series_id}", None)

    def records(self) -> list[Record]:
        """Every row as a Record (built once, then kept)."""
        if self._records is None:
            self._records = [self.record(i) for i in range(len(self.rows))]
        return self._records

    def record(self, index: int) -> Record:
        """The Record of one row (blocking: the batch's sample times are read on first use)."""
        seq, sid, value, status, ts = self.rows[index]
        if self._times is None:
            self._times = self._load_times(self.rows[0][0], self.rows[-1][0])
        # a row gone meanwhile (the disk cap drops unforwarded rows) keeps its effective time only
        src, srv, rcv = self._times.get(seq) or (None, None, ts)
        info = self.info(sid)
        return Record(seq, Sample(info.point, info.value(value), src, srv, rcv, status))

    def __len__(self) -> int:
        return len(self.rows)

    @overload
    def __getitem__(self, index: int) -> Record: ...

    @overload
    def __getitem__(self, index: slice) -> list[Record]: ...

    def __getitem__(self, index: int | slice) -> Record | list[Record]:
        if isinstance(index, slice):
            return self.records()[index]
        if self._records is not None:
            return self._records[index]
        return self.record(index if index >= 0 else len(self.rows) + index)

    def __iter__(self) -> Iterator[Record]:
        return iter(self.records())

    def __bool__(self) -> bool:
        return bool(self.rows)


def as_batch(records: Sequence[Record]) -> RecordBatch | None:
    """The batch behind `records` if it is one (a sink's cue to take its fast path)."""
    return records if isinstance(records, RecordBatch) else None


class BatchEncoder(Protocol):
    """A sink's encoding of historian rows, picklable: it may run in a worker process (see `EncodedBatch`).

    `encode` returns the request body, the row index of each of its lines (in order), and the rows that
    cannot be encoded, by index, with why. It must not call `batch.record` (no historian in a worker).
    """

    def encode(self, batch: RecordBatch) -> tuple[bytes, Sequence[int], list[tuple[int, str]]]: ...


@runtime_checkable
class EncodesInWorker(Protocol):
    """Optional for a ForwardSink: its encoding of a batch can run in the forwarder's worker process.

    `batch_encoder()` returns a picklable `BatchEncoder`, or None to encode in the gateway's process. With
    one, the forwarder's worker reads and encodes each batch and `send` gets an `EncodedBatch`; whenever the
    worker is not available `send` gets a plain batch as before, so a sink handles both.
    """

    def batch_encoder(self) -> BatchEncoder | None: ...


# (first seq, last seq) -> those rows as a RecordBatch, read from the historian; blocking
RowsLoader = Callable[[int, int], RecordBatch]


class EncodedBatch(Sequence[Record]):
    """A batch a worker process read and encoded: the body to send, and Records only when asked for.

    The forwarder's worker (gateway.forward_worker) reads rows and runs the sink's `BatchEncoder` in a
    process of its own, so neither costs the gateway's interpreter; what comes back is the body, the seq
    of every row and the row index of every line. A sink posts the body as it is; the Records behind it
    are read from the historian again only for lines a server rejects (blocking: in a sink's thread).
    """

    __slots__ = ("_batch", "_index", "_load", "body", "failed", "line_rows", "seqs")

    def __init__(self, seqs: Sequence[int], body: bytes, line_rows: Sequence[int],
                 failed: list[tuple[int, str]], load: RowsLoader) -> None:
        self.seqs = seqs
        self.body = body
        self.line_rows = line_rows
        self.failed = failed  # rows the encoder refused: (row index, reason)
        self._load = load
        self._batch: RecordBatch | None = None
        self._index: dict[int, int] = {}

    @property
    def last_seq(self) -> int:
        return self.seqs[-1]

    @property
    def lines(self) -> int:
        return len(self.line_rows)

    def record(self, index: int) -> Record:
        """The Record of row `index`, read back from the historian (blocking)."""
        if self._batch is None:
            self._batch = self._load(self.seqs[0], self.seqs[-1])
            self._index = {row[0]: i for i, row in enumerate(self._batch.rows)}
        seq = self.seqs[index]
        at = self._index.get(seq)
        if at is None:  # gone meanwhile (the disk cap drops unforwarded rows): only its seq is left
            return Record(seq, Sample(f"#seq{seq}", None, None, None, 0, 0))
        return self._batch.record(at)

    def failed_records(self) -> list[tuple[Record, str]]:
        return [(self.record(i), why) for i, why in self.failed]

    def __len__(self) -> int:
        return len(self.seqs)

    @overload
    def __getitem__(self, index: int) -> Record: ...

    @overload
    def __getitem__(self, index: slice) -> list[Record]: ...

    def __getitem__(self, index: int | slice) -> Record | list[Record]:
        if isinstance(index, slice):
            return [self.record(i) for i in range(len(self.seqs))[index]]
        return self.record(index if index >= 0 else len(self.seqs) + index)

    def __iter__(self) -> Iterator[Record]:
        return (self.record(i) for i in range(len(self.seqs)))

    def __bool__(self) -> bool:
        return bool(self.seqs)
