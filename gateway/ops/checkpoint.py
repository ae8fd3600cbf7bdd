"""Signed retention checkpoints: pruning old log files without breaking the hash chain.

Retention deletes whole rotated files, oldest first. Before it does, it writes the chain's head at
the end of what it deletes (seq and hash), how many records went and which files, into
``<log stem>.checkpoint.json``, signed with an Ed25519 key kept in the PKI folder
(``log-signing/private.pem``, 0600; the public key beside it). Verification then starts from the
checkpoint instead of the genesis: the first remaining record must follow the signed head.

Ed25519 rather than an HMAC: whoever audits the logs needs only the public key, which can be
handed out (and kept off the box) without giving the power to sign. The signature proves that the
holder of the gateway's key wrote the checkpoint, i.e. the pruning was the gateway's retention and
not someone deleting files; it cannot protect against someone who has the key (root on the box).
Each checkpoint carries the hash of the one before it, so a history of checkpoints kept elsewhere
(backups) shows none was replaced.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

# cryptography is imported where a key is used: this module comes with every config reader
# (gateway.audit -> chainlog), which must stay light (tests/config/test_registry.py)
if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from gateway.ops.chain import Finding, Head, Start

SIGNING_DIR = "log-signing"
PRIVATE = "private.pem"
PUBLIC = "public.pem"


def signing_dir(pki_path: Path) -> Path:
    return Path(pki_path) / SIGNING_DIR


def make_dir(d: Path) -> None:
    """Create `d` and missing parents with mode 0700 (a parent that exists, e.g. /var/log, keeps its mode)."""
    missing = []
    p = d
    while not p.exists():
        missing.append(p)
        p = p.parent
    for p in reversed(missing):
        with contextlib.suppress(FileExistsError):
            p.mkdir(mode=0o700)
        os.chmod(p, 0o700)


def _write_atomic(path: Path, data: bytes, mode: int) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, mode)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    dfd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


def key_id(public: Ed25519PublicKey) -> str:
    from cryptography.hazmat.primitives import serialization

    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


class LogSigner:
    """The gateway's log-signing key (created on first use, never regenerated while it exists)."""

    def __init__(self, key_dir: Path) -> None:
        self.dir = Path(key_dir)
        self._key: Ed25519PrivateKey | None = None

    def _load(self) -> Ed25519PrivateKey:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

        if self._key is not None:
            return self._key
        private = self.dir / PRIVATE
        if private.exists():
            key = serialization.load_pem_private_key(private.read_bytes(), password=None)
            if not isinstance(key, Ed25519PrivateKey):
                raise ValueError(f"{private} is not an Ed25519 key")
        else:
            make_dir(self.dir)
            key = Ed25519PrivateKey.generate()
            _write_atomic(private, key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                     serialization.NoEncryption()), 0o600)
            _write_atomic(self.dir / PUBLIC, key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo), 0o644)
        self._key = key
        return key

    @property
    def key_id(self) -> str:
        return key_id(self._load().public_key())

    def sign(self, data: bytes) -> str:
        """The signature as base64."""
        return base64.b64encode(self._load().sign(data)).decode()


def load_public_key(key_dir: Path) -> Ed25519PublicKey | None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    path = Path(key_dir) / PUBLIC
    if not path.exists():
        return None
    key = serialization.load_pem_public_key(path.read_bytes())
    return key if isinstance(key, Ed25519PublicKey) else None


@dataclass
class Checkpoint:
    log: str  # the current file's name, e.g. audit.jsonl
    seq: int  # last chained record pruned (0: only legacy records were pruned)
    head: str  # the chain value at the end of the pruned files
    chained: bool  # the pruned part held chained records (no legacy line may follow)
    pruned_files: list[str] = field(default_factory=list)  # every file pruned so far, oldest first
    pruned_records: int = 0  # every record pruned so far
    last_ts: str | None = None  # time of the last record pruned
    created: str = ""
    previous: str | None = None  # SHA-256 of the previous checkpoint's signed bytes
    key_id: str = ""
    signature: str = ""

    def signed_bytes(self) -> bytes:
        body = {k: v for k, v in asdict(self).items() if k != "signature"}
        return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode("ascii")

    def start(self) -> Start:
        return Start(Head(self.seq, self.head), chained=self.chained)


def checkpoint_path(current: Path) -> Path:
    return current.with_name(f"{current.stem}.checkpoint.json")


def read_checkpoint(current: Path) -> Checkpoint | None:
    path = checkpoint_path(current)
    try:
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    return Checkpoint(**data)


def write_checkpoint(current: Path, cp: Checkpoint, signer: LogSigner) -> None:
    old = read_checkpoint(current)
    if old is not None:
        cp.previous = hashlib.sha256(old.signed_bytes()).hexdigest()
        cp.pruned_files = [*old.pruned_files, *cp.pruned_files]
        cp.pruned_records += old.pruned_records
    cp.key_id = signer.key_id
    cp.signature = signer.sign(cp.signed_bytes())
    _write_atomic(checkpoint_path(current), (json.dumps(asdict(cp), indent=1) + "\n").encode(), 0o600)


def check_checkpoint(current: Path, key_dir: Path | None) -> tuple[Checkpoint | None, list[Finding]]:
    """The checkpoint of a log (if retention pruned it) and whether its signature holds."""
    from cryptography.exceptions import InvalidSignature

    name = checkpoint_path(current).name
    try:
        cp = read_checkpoint(current)
    except (ValueError, TypeError) as e:
        return None, [Finding(name, 0, "checkpoint", f"unreadable: {e}")]
    if cp is None:
        return None, []
    public = load_public_key(key_dir) if key_dir is not None else None
    if public is None:
        return cp, [Finding(name, 0, "checkpoint", "cannot check its signature: no public key "
                            f"({key_dir / PUBLIC if key_dir else 'give --pki-dir or -c'})")]
    if key_id(public) != cp.key_id:
        return cp, [Finding(name, 0, "checkpoint", f"signed with key {cp.key_id}, not with this gateway's key "
                            f"{key_id(public)}")]
    try:
        public.verify(base64.b64decode(cp.signature), cp.signed_bytes())
    except (InvalidSignature, ValueError):
        return cp, [Finding(name, 0, "checkpoint", "the signature does not match: the checkpoint was altered")]
    return cp, [Finding(name, 0, "note", f"retention pruned {cp.pruned_records} record(s) in "
                        f"{len(cp.pruned_files)} file(s) up to seq {cp.seq} ({cp.last_ts}); signed checkpoint "
                        "verified", problem=False)]
