"""`aas-gateway tls self-signed`: a certificate and key for HTTPS on the REST API, in one command.

For trials and closed networks; in production use a certificate from the plant's CA. The certificate
names the host (DNS or IP), localhost and 127.0.0.1, so clients can verify it by pinning the file
(`curl --cacert`, `httpx.Client(verify=...)`). The key is written with mode 0600 and never printed.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from gateway.cli.common import EXIT_OK, Subparsers

if TYPE_CHECKING:
    from cryptography import x509

CERT_NAME = "api-cert.pem"
KEY_NAME = "api-key.pem"


def _san(names: list[str]) -> x509.SubjectAlternativeName:
    from cryptography import x509

    entries: list[x509.GeneralName] = []
    for n in dict.fromkeys(names):
        try:
            entries.append(x509.IPAddress(ipaddress.ip_address(n)))
        except ValueError:
            entries.append(x509.DNSName(n))
    return x509.SubjectAlternativeName(entries)


def self_signed(out: Path, host: str, days: int = 825) -> tuple[Path, Path]:
    """Write (certificate, key) for `host` into `out`; returns their paths."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "AAS edge gateway (self-signed)")])
    now = datetime.now(UTC)
    pub = key.public_key()
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(pub)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5)).not_valid_after(now + timedelta(days=days))
            .add_extension(_san([host, "localhost", "127.0.0.1", "::1"]), critical=False)
            # its own issuer: clients that pin this file accept it as the trust anchor
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, content_commitment=False,
                                         key_encipherment=False, data_encipherment=False, key_agreement=False,
                                         crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(pub), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(pub), critical=False)
            .sign(key, hashes.SHA256()))
    out.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = out / CERT_NAME, out / KEY_NAME
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    if key_path.exists():
        key_path.unlink()
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    return cert_path, key_path


def cmd_self_signed(args: argparse.Namespace) -> int:
    cert, key = self_signed(Path(args.out), args.host, args.days)
    print(f"wrote {cert} and {key} (mode 0600) for {args.host}, localhost, 127.0.0.1; valid {args.days} days")
    print("serve HTTPS with, in the config:")
    print(f"  api:\n    tls: {{certificate: {cert.resolve()}, private_key: {key.resolve()}}}")
    print(f"clients verify it with: curl --cacert {cert.resolve()} https://{args.host}:8080/health/live")
    return EXIT_OK


def register(sub: Subparsers) -> None:
    p: argparse.ArgumentParser = sub.add_parser("tls", help="TLS helpers for the REST API")
    acts = p.add_subparsers(dest="action", required=True)
    s = acts.add_parser("self-signed", help="write a self-signed certificate and key for HTTPS")
    s.add_argument("--out", required=True, help="directory for api-cert.pem and api-key.pem")
    s.add_argument("--host", required=True, help="host name or IP address clients use to reach the gateway")
    s.add_argument("--days", type=int, default=825, help="validity (default 825 days)")
    s.set_defaults(func=cmd_self_signed)
