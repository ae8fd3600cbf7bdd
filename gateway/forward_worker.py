"""A forwarder's worker process: historian rows read and encoded outside the gateway's interpreter.

Why: a forwarder catching up moves hundreds of thousands of samples per second, and reading the rows
back from SQLite and formatting each one costs about 1.2 µs of interpreter time per sample. In the
gateway's process that work shares one GIL with ingest, the API and the HTTP post of the batch
before, and the InfluxDB forwarder reached 0.76x a raw writer that builds its lines in memory
(BENCHMARKS.md). A child process per forwarder whose sink offers a picklable `BatchEncoder` opens the
historian file itself (WAL: it sees every commit), reads the batch after the cursor, encodes it and
hands back the body and the seq of each row, while the gateway posts the batch before.

It holds nothing the gateway needs: the cursor, dead letters and every decision stay with the
forwarder. If the worker cannot start, dies, hangs or answers an error, the forwarder reads and
encodes in its own process as before (one warning per cause) and tries a new worker later. The child
exits when the gateway closes the pipe, so it never outlives it.

Protocol (pickled messages over two pipes): ``("init", db_path, synchronous, encoder)`` once, answered
by ``("ready",)``, then ``("read", after_seq, limit)`` answered by ``("batch", seqs, body, line_rows, failed)`` or
``("error", text)``.
"""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
import sys
import time
from array import array
from concurrent.futures import ThreadPoolExecutor
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from connectors.batch import BatchEncoder, BatchSeries, EncodedBatch, RecordBatch, RowsLoader
from gateway.historian.store import BUSY_TIMEOUT_MS, READ_BATCH_SQL

log = logging.getLogger(__name__)

RESTART_AFTER_S = 30.0  # after a failure, the forwarder reads in-process this long before a new worker
ANSWER_TIMEOUT_S = 60.0  # a batch is a few ms of work; a worker silent this long is stuck and is replaced


class WorkerUnavailable(Exception):
    """The worker did not deliver this batch; the forwarder reads it in-process."""


class _NotYet(WorkerUnavailable):
    """No worker until RESTART_AFTER_S after the last failure: not a failure of its own."""


class ForwardWorker:
    """The gateway's side of one worker process: `read` a batch through it, `close` it."""

    def __init__(self, name: str, db_path: Path, synchronous: str, encoder: BatchEncoder) -> None:
        self.name = name
        self._db_path = db_path
        self._synchronous = synchronous
        self._encoder = encoder
        self._proc: subprocess.Popen[bytes] | None = None
        self._send: Connection | None = None
        self._recv: Connection | None = None
        self._failed_at: float | None = None
        self._failure: str | None = None  # cause of the last failure, logged once per change
        self._ahead: tuple[int, int] | None = None  # the read the worker was asked for before it was wanted
        # one thread: a request and its answer never interleave with another's, even when the forwarder
        # gave up waiting on one (a cancelled read-ahead): the next request queues behind its answer
        self._thread = ThreadPoolExecutor(1, thread_name_prefix=f"forward-worker-{name}")
        self.batches = 0  # batches the worker delivered (status and tests)

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None and self._proc.poll() is None else None

    async def start(self) -> bool:
        """Start the worker now rather than on the first read (its start-up, ~0.5 s, off the first batch's path)."""
        try:
            await asyncio.get_running_loop().run_in_executor(self._thread, self._ensure_started)
        except _NotYet:
            return False
        except WorkerUnavailable as e:
            self._fail(str(e))
            return False
        return True

    async def read(self, after: int, limit: int, load: RowsLoader) -> EncodedBatch | None:
        """The batch after `after`, read and encoded by the worker; None if the worker is unavailable."""
        try:
            seqs, body, line_rows, failed = await asyncio.get_running_loop().run_in_executor(
                self._thread, self._request, after, limit)
        except _NotYet:
            return None
        except WorkerUnavailable as e:
            self._fail(str(e))
            return None
        if self._failure is not None:
            log.info("forwarder %s: its worker process (pid %s) reads and encodes again", self.name, self.pid)
            self._failure = None
        self.batches += 1
        return EncodedBatch(seqs, body, line_rows, failed, load)

    async def close(self) -> None:
        await asyncio.get_running_loop().run_in_executor(self._thread, self._stop)
        self._thread.shutdown(wait=False)

    # --- the worker thread ------------------------------------------------------------------

    def _request(self, after: int, limit: int) -> tuple[Any, bytes, Any, list[tuple[int, str]]]:
        self._ensure_started()
        assert self._send is not None and self._recv is not None
        try:
            if self._ahead is not None and self._ahead != (after, limit):
                self._answer()  # read ahead for another position (the batch was retried): not wanted
                self._ahead = None
            if self._ahead is None:
                self._send.send(("read", after, limit))
            self._ahead = None
            answer = self._answer()
            if answer[0] == "batch" and len(answer[1]) == limit:
                # a backlog: the worker reads the next batch while this one is sent (rows only ever follow the
                # cursor, so reading early can only find fewer of them)
                self._ahead = (answer[1][-1], limit)
                self._send.send(("read", *self._ahead))
        except (OSError, EOFError) as e:
            code = self._proc.poll() if self._proc is not None else None
            self._stop()
            raise WorkerUnavailable(f"worker process gone (exit code {code}): {type(e).__name__}") from e
        except WorkerUnavailable:
            self._stop()
            raise
        if answer[0] != "batch":
            raise WorkerUnavailable(f"worker error: {answer[1]}")
        _, seqs, body, line_rows, failed = answer
        return seqs, body, line_rows, failed

    def _answer(self) -> Any:
        assert self._recv is not None
        if not self._recv.poll(ANSWER_TIMEOUT_S):
            raise WorkerUnavailable(f"no answer within {ANSWER_TIMEOUT_S:.0f} s")
        return self._recv.recv()

    def _ensure_started(self) -> None:
        if self._proc is not None:
            return
        if self._failed_at is not None and time.monotonic() - self._failed_at < RESTART_AFTER_S:
            raise _NotYet(self._failure or "restarting later")
        to_child_r, to_child_w = os.pipe()
        from_child_r, from_child_w = os.pipe()
        try:
            # `python -m` rather than multiprocessing: nothing of the gateway's __main__ is imported again
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "gateway.forward_worker", str(to_child_r), str(from_child_w)],
                pass_fds=(to_child_r, from_child_w), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
        except OSError as e:
            for fd in (to_child_r, to_child_w, from_child_r, from_child_w):
                os.close(fd)
            raise WorkerUnavailable(f"cannot start a worker process: {e}") from e
        finally:
            if self._proc is not None:
                os.close(to_child_r)
                os.close(from_child_w)
        self._send = Connection(to_child_w, readable=False)
        self._recv = Connection(from_child_r, writable=False)
        try:
            self._send.send(("init", str(self._db_path), self._synchronous, self._encoder))
            ready = self._recv.recv() if self._recv.poll(ANSWER_TIMEOUT_S) else ("error", "no answer to init")
        except (OSError, EOFError) as e:
            code = self._proc.poll()
            self._stop()
            raise WorkerUnavailable(f"worker process gone at start (exit code {code}): {type(e).__name__}") from e
        if ready[0] != "ready":
            self._stop()
            raise WorkerUnavailable(f"worker process failed to start: {ready[1]}")
        log.info("forwarder %s: worker process %d reads and encodes its batches", self.name, self._proc.pid)

    def _stop(self) -> None:
        for conn in (self._send, self._recv):
            if conn is not None:
                conn.close()  # the child reads EOF and exits
        self._send = self._recv = None
        self._ahead = None
        proc, self._proc = self._proc, None
        if proc is not None:
            try:
                proc.wait(5.0)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def _fail(self, cause: str) -> None:
        self._failed_at = time.monotonic()
        if cause != self._failure:
            log.warning("forwarder %s: %s; reading and encoding in the gateway's process, a new worker in %.0f s",
                        self.name, cause, RESTART_AFTER_S)
        self._failure = cause


