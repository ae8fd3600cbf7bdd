"""Online backup and restore of everything a gateway keeps: one archive with a checksummed manifest.

**Backup** (the gateway may run and ingest meanwhile):

- the historian through SQLite's online backup API, a few hundred pages per step with a short pause
  between steps, from a connection that holds one read transaction for the whole copy. In WAL mode
  that transaction is a snapshot: the copy is exactly the database as it was when it began (the
  *snapshot point*: every sample committed before it is in the copy, none after it), the gateway's
  writer commits on meanwhile (readers never block it), and the copy never restarts because of
  those commits. The manifest records the snapshot's last seq, sample count and forwarder cursors;
- the audit log and the operation ledger (every file, and their retention checkpoints), each copied
  under its log's lock, so no record is half in the copy;
- the PKI folder (the gateway's own certificate and key, trust lists, the log-signing key), the API
  key file, the rest of the data directory (e.g. detect-state.json) and the config file.

The archive (tar, gzip-compressed if its name ends in .gz/.tgz) starts with ``manifest.json``: every
file with its role (data, pki, audit, ledger, keys, config), path, size, mode and SHA-256. It holds the
gateway's private keys: it is written 0600; keep it like the PKI folder. Secrets in
/etc/aas-gateway/environment (or `${file:...}`) are not in it.

**Restore** verifies every checksum and the historian's integrity before it touches anything, and
refuses while a gateway runs on the target (the run lock, gateway/ops/runlock.py). Existing files are
not deleted: they are moved aside into ``before-restore-<time>/`` (or ``<path>.before-restore-<time>``)
unless the target is empty; without ``force`` a target that holds data is refused.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import io
import json
import os
import shutil
import socket
import sqlite3
import tarfile
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gateway.ops.paths import GatewayPaths
from gateway.ops.runlock import LOCK_FILE, exclusive

FORMAT = "aas-gateway-backup/1"
MANIFEST = "manifest.json"
HISTORIAN_SUFFIXES = ("", "-wal", "-shm", "-journal")
ROLES = ("data", "pki", "audit", "ledger", "keys", "config")


class BackupError(RuntimeError):
    """The backup or restore cannot be done; the message says why and nothing was changed."""


@dataclass
class FileEntry:
    path: str  # inside the archive: <role>/<rel>
    role: str
    rel: str  # relative to the role's root ("" for a single-file role)
    size: int
    mode: int
    sha256: str


@dataclass
class Manifest:
    format: str
    created: str
    host: str
    gateway_version: str
    roles: dict[str, str]  # role -> absolute path it came from
    snapshot: dict[str, Any] = field(default_factory=dict)
    files: list[FileEntry] = field(default_factory=list)

    def to_json(self) -> bytes:
        return (json.dumps(asdict(self), indent=1) + "\n").encode()

    @classmethod
    def from_json(cls, data: bytes) -> Manifest:
        doc = json.loads(data)
        if doc.get("format") != FORMAT:
            raise BackupError(f"not an aas-gateway backup (format {doc.get('format')!r}, expected {FORMAT})")
        files = [FileEntry(**f) for f in doc.pop("files")]
        return cls(**doc, files=files)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


@contextlib.contextmanager
def _log_locked(current: Path) -> Iterator[None]:
    """Hold a chained log's lock (the same flock the gateway and CLIs append under)."""
    lock = current.with_name(current.name + ".lock")
    if not current.parent.is_dir():
        yield
        return
    fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def snapshot_historian(src_path: Path, dst_path: Path, step_pages: int = 256, step_sleep_s: float = 0.005,
                       on_step: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """Copy the historian as of one instant (see the module doc); returns what the snapshot holds."""
    src = sqlite3.connect(src_path, isolation_level=None, timeout=30)
    dst = sqlite3.connect(dst_path)
    steps = [0]

    def progress(_status: int, remaining: int, total: int) -> None:
        steps[0] += 1
        if on_step is not None:
            on_step(total - remaining, total)

    try:
        src.execute("PRAGMA query_only = 1")
        src.execute("BEGIN")  # a read transaction: the snapshot point
        info: dict[str, Any] = {"taken": datetime.now(UTC).isoformat().replace("+00:00", "Z")}
        info["schema_version"] = src.execute("PRAGMA user_version").fetchone()[0]
        tables = {r[0] for r in src.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if "samples" in tables:
            info["max_seq"] = src.execute("SELECT coalesce(max(seq), 0) FROM samples").fetchone()[0]
            info["samples"] = src.execute("SELECT count(*) FROM samples").fetchone()[0]
        if "cursors" in tables:
            info["cursors"] = {n: s for n, s in src.execute("SELECT name, seq FROM cursors")}
        t0 = time.monotonic()
        src.backup(dst, pages=step_pages, progress=progress, sleep=step_sleep_s)
        info["copy_s"] = round(time.monotonic() - t0, 3)
        info["steps"] = steps[0]
        src.execute("COMMIT")
    finally:
        src.close()
        dst.close()
    check = sqlite3.connect(dst_path)
    try:
        result = check.execute("PRAGMA integrity_check").fetchone()[0]
        # the copy is a plain rollback-journal file until the gateway opens it (it switches to WAL itself)
        check.execute("PRAGMA journal_mode = DELETE")
    finally:
        check.close()
    if result != "ok":
        raise BackupError(f"the historian copy fails SQLite's integrity check: {result}")
    return info


def _walk(root: Path, skip: set[Path]) -> Iterator[Path]:
    if not root.is_dir():
        return
    for dirpath, dirnames, filenames in os.walk(root):
        d = Path(dirpath)
        dirnames[:] = sorted(n for n in dirnames if (d / n) not in skip and not n.startswith("before-restore-"))
        for n in sorted(filenames):
            p = d / n
            if p in skip or p.is_symlink() or not p.is_file():
                continue
            if n.endswith(".lock") or n == LOCK_FILE or (n.startswith(".") and n.endswith(".tmp")):
                continue
            yield p


def backup(paths: GatewayPaths, out: Path, *, step_pages: int = 256, step_sleep_s: float = 0.005,
           version: str = "unknown", on_step: Callable[[int, int], None] | None = None) -> Manifest:
    """Write the archive `out` (see the module doc); returns its manifest."""
    out = Path(out).resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    roles = {"data": paths.data_dir, "pki": paths.pki, "audit": paths.audit.parent, "ledger": paths.ledger.parent,
             "keys": paths.keys}
    if paths.config is not None:
        roles["config"] = paths.config
    manifest = Manifest(FORMAT, datetime.now(UTC).isoformat().replace("+00:00", "Z"), socket.gethostname(),
                        version, {k: str(v) for k, v in roles.items()})
    with tempfile.TemporaryDirectory(prefix=".aas-gateway-backup-", dir=out.parent) as tmp:
        stage = Path(tmp)
        staged: list[tuple[str, str, Path, int]] = []  # role, rel, staged file, mode

        def stage_copy(role: str, rel: str, src: Path) -> None:
            dst = stage / role / (rel or src.name)
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, dst)
            staged.append((role, rel, dst, src.stat().st_mode & 0o777))

        # 1. the historian, as of its snapshot point
        hist = paths.historian
        if hist.exists():
            dst = stage / "data" / hist.relative_to(paths.data_dir)
            dst.parent.mkdir(parents=True, exist_ok=True)
            manifest.snapshot = snapshot_historian(hist, dst, step_pages, step_sleep_s, on_step)
            manifest.snapshot["file"] = str(hist.relative_to(paths.data_dir))
            staged.append(("data", str(hist.relative_to(paths.data_dir)), dst, hist.stat().st_mode & 0o777))
        # 2. the chained logs, each under its lock
        for role, current in (("audit", paths.audit), ("ledger", paths.ledger)):
            with _log_locked(current):
                for p in _walk(current.parent, set()):
                    stage_copy(role, str(p.relative_to(current.parent)), p)
        # 3. PKI, keys, the rest of the data directory, the config
        for p in _walk(paths.pki, set()):
            stage_copy("pki", str(p.relative_to(paths.pki)), p)
        if paths.keys.is_file():
            stage_copy("keys", "", paths.keys)
        skip = {paths.pki, paths.audit.parent, paths.ledger.parent, paths.keys, out, stage,
                *(Path(f"{hist}{s}") for s in HISTORIAN_SUFFIXES)}
        for p in _walk(paths.data_dir, skip):
            if any(parent in skip for parent in p.parents):
                continue
            stage_copy("data", str(p.relative_to(paths.data_dir)), p)
        if paths.config is not None and paths.config.is_file():
            stage_copy("config", "", paths.config)
        for role, rel, file, mode in staged:
            arc = f"{role}/{rel}" if rel else f"{role}/{file.name}"
            manifest.files.append(FileEntry(arc, role, rel, file.stat().st_size, mode, _sha256(file)))
        # 4. the archive: manifest first, written under a temporary name, renamed when complete
        gz = out.name.endswith((".gz", ".tgz"))
        part = out.with_name(f".{out.name}.part")
        fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
        with os.fdopen(fd, "wb") as raw, tarfile.open(fileobj=raw, mode="w:gz" if gz else "w") as tar:
            data = manifest.to_json()
            info = tarfile.TarInfo(MANIFEST)
            info.size, info.mode, info.mtime = len(data), 0o600, int(time.time())
            tar.addfile(info, io.BytesIO(data))
            for (_role, _rel, file, mode), entry in zip(staged, manifest.files, strict=True):
                ti = tar.gettarinfo(str(file), arcname=entry.path)
                ti.mode, ti.uid, ti.gid, ti.uname, ti.gname = mode, 0, 0, "", ""
                with open(file, "rb") as f:
                    tar.addfile(ti, f)
            raw.flush()
            os.fsync(raw.fileno())
        os.replace(part, out)
    return manifest


# --- restore -------------------------------------------------------------------------------------------


def read_manifest(archive: Path) -> Manifest:
    with tarfile.open(archive) as tar:
        try:
            member = tar.getmember(MANIFEST)
        except KeyError:
            raise BackupError(f"{archive} has no {MANIFEST}: not an aas-gateway backup") from None
        f = tar.extractfile(member)
        assert f is not None
        return Manifest.from_json(f.read())


def _targets(manifest: Manifest, paths: GatewayPaths | None) -> dict[str, Path]:
    if paths is None:
        return {role: Path(p) for role, p in manifest.roles.items()}
    out = {"data": paths.data_dir, "pki": paths.pki, "audit": paths.audit.parent, "ledger": paths.ledger.parent,
           "keys": paths.keys}
    if paths.config is not None:
        out["config"] = paths.config
    return out


def _dest(targets: dict[str, Path], entry: FileEntry) -> Path | None:
    root = targets.get(entry.role)
    if root is None:
        return None
    return root if entry.role in ("keys", "config") else root / entry.rel


@dataclass
class RestoreResult:
    restored: list[Path] = field(default_factory=list)
    moved_aside: list[Path] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    manifest: Manifest | None = None


def restore(archive: Path, paths: GatewayPaths | None = None, *, force: bool = False,
            with_config: bool = False) -> RestoreResult:
    """Bring a backup back (see the module doc). `paths`: where to (default: where the files came from)."""
    from gateway.historian.schema import SCHEMA_VERSION

    manifest = read_manifest(archive)
    targets = _targets(manifest, paths)
    data_dir = targets["data"]
    result = RestoreResult(manifest=manifest)
    data_dir.mkdir(parents=True, exist_ok=True)
    with exclusive(data_dir), tempfile.TemporaryDirectory(prefix=".restore-", dir=data_dir) as tmp:
        stage = Path(tmp)
        with tarfile.open(archive) as tar:
            names = {m.name for m in tar.getmembers() if m.isfile()} - {MANIFEST}
            expected = {f.path for f in manifest.files}
            if names != expected:
                raise BackupError(f"the archive does not match its manifest (extra: {sorted(names - expected)[:5]}, "
                                  f"missing: {sorted(expected - names)[:5]})")
            tar.extractall(stage, members=[m for m in tar.getmembers() if m.name in expected], filter="data")
        for entry in manifest.files:
            f = stage / entry.path
            if f.stat().st_size != entry.size or _sha256(f) != entry.sha256:
                raise BackupError(f"{entry.path}: checksum mismatch: the archive is damaged; nothing was restored")
        hist_entry = next((e for e in manifest.files if e.role == "data" and e.rel == manifest.snapshot.get("file")),
                          None)
        if hist_entry is not None:
            conn = sqlite3.connect(stage / hist_entry.path)
            try:
                ok = conn.execute("PRAGMA integrity_check").fetchone()[0]
                version = conn.execute("PRAGMA user_version").fetchone()[0]
            finally:
                conn.close()
            if ok != "ok":
                raise BackupError(f"the historian in the archive fails SQLite's integrity check: {ok}")
            if version > SCHEMA_VERSION:
                raise BackupError(f"the historian in the archive has schema {version}, newer than this gateway's "
                                  f"({SCHEMA_VERSION}): restore it with the gateway version that made it "
                                  f"({manifest.gateway_version}) or newer")
        plan: list[tuple[FileEntry, Path]] = []
        for entry in manifest.files:
            dest = _dest(targets, entry)
            if entry.role == "config" and not with_config and dest is not None and dest.exists():
                result.skipped.append(f"{entry.path}: {dest} exists (restore it with --with-config)")
                continue
            if dest is None:
                result.skipped.append(f"{entry.path}: no target for role {entry.role}")
                continue
            plan.append((entry, dest))
        # what is in the way: whole log and PKI folders (old files mixed with restored ones would break the
        # chains and the trust list), single files elsewhere, and the old historian's WAL
        occupied: list[Path] = []
        for role in ("pki", "audit", "ledger"):
            d = targets.get(role)
            if d is not None and d.is_dir() and any(d.iterdir()) and any(e.role == role for e, _ in plan):
                occupied.append(d)
        occupied += [dest for e, dest in plan if e.role in ("data", "keys", "config") and dest.exists()
                     and not any(dest.is_relative_to(o) for o in occupied)]
        if hist_entry is not None:
            hist_dest = _dest(targets, hist_entry)
            assert hist_dest is not None
            occupied += [Path(f"{hist_dest}{s}") for s in HISTORIAN_SUFFIXES[1:] if Path(f"{hist_dest}{s}").exists()]
        if occupied and not force:
            raise BackupError(f"the target already holds a gateway's data ({', '.join(map(str, occupied[:4]))}"
                              f"{' ...' if len(occupied) > 4 else ''}); restore with --force to move it aside into "
                              f"{data_dir}/before-restore-<time>/ first")
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        aside_root = data_dir / f"before-restore-{stamp}"
        for p in occupied:
            aside = aside_root / p.relative_to(data_dir) if p.is_relative_to(data_dir) else \
                p.with_name(f"{p.name}.before-restore-{stamp}")
            aside.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            shutil.move(p, aside)
            result.moved_aside.append(aside)
        for entry, dest in plan:
            dest.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            src = stage / entry.path
            os.chmod(src, entry.mode)
            shutil.move(src, dest)  # a rename where target and staging share a file system
            result.restored.append(dest)
        for d in {dest.parent for _, dest in plan}:
            with contextlib.suppress(OSError):
                fd = os.open(d, os.O_RDONLY)
                os.fsync(fd)
                os.close(fd)
    return result
