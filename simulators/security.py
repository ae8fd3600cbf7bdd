"""Secured endpoints for the simulators: server certificate, offered policies, user accounts.

A real PLC has one certificate for life; so has a simulated machine: generated
once (into ``pki_dir`` when given, and reused from there by later runs, else
in memory for the object's lifetime) and kept across ``stop()``/``start()``,
so a gateway that trusted it once keeps trusting it after a restart.

Imports asyncua (and its ``cryptography``) only, like the rest of the package.
"""

from __future__ import annotations

import hmac
import ipaddress
import os
import socket
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from asyncua import ua
from asyncua.crypto import cert_gen
from asyncua.crypto.permission_rules import User, UserRole
from asyncua.server.user_managers import UserManager
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID

_POLICY_TYPES: dict[str, ua.SecurityPolicyType] = {
    "None": ua.SecurityPolicyType.NoSecurity,
    "Basic256Sha256/Sign": ua.SecurityPolicyType.Basic256Sha256_Sign,
    "Basic256Sha256/SignAndEncrypt": ua.SecurityPolicyType.Basic256Sha256_SignAndEncrypt,
    "Aes128_Sha256_RsaOaep/Sign": ua.SecurityPolicyType.Aes128Sha256RsaOaep_Sign,
    "Aes128_Sha256_RsaOaep/SignAndEncrypt": ua.SecurityPolicyType.Aes128Sha256RsaOaep_SignAndEncrypt,
    "Aes256_Sha256_RsaPss/Sign": ua.SecurityPolicyType.Aes256Sha256RsaPss_Sign,
    "Aes256_Sha256_RsaPss/SignAndEncrypt": ua.SecurityPolicyType.Aes256Sha256RsaPss_SignAndEncrypt,
}
ALL_SECURED: tuple[str, ...] = tuple(k for k in _POLICY_TYPES if k != "None")


def policy_types(names: Iterable[str]) -> list[ua.SecurityPolicyType]:
    """``["Basic256Sha256/SignAndEncrypt", "None"]`` -> asyncua's enum values (ValueError for unknown names)."""
    out = []
    for n in names:
        if n not in _POLICY_TYPES:
            raise ValueError(f"unknown security policy {n!r} (known: {', '.join(_POLICY_TYPES)})")
        out.append(_POLICY_TYPES[n])
    return out


def make_certificate(application_uri: str, common_name: str, hostname: str | None = None) -> tuple[bytes, bytes]:
    """A self-signed application instance certificate: (DER, PKCS#8 PEM key)."""
    key = cert_gen.generate_private_key()
    host = hostname or socket.gethostname()
    sans: list[x509.GeneralName] = [x509.UniformResourceIdentifier(application_uri), x509.DNSName(host),
                                    x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    cert = cert_gen.generate_self_signed_app_certificate(
        key, common_name, {"organizationName": "AAS gateway simulators"}, sans,
        [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH], days=3650)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    return cert.public_bytes(serialization.Encoding.DER), pem


def load_or_make_certificate(pki_dir: Path | None, application_uri: str, common_name: str) -> tuple[bytes, bytes]:
    """The server's (DER, key PEM); from ``pki_dir`` if a pair is there, else generated (and saved there)."""
    if pki_dir is None:
        return make_certificate(application_uri, common_name)
    cert_file, key_file = pki_dir / "server_cert.der", pki_dir / "server_key.pem"
    if cert_file.exists() and key_file.exists():
        return cert_file.read_bytes(), key_file.read_bytes()
    der, pem = make_certificate(application_uri, common_name)
    pki_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    cert_file.write_bytes(der)
    fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
    return der, pem


def load_der(cert: bytes | str | Path) -> bytes:
    """DER of a certificate given as DER/PEM bytes or a file."""
    data = cert if isinstance(cert, bytes) else Path(cert).read_bytes()
    if data.lstrip().startswith(b"-----BEGIN"):
        return x509.load_pem_x509_certificate(data).public_bytes(serialization.Encoding.DER)
    return data


@dataclass
class SimUserManager(UserManager):
    """User accounts of a simulated machine: passwords, X.509 user certificates, optionally anonymous.

    asyncua answers BadUserAccessDenied when ``get_user`` returns None, which is exactly what a
    real server says for a wrong password.
    """

    users: Mapping[str, str] = field(default_factory=dict)
    certificates: set[bytes] = field(default_factory=set)  # DER of accepted user certificates
    allow_anonymous: bool = True

    def get_user(self, iserver: Any, username: str | None = None, password: str | None = None,
                 certificate: Any = None) -> User | None:
        # `certificate` is the X.509 user token's certificate (signature already verified by asyncua), but
        # for other tokens on a secured channel asyncua passes the client's application certificate: so
        # user name first, then "is it an accepted user certificate", then anonymous
        if username is not None:
            expected = self.users.get(username)
            given = password.encode() if isinstance(password, str) else bytes(password or b"")
            ok = expected is not None and hmac.compare_digest(expected.encode(), given)
            return User(role=UserRole.User, name=username) if ok else None
        if certificate is not None and bytes(certificate) in self.certificates:
            return User(role=UserRole.User, name="x509")
        # anonymous: the User role, because asyncua's default ruleset lets the Anonymous role do nothing
        return User(role=UserRole.User) if self.allow_anonymous else None

    def identity_tokens(self) -> list[type]:
        tokens: list[type] = []
        if self.allow_anonymous:
            tokens.append(ua.AnonymousIdentityToken)
        if self.users:
            tokens.append(ua.UserNameIdentityToken)
        if self.certificates:
            tokens.append(ua.X509IdentityToken)
        return tokens