# --- the child process ------------------------------------------------------------------------


def _series(conn: Any) -> dict[int, BatchSeries]:
    from gateway.historian.values import decoder

    sql = "SELECT id, asset, submodel, path, value_type FROM series"
    return {sid: BatchSeries(f"{asset}/{sm}/{path}", decoder(vt)) for sid, asset, sm, path, vt in conn.execute(sql)}


def _no_times(first: int, last: int) -> dict[int, Any]:
    raise RuntimeError("a worker builds no Records")  # BatchEncoder's contract


def child_main(recv: Connection, send: Connection) -> int:
    """Serve read requests until the gateway closes the pipe."""
    from gateway.historian import schema

    try:
        kind, path, synchronous, encoder = recv.recv()
    except EOFError:
        return 0
    assert kind == "init"
    try:
        conn = schema.connect(Path(path), synchronous, BUSY_TIMEOUT_MS)
        series = _series(conn)
    except Exception as e:
        send.send(("error", f"{type(e).__name__}: {e}"))
        return 1
    send.send(("ready",))
    while True:
        try:
            message = recv.recv()
        except EOFError:
            return 0
        _, after, limit = message
        try:
            rows = conn.execute(READ_BATCH_SQL, (after, limit)).fetchall()
            if any(row[1] not in series for row in rows):  # registered since: read the table again
                series = _series(conn)
            body, line_rows, failed = encoder.encode(RecordBatch(rows, series, _no_times))
            seqs = array("q", [row[0] for row in rows])
            answer: tuple[Any, ...] = ("batch", seqs, body, line_rows, failed)
        except Exception as e:  # the gateway reads this batch itself and logs why
            answer = ("error", f"{type(e).__name__}: {e}")
        try:
            send.send(answer)
        except OSError:
            return 0


if __name__ == "__main__":
    import signal

    sys.stdout = sys.stderr  # nothing may write into a pipe by accident; stderr is the gateway's log stream
    # Ctrl-C in a terminal and systemd's stop signal reach the whole process group: the worker ends when
    # the gateway closes the pipe (or exits), after the gateway's own orderly stop, never with a traceback
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    sys.exit(child_main(Connection(int(sys.argv[1]), writable=False), Connection(int(sys.argv[2]), readable=False)))
