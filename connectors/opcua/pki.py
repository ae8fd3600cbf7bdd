"""The gateway's OPC UA PKI: its own application instance certificate and the server trust list.

Layout (the usual OPC UA one, so an integrator finds their way around with `ls`)::

    <path>/own/cert.der             the gateway's certificate (DER)
    <path>/own/private/key.pem      its RSA key (PKCS#8 PEM, mode 0600)
    <path>/trusted/*.der|pem|crt    server certificates we talk to, or CA certificates that issued them
    <path>/rejected/*.der           server certificates seen but not (yet) trusted

Every directory is 0700. The trust list lives on disk only and is read on every
check: a `aas-gateway pki trust` in another process (or an admin REST call)
takes effect at the next connect attempt, without restarting the gateway.
Files are written to a temporary name and renamed, so a concurrent reader never
sees half a certificate.

A server certificate is trusted when it is in trusted/ itself (pinned by
thumbprint, whatever its dates), or when a CA certificate in trusted/ issued it,
directly or through intermediate CA certificates the server sends with it: a
plant with its own CA trusts that once instead of every machine. On such a CA
path every certificate must be within its validity period and every issuer must
be a CA. Revocation lists are not read: to stop trusting one machine of a CA,
untrust the CA and trust the others by thumbprint.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import ipaddress
import os
import re
import secrets
import shlex
import socket
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from pydantic import BaseModel, Field

from connectors.opcua.config import PkiConfig

CertState = Literal["own", "trusted", "rejected"]

_CERT_SUFFIXES = {".der", ".pem", ".crt", ".cer"}
_DIR_MODE = 0o700
_KEY_MODE = 0o600


class CertificateInfo(BaseModel):
    """One certificate as the CLI and the admin API show it."""

    thumbprint: str = Field(description="SHA-1 of the DER, hex uppercase (what OPC UA tools show)")
    subject: str
    application_uri: str | None
    not_before: dt.datetime
    not_after: dt.datetime
    state: CertState
    file: str


class UnknownCertificateError(KeyError):
    """No certificate in the trust list (trusted or rejected) matches the thumbprint."""

    def __init__(self, thumbprint: str) -> None:
        super().__init__(thumbprint)
        self.thumbprint = thumbprint

    def __str__(self) -> str:  # KeyError's str() would quote the repr
        return f"no certificate with thumbprint {self.thumbprint} in the trusted or rejected list"


class AmbiguousThumbprintError(ValueError):
    """A thumbprint prefix matches more than one certificate."""


def thumbprint(der: bytes) -> str:
    """SHA-1 of the DER in uppercase hex: the form UaExpert, Prosys and open62541 show."""
    return hashlib.sha1(der, usedforsecurity=False).hexdigest().upper()


def default_application_uri() -> str:
    return f"urn:{socket.gethostname()}:aas-edge-gateway"


_MAX_CHAIN = 4


def _is_ca(cert: x509.Certificate) -> bool:
    """A certificate that may issue others: BasicConstraints CA, and keyCertSign if it has a KeyUsage."""
    try:
        if not cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca:
            return False
    except x509.ExtensionNotFound:
        return False
    try:
        return bool(cert.extensions.get_extension_for_class(x509.KeyUsage).value.key_cert_sign)
    except x509.ExtensionNotFound:
        return True


def _valid_at(cert: x509.Certificate, when: dt.datetime) -> bool:
    return cert.not_valid_before_utc <= when <= cert.not_valid_after_utc


def _issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    if cert.issuer != issuer.subject:
        return False
    try:
        cert.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def split_chain(data: bytes) -> list[bytes]:
    """The DER certificates of an OPC UA ServerCertificate field (the certificate, then maybe its chain)."""
    out: list[bytes] = []
    i = 0
    while i + 4 <= len(data) and data[i] == 0x30:
        first = data[i + 1]
        if first < 0x80:
            header, length = 2, first
        else:
            n = first & 0x7F
            header, length = 2 + n, int.from_bytes(data[i + 2:i + 2 + n], "big")
        out.append(data[i:i + header + length])
        i += header + length
    return out or [data]


def load_certificate_der(data: bytes) -> bytes:
    """DER bytes of a DER or PEM certificate (raises ValueError if it is neither)."""
    if data.lstrip().startswith(b"-----BEGIN"):
        return x509.load_pem_x509_certificate(data).public_bytes(serialization.Encoding.DER)
    x509.load_der_x509_certificate(data)  # validates
    return data


def certificate_info(der: bytes, state: CertState, file: Path) -> CertificateInfo:
    cert = x509.load_der_x509_certificate(der)
    return CertificateInfo(thumbprint=thumbprint(der), subject=cert.subject.rfc4514_string(),
                           application_uri=_application_uri(cert), not_before=cert.not_valid_before_utc,
                           not_after=cert.not_valid_after_utc, state=state, file=str(file))


def _application_uri(cert: x509.Certificate) -> str | None:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return None
    uris = san.get_values_for_type(x509.UniformResourceIdentifier)
    return uris[0] if uris else None


def _normalise(prefix: str) -> str:
    # accept what tools print: "ab:cd:ef ..." as well as "ABCDEF"
    return re.sub(r"[\s:]", "", prefix).upper()


def _slug(cert: x509.Certificate) -> str:
    cns = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    name = str(cns[0].value) if cns else "certificate"
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_")[:40] or "certificate"


def _write_atomic(path: Path, data: bytes, mode: int = 0o644) -> None:
    # unique per writer: two threads or processes renewing at once must not share a temporary file
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)  # the umask may have narrowed or (for 0600) never widened it; be exact
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


# `Pki.list` shadows the builtin inside the class body, so annotations there use this alias
_Found = list[tuple[CertificateInfo, Path]]


class Pki:
    """Own certificate plus trusted/rejected server certificates, all on disk (see the module doc)."""

    def __init__(self, cfg: PkiConfig, *, audit_file: Path | None = None) -> None:
        self.cfg = cfg
        self.path = Path(cfg.path)
        self.audit_file = audit_file  # where `pki` changes are audited (named in the trust command printed)
        self.application_uri = cfg.application_uri or default_application_uri()
        # nothing is created here: a gateway with only security-None sources never needs a PKI folder
        self.cert_file = self.path / "own" / "cert.der"
        self.key_file = self.path / "own" / "private" / "key.pem"
        self.trusted_dir = self.path / "trusted"
        self.rejected_dir = self.path / "rejected"
        # several sources connect at once at startup: one of them generates, the others wait for it
        self._own_lock = threading.RLock()

    def trust_command(self, thumbprint: str) -> str:
        """The `aas-gateway pki trust` command for this folder, to run as printed from any directory.

        It names the folder (absolute) rather than a config: whoever reads a refusal in a log knows no
        config path, and the connector does not either. With the gateway's audit file the trust is
        audited as one made with `pki -c CONFIG` would be.
        """
        args = ["aas-gateway", "pki", "--pki-dir", str(self.path.resolve())]
        if self.audit_file is not None:
            args += ["--audit-file", str(Path(self.audit_file).resolve())]
        return shlex.join([*args, "trust", thumbprint])

    # --- own certificate -----------------------------------------------------------------

    def ensure_own_certificate(self) -> tuple[Path, Path]:
        """(certificate, key) paths; generated on first use, renewed when expiring or no longer matching."""
        with self._own_lock:
            cert = self._own_certificate()
            if cert is None or not self._key_matches(cert) or self._needs_renewal(cert):
                self.renew()
            return self.cert_file, self.key_file

    def _own_certificate(self) -> x509.Certificate | None:
        try:
            return x509.load_der_x509_certificate(self.cert_file.read_bytes())
        except (OSError, ValueError):
            return None

    def _key_matches(self, cert: x509.Certificate) -> bool:
        # a crash between writing the new key and the new certificate leaves a pair that does not match
        try:
            key = serialization.load_pem_private_key(self.key_file.read_bytes(), password=None)
        except (OSError, ValueError, TypeError):
            return False
        pem = serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        return key.public_key().public_bytes(*pem) == cert.public_key().public_bytes(*pem)

    def _needs_renewal(self, cert: x509.Certificate) -> bool:
        left = cert.not_valid_after_utc - dt.datetime.now(dt.UTC)
        # a changed application URI (config edit, new host name) makes servers reject the old certificate
        return left <= dt.timedelta(days=self.cfg.renew_before_days) or _application_uri(cert) != self.application_uri

    def renew(self) -> CertificateInfo:
        """A new key pair and self-signed certificate (servers must trust the new one: it has a new thumbprint)."""
        with self._own_lock:
            self._make_dirs()
            key = rsa.generate_private_key(public_exponent=65537, key_size=self.cfg.key_size)
            cert = self._self_signed(key)
            key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                        serialization.NoEncryption())
            der = cert.public_bytes(serialization.Encoding.DER)
            # a crash between the two writes leaves a mismatched pair, which ensure_own_certificate detects
            _write_atomic(self.key_file, key_pem, _KEY_MODE)
            _write_atomic(self.cert_file, der)
            return certificate_info(der, "own", self.cert_file)

    def _self_signed(self, key: rsa.RSAPrivateKey) -> x509.Certificate:
        host = socket.gethostname()
        name = x509.Name([
            x509.NameAttribute(NameOID.COMMON_NAME, f"AAS Edge Gateway@{host}"[:64]),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "AAS Edge Gateway"),
            x509.NameAttribute(NameOID.DOMAIN_COMPONENT, host),
        ])
        alt_names: list[x509.GeneralName] = [x509.UniformResourceIdentifier(self.application_uri), x509.DNSName(host)]
        with contextlib.suppress(ValueError):  # a host name that is an IP literal also goes in as an IP
            alt_names.append(x509.IPAddress(ipaddress.ip_address(host)))
        now = dt.datetime.now(dt.UTC)
        return (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))  # tolerate a server clock slightly behind ours
            .not_valid_after(now + dt.timedelta(days=self.cfg.validity_days))
            .add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            # OPC UA Part 6, 6.2.2: an application instance certificate needs all four of these
            .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=True, key_encipherment=True,
                                         data_encipherment=True, key_agreement=False, key_cert_sign=False,
                                         crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]),
                           critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256())
        )

    # --- trust list ----------------------------------------------------------------------

    def list(self) -> list[CertificateInfo]:
        """Own certificate (if generated), then trusted, then rejected ones."""
        out: list[CertificateInfo] = []
        with contextlib.suppress(OSError, ValueError):
            out.append(certificate_info(self.cert_file.read_bytes(), "own", self.cert_file))
        for state in ("trusted", "rejected"):
            out.extend(info for info, _ in self._scan(state))
        return out

    def is_trusted(self, der: bytes) -> bool:
        tp = thumbprint(der)
        return any(info.thumbprint == tp for info, _ in self._scan("trusted"))

    def trusted_issuer(self, der: bytes, chain: Sequence[bytes] = (),
                       now: dt.datetime | None = None) -> CertificateInfo | None:
        """The trusted CA certificate that issued `der`, directly or through CA certificates in `chain`.

        None unless every certificate on the path is valid at `now` and every issuer is a CA whose
        signature verifies. At most a few levels are followed (plant PKIs are shallow).
        """
        when = now or dt.datetime.now(dt.UTC)
        cas: list[tuple[CertificateInfo, x509.Certificate]] = []
        for info, path in self._scan("trusted"):
            with contextlib.suppress(OSError, ValueError):
                cert = x509.load_der_x509_certificate(load_certificate_der(path.read_bytes()))
                if _is_ca(cert):
                    cas.append((info, cert))
        if not cas:
            return None
        intermediates = []
        for d in chain:
            with contextlib.suppress(ValueError):
                c = x509.load_der_x509_certificate(d)
                if _is_ca(c):
                    intermediates.append(c)
        cert = x509.load_der_x509_certificate(der)
        for _ in range(_MAX_CHAIN):
            if not _valid_at(cert, when):
                return None
            for info, ca in cas:
                if _valid_at(ca, when) and _issued_by(cert, ca):
                    return info
            nxt = next((i for i in intermediates if i is not cert and _issued_by(cert, i)), None)
            if nxt is None:
                return None
            cert = nxt
        return None

    def reject(self, der: bytes) -> CertificateInfo:
        """Keep an unknown certificate under rejected/, where `trust` finds it; a known one is left where it is."""
        existing = self._find_exact(thumbprint(der))
        if existing is not None:
            return existing
        return self._store(der, "rejected")

    def add_trusted(self, der: bytes) -> CertificateInfo:
        """Trust a certificate given as DER or PEM (trust on first use, or an import)."""
        der = load_certificate_der(der)
        existing = self._find_exact(thumbprint(der))
        if existing is not None:
            if existing.state == "trusted":
                return existing
            Path(existing.file).unlink(missing_ok=True)
        return self._store(der, "trusted")

    def trust(self, thumbprint: str) -> CertificateInfo:
        """Move a rejected certificate to trusted (already trusted: no change)."""
        return self._move(thumbprint, "trusted")

    def untrust(self, thumbprint: str) -> CertificateInfo:
        """Move a trusted certificate to rejected (already rejected: no change)."""
        return self._move(thumbprint, "rejected")

    def remove(self, thumbprint: str) -> CertificateInfo:
        """Delete a trusted or rejected certificate; a server using it is rejected (and listed) again."""
        info, path = self._lookup(thumbprint)
        path.unlink()
        return info

    # --- internals -----------------------------------------------------------------------

    def _make_dirs(self) -> None:
        for d in (self.path, self.path / "own", self.key_file.parent, self.trusted_dir, self.rejected_dir):
            d.mkdir(mode=_DIR_MODE, parents=True, exist_ok=True)
            os.chmod(d, _DIR_MODE)

    def _dir(self, state: CertState) -> Path:
        return self.trusted_dir if state == "trusted" else self.rejected_dir

    def _scan(self, state: CertState) -> _Found:
        """Every readable certificate in a list folder; files dropped in by hand (PEM or DER) count too."""
        d = self._dir(state)
        if not d.is_dir():
            return []
        out: _Found = []
        for f in sorted(d.iterdir()):
            if f.suffix.lower() not in _CERT_SUFFIXES or f.name.startswith("."):
                continue
            try:
                out.append((certificate_info(load_certificate_der(f.read_bytes()), state, f), f))
            except (OSError, ValueError):
                continue  # not a certificate (or vanished meanwhile): not ours to judge here
        return out

    def _find_exact(self, tp: str) -> CertificateInfo | None:
        for state in ("trusted", "rejected"):
            for info, _ in self._scan(state):
                if info.thumbprint == tp:
                    return info
        return None

    def _lookup(self, prefix: str) -> tuple[CertificateInfo, Path]:
        want = _normalise(prefix)
        if not want:
            raise UnknownCertificateError(prefix)
        hits = [(i, p) for s in ("trusted", "rejected") for i, p in self._scan(s) if i.thumbprint.startswith(want)]
        distinct = {i.thumbprint for i, _ in hits}
        if not distinct:
            raise UnknownCertificateError(want)
        if len(distinct) > 1:
            raise AmbiguousThumbprintError(f"thumbprint prefix {want} matches {len(distinct)} certificates: "
                                           + ", ".join(sorted(distinct)))
        # the same certificate in both folders (copied by hand): the trusted copy wins
        return hits[0]

    def _move(self, prefix: str, to: CertState) -> CertificateInfo:
        info, path = self._lookup(prefix)
        if info.state == to:
            return info
        der = load_certificate_der(path.read_bytes())
        new = self._store(der, to)
        path.unlink(missing_ok=True)
        return new

    def _store(self, der: bytes, state: CertState) -> CertificateInfo:
        self._make_dirs()
        cert = x509.load_der_x509_certificate(der)
        path = self._dir(state) / f"{_slug(cert)}_{thumbprint(der)}.der"
        _write_atomic(path, der)
        return certificate_info(der, state, path)
