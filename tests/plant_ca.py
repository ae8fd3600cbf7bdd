"""A plant certificate authority for tests: CA certificates and application certificates it issues."""

from __future__ import annotations

import datetime as dt
import ipaddress

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

_NOW = dt.datetime.now(dt.UTC)
_YEAR = dt.timedelta(days=365)


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Test Plant"),
                      x509.NameAttribute(NameOID.COMMON_NAME, cn)])


class PlantCa:
    """A CA (root, or intermediate when `parent` is given) that signs OPC UA application certificates."""

    def __init__(self, cn: str = "Test Plant Root CA", parent: PlantCa | None = None,
                 not_before: dt.datetime = _NOW - dt.timedelta(days=1), not_after: dt.datetime = _NOW + 10 * _YEAR,
                 ca: bool = True) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.name = _name(cn)
        signer_key = parent.key if parent is not None else self.key
        issuer = parent.name if parent is not None else self.name
        builder = (x509.CertificateBuilder().subject_name(self.name).issuer_name(issuer)
                   .public_key(self.key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(not_before).not_valid_after(not_after)
                   .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
                   .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False,
                                                key_encipherment=False, data_encipherment=False, key_agreement=False,
                                                key_cert_sign=ca, crl_sign=ca, encipher_only=False,
                                                decipher_only=False), critical=True))
        self.certificate = builder.sign(signer_key, hashes.SHA256())
        self.der = self.certificate.public_bytes(serialization.Encoding.DER)

    def issue(self, application_uri: str, cn: str, not_before: dt.datetime = _NOW - dt.timedelta(days=1),
              not_after: dt.datetime = _NOW + 2 * _YEAR) -> tuple[bytes, bytes]:
        """An application instance certificate signed by this CA: (DER, PKCS#8 PEM key)."""
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        sans: list[x509.GeneralName] = [x509.UniformResourceIdentifier(application_uri), x509.DNSName("localhost"),
                                        x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
        cert = (x509.CertificateBuilder().subject_name(_name(cn)).issuer_name(self.name)
                .public_key(key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(not_before).not_valid_after(not_after)
                .add_extension(x509.SubjectAlternativeName(sans), critical=False)
                .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=True, key_encipherment=True,
                                             data_encipherment=True, key_agreement=False, key_cert_sign=False,
                                             crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
                .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH,
                                                      ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
                .sign(self.key, hashes.SHA256()))
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
        return cert.public_bytes(serialization.Encoding.DER), pem
