"""API keys: created by the CLI or the admin API, shown once, stored only as salted scrypt hashes.

A key reads `agw_<id>_<secret>`: the id finds the record without trying every hash, the secret is
checked against it. scrypt is slow on purpose (tens of ms), so a verified key is remembered in memory
and the hot path is a dict lookup; the file's identity (inode, size, mtime) is checked on every use, so
a key revoked or created by the CLI in another process takes effect on the next request, no restart.
The first check of an unseen key runs in a worker thread (`verify`), never on the event loop.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import os
import secrets
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from gateway.auth.principal import ROLES, Principal, Role, expand

PREFIX = "agw"
_KDF = {"name": "scrypt", "n": 2**14, "r": 8, "p": 1, "dklen": 32}
_REFUSED_TTL_S = 300.0
_REFUSED_MAX = 10_000


class UnknownKeyError(KeyError):
    def __init__(self, key_id: str) -> None:
        super().__init__(key_id)
        self.key_id = key_id

    def __str__(self) -> str:
        return f"no API key with id {self.key_id}"


@dataclass(frozen=True)
class ApiKeyInfo:
    """A key as listed: everything but the secret and its hash."""

    id: str
    name: str
    role: Role
    created: str
    expires: str | None

    def expired(self, now: datetime | None = None) -> bool:
        return self.expires is not None and datetime.fromisoformat(self.expires) <= (now or datetime.now(UTC))


def default_keys_file(historian_path: Path) -> Path:
    return historian_path.parent / "api-keys.json"


def _b64(b: bytes) -> str:
    return base64.b64encode(b).decode()


def _hash(secret: str, salt: bytes, kdf: dict[str, Any]) -> bytes:
    return hashlib.scrypt(secret.encode(), salt=salt, n=kdf["n"], r=kdf["r"], p=kdf["p"], dklen=kdf["dklen"],
                          maxmem=256 * 1024 * 1024)


def _iso(t: datetime) -> str:
    return t.isoformat(timespec="seconds").replace("+00:00", "Z")


def split_key(key: str) -> tuple[str, str] | None:
    """(id, secret) of a well-formed key, else None."""
    parts = key.split("_", 2)
    if len(parts) != 3 or parts[0] != PREFIX or not parts[1] or not parts[2]:
        return None
    return parts[1], parts[2]


class ApiKeyStore:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._records: dict[str, dict[str, Any]] = {}
        self._identity: tuple[int, int, int] | None = None  # (inode, size, mtime_ns) of what _records holds
        self._verified: dict[str, tuple[Principal, float | None]] = {}  # full key -> (principal, expiry epoch s)
        # wrong secrets of existing ids, by digest: a client retrying a bad key must not cost a scrypt each time
        self._refused: dict[bytes, float] = {}

    # --- hot path ---------------------------------------------------------------------------

    def cached(self, key: str) -> Principal | None:
        """The principal of a key verified before and still valid; None means "not known yet" (or invalid)."""
        self._refresh_if_changed()
        hit = self._verified.get(key)
        if hit is None:
            return None
        principal, expires = hit
        if expires is not None and time.time() >= expires:
            self._verified.pop(key, None)
            return None
        return principal

    def verify(self, key: str) -> Principal | None:
        """Check a key against its stored hash (slow: call it off the event loop); remembers a valid key."""
        parsed = split_key(key)
        if parsed is None:
            return None
        key_id, secret = parsed
        self._refresh_if_changed()
        rec = self._records.get(key_id)
        if rec is None:
            return None
        info = self._info(rec)
        if info.expired():
            return None
        digest = hashlib.sha256(key.encode()).digest()
        refused_at = self._refused.get(digest)
        if refused_at is not None and time.monotonic() - refused_at < _REFUSED_TTL_S:
            return None
        want = base64.b64decode(rec["hash"])
        if not hmac.compare_digest(_hash(secret, base64.b64decode(rec["salt"]), rec["kdf"]), want):
            with self._lock:
                if len(self._refused) >= _REFUSED_MAX:
                    self._refused.clear()
                self._refused[digest] = time.monotonic()
            return None
        principal = Principal(f"apikey:{info.id}/{info.name}", expand([info.role]), "apikey")
        expires = datetime.fromisoformat(info.expires).timestamp() if info.expires else None
        with self._lock:
            if self._records.get(key_id) is rec:  # not revoked while we hashed
                self._verified[key] = (principal, expires)
        return principal

    def _refresh_if_changed(self) -> None:
        try:
            st = os.stat(self.path)
            identity: tuple[int, int, int] | None = (st.st_ino, st.st_size, st.st_mtime_ns)
        except FileNotFoundError:
            identity = None
        if identity != self._identity:
            self._reload()

    def _reload(self) -> None:
        with self._lock:
            try:
                st = os.stat(self.path)
                identity: tuple[int, int, int] | None = (st.st_ino, st.st_size, st.st_mtime_ns)
                data = json.loads(self.path.read_text(encoding="utf-8"))
            except FileNotFoundError:
                identity, data = None, {"keys": []}
            self._records = {r["id"]: r for r in data.get("keys", [])}
            self._identity = identity
            self._verified = {}  # a revoked key must not survive in the cache

    # --- management (CLI and admin API) -----------------------------------------------------

    def list(self) -> list[ApiKeyInfo]:
        self._refresh_if_changed()
        return sorted((self._info(r) for r in self._records.values()), key=lambda i: (i.created, i.id))

    def create(self, name: str, role: Role, expires_days: float | None = None) -> tuple[str, ApiKeyInfo]:
        """A new key: returns (the key, to show once, and its listing)."""
        if role not in ROLES:
            raise ValueError(f"role must be one of {', '.join(ROLES)}")
        if not name.strip():
            raise ValueError("a key needs a name (who or what uses it)")
        key_id = secrets.token_hex(6)
        secret = secrets.token_urlsafe(32)
        salt = secrets.token_bytes(16)
        now = datetime.now(UTC)
        rec = {"id": key_id, "name": name.strip(), "role": role, "created": _iso(now),
               "expires": _iso(now + timedelta(days=expires_days)) if expires_days is not None else None,
               "salt": _b64(salt), "hash": _b64(_hash(secret, salt, _KDF)), "kdf": dict(_KDF)}
        self._update(lambda records: records.append(rec))
        return f"{PREFIX}_{key_id}_{secret}", self._info(rec)

    def revoke(self, key_id: str) -> ApiKeyInfo:
        found: list[dict[str, Any]] = []

        def drop(records: list[dict[str, Any]]) -> None:
            found.extend(r for r in records if r["id"] == key_id)
            records[:] = [r for r in records if r["id"] != key_id]

        self._update(drop)
        if not found:
            raise UnknownKeyError(key_id)
        return self._info(found[0])

    def _update(self, change: Any) -> None:
        """Read, change and atomically replace the file (mode 0600), under an exclusive lock file."""
        import fcntl

        self.path.parent.mkdir(parents=True, exist_ok=True)
        lock_fd = os.open(self.path.with_name(self.path.name + ".lock"), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC,
                          0o600)
        try:
            fcntl.flock(lock_fd, fcntl.LOCK_EX)
            try:
                data = json.loads(self.path.read_text(encoding="utf-8"))
            except FileNotFoundError:
                data = {"version": 1, "keys": []}
            change(data["keys"])
            fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=self.path.name + ".")
            try:
                os.fchmod(fd, 0o600)
                with os.fdopen(fd, "w", encoding="utf-8") as f:
                    json.dump(data, f, indent=1)
                    f.flush()
                    os.fsync(f.fileno())
                os.replace(tmp, self.path)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
                raise
        finally:
            os.close(lock_fd)
        self._reload()

    @staticmethod
    def _info(rec: dict[str, Any]) -> ApiKeyInfo:
        return ApiKeyInfo(rec["id"], rec["name"], rec["role"], rec["created"], rec.get("expires"))


def info_dict(info: ApiKeyInfo) -> dict[str, Any]:
    return asdict(info)
