"""The OPC UA PKI on a real folder: own certificate, permissions, trust list moves, prefixes."""

from __future__ import annotations

import datetime as dt
import stat
from pathlib import Path

import pytest
from asyncua.crypto import cert_gen
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID

from connectors.opcua.pki import (
    AmbiguousThumbprintError,
    CertificateInfo,
    Pki,
    PkiConfig,
    UnknownCertificateError,
    thumbprint,
)

URI = "urn:test-host:aas-edge-gateway"


def make_pki(tmp_path: Path, **kw: object) -> Pki:
    return Pki(PkiConfig(path=tmp_path / "pki", application_uri=URI, **kw))


_KEY = cert_gen.generate_private_key()  # one key for all: RSA key generation is the slow part


def server_cert(name: str) -> bytes:
    """A certificate as a server would present it (made with asyncua's own generator, not ours)."""
    san: list[x509.GeneralName] = [x509.UniformResourceIdentifier(f"urn:sim:{name}")]
    cert = cert_gen.generate_self_signed_app_certificate(_KEY, name, {}, san, [ExtendedKeyUsageOID.SERVER_AUTH])
    return cert.public_bytes(serialization.Encoding.DER)


def mode(p: Path) -> int:
    return stat.S_IMODE(p.stat().st_mode)


def test_nothing_is_created_until_needed(tmp_path: Path) -> None:
    pki = make_pki(tmp_path)
    assert pki.list() == []
    assert not (tmp_path / "pki").exists()


def test_own_certificate_is_generated_with_safe_permissions(tmp_path: Path) -> None:
    pki = make_pki(tmp_path)
    cert_file, key_file = pki.ensure_own_certificate()
    assert cert_file == tmp_path / "pki" / "own" / "cert.der"
    assert key_file == tmp_path / "pki" / "own" / "private" / "key.pem"
    assert mode(key_file) == 0o600
    for d in ("", "own", "own/private", "trusted", "rejected"):
        assert mode(tmp_path / "pki" / d) == 0o700, d
    cert = x509.load_der_x509_certificate(cert_file.read_bytes())
    key = serialization.load_pem_private_key(key_file.read_bytes(), password=None)
    assert key.key_size >= 2048  # type: ignore[union-attr]
    assert cert.signature_hash_algorithm is not None and cert.signature_hash_algorithm.name == "sha256"
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.UniformResourceIdentifier) == [URI]
    assert san.get_values_for_type(x509.DNSName)  # the host name
    ku = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert ku.digital_signature and ku.content_commitment and ku.key_encipherment and ku.data_encipherment
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert set(eku) == {ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH}
    life = cert.not_valid_after_utc - cert.not_valid_before_utc
    assert dt.timedelta(days=729) < life < dt.timedelta(days=731)
    [own] = pki.list()
    assert own.state == "own" and own.application_uri == URI and own.thumbprint == thumbprint(cert_file.read_bytes())
    assert len(own.thumbprint) == 40 and own.thumbprint == own.thumbprint.upper()
    CertificateInfo.model_validate_json(own.model_dump_json())  # JSON round trip for the admin API


def test_default_application_uri_names_the_host(tmp_path: Path) -> None:
    import socket

    pki = Pki(PkiConfig(path=tmp_path / "pki"))
    assert pki.application_uri == f"urn:{socket.gethostname()}:aas-edge-gateway"


def test_own_certificate_is_kept_then_renewed_when_expiring(tmp_path: Path) -> None:
    pki = make_pki(tmp_path)
    cert_file, _ = pki.ensure_own_certificate()
    first = cert_file.read_bytes()
    pki.ensure_own_certificate()
    assert cert_file.read_bytes() == first, "a valid certificate is kept"
    # a certificate valid for 10 days with renew_before_days=30 is renewed at the next start
    short = make_pki(tmp_path, validity_days=10)
    short.renew()
    ten_days = cert_file.read_bytes()
    make_pki(tmp_path, renew_before_days=30).ensure_own_certificate()
    assert cert_file.read_bytes() != ten_days


def test_renew_makes_a_new_key_and_a_changed_uri_forces_renewal(tmp_path: Path) -> None:
    pki = make_pki(tmp_path)
    _, key_file = pki.ensure_own_certificate()
    key0 = key_file.read_bytes()
    info = pki.renew()
    assert key_file.read_bytes() != key0 and info.state == "own" and mode(key_file) == 0o600
    other = Pki(PkiConfig(path=tmp_path / "pki", application_uri="urn:other:gw"))
    other.ensure_own_certificate()
    assert other.list()[0].application_uri == "urn:other:gw"


def test_a_key_that_does_not_match_the_certificate_is_replaced(tmp_path: Path) -> None:
    pki = make_pki(tmp_path)
    cert_file, key_file = pki.ensure_own_certificate()
    stranger = make_pki(tmp_path / "x")
    stranger.renew()
    key_file.write_bytes(stranger.key_file.read_bytes())  # as if a crash came between key and certificate
    pki.ensure_own_certificate()
    cert = x509.load_der_x509_certificate(cert_file.read_bytes())
    key = serialization.load_pem_private_key(key_file.read_bytes(), password=None)
    pem = serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    assert key.public_key().public_bytes(*pem) == cert.public_key().public_bytes(*pem)


def test_concurrent_first_use_generates_one_matching_pair(tmp_path: Path) -> None:
    # every source of a gateway asks for the certificate at startup, from worker threads
    from concurrent.futures import ThreadPoolExecutor

    pki = make_pki(tmp_path)
    with ThreadPoolExecutor(4) as ex:
        list(ex.map(lambda _: pki.ensure_own_certificate(), range(4)))
    cert = x509.load_der_x509_certificate(pki.cert_file.read_bytes())
    key = serialization.load_pem_private_key(pki.key_file.read_bytes(), password=None)
    pem = serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    assert key.public_key().public_bytes(*pem) == cert.public_key().public_bytes(*pem)
    assert sorted(p.name for p in pki.key_file.parent.iterdir()) == ["key.pem"], "no temporary files left"


def test_reject_trust_untrust_remove(tmp_path: Path) -> None:
    pki = make_pki(tmp_path)
    der = server_cert("PLC1")
    assert not pki.is_trusted(der)
    rejected = pki.reject(der)
    assert rejected.state == "rejected" and Path(rejected.file).parent == tmp_path / "pki" / "rejected"
    assert rejected.application_uri == "urn:sim:PLC1" and "PLC1" in rejected.subject
    assert pki.reject(der) == rejected, "rejecting twice keeps one file"
    trusted = pki.trust(rejected.thumbprint[:8].lower())  # a unique prefix, any case
    assert trusted.state == "trusted" and pki.is_trusted(der)
    assert not Path(rejected.file).exists()
    assert pki.reject(der).state == "trusted", "reject() never demotes a trusted certificate"
    assert pki.untrust(trusted.thumbprint).state == "rejected" and not pki.is_trusted(der)
    removed = pki.remove(trusted.thumbprint)
    assert removed.state == "rejected" and pki.list() == []
    with pytest.raises(UnknownCertificateError, match=trusted.thumbprint):
        pki.trust(trusted.thumbprint)


def test_thumbprints_with_colons_are_accepted(tmp_path: Path) -> None:
    pki = make_pki(tmp_path)
    info = pki.reject(server_cert("PLC2"))
    colons = ":".join(info.thumbprint[i:i + 2] for i in range(0, 40, 2)).lower()
    assert pki.trust(colons).state == "trusted"


def test_ambiguous_prefix_is_refused(tmp_path: Path) -> None:
    pki = make_pki(tmp_path)
    infos = [pki.reject(server_cert(f"S{i}")) for i in range(20)]
    # 20 random thumbprints share a first hex digit (16 values) by pigeonhole
    by_first: dict[str, int] = {}
    for i in infos:
        by_first[i.thumbprint[0]] = by_first.get(i.thumbprint[0], 0) + 1
    shared = next(c for c, n in by_first.items() if n > 1)
    with pytest.raises(AmbiguousThumbprintError, match=f"prefix {shared} matches"):
        pki.trust(shared)
    with pytest.raises(UnknownCertificateError):
        pki.trust("")
    assert all(i.state == "rejected" for i in pki.list())


def test_add_trusted_and_files_dropped_in_by_hand(tmp_path: Path) -> None:
    pki = make_pki(tmp_path)
    der = server_cert("PLC3")
    pki.reject(der)
    info = pki.add_trusted(der)
    assert info.state == "trusted" and [i.state for i in pki.list()] == ["trusted"]
    # an integrator copies a PEM file into trusted/ with any name: it counts at the next check
    other = server_cert("PLC4")
    pem = x509.load_der_x509_certificate(other).public_bytes(serialization.Encoding.PEM)
    (tmp_path / "pki" / "trusted" / "plc4.pem").write_bytes(pem)
    (tmp_path / "pki" / "trusted" / "README.txt").write_text("not a certificate")
    (tmp_path / "pki" / "trusted" / "broken.der").write_bytes(b"garbage")
    assert pki.is_trusted(other)
    assert {i.thumbprint for i in pki.list()} == {thumbprint(der), thumbprint(other)}


def test_unknown_certificate_error_names_the_thumbprint() -> None:
    err = UnknownCertificateError("ABC123")
    assert isinstance(err, KeyError) and "ABC123" in str(err)


def test_the_printed_trust_command_works_with_awkward_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    import shlex

    from gateway.cli import main as cli_main

    monkeypatch.chdir(tmp_path)
    folder = Path("data dir") / "pki's"  # relative, with a space and a quote
    pki = Pki(PkiConfig(path=folder, application_uri=URI), audit_file=Path("data dir") / "audit.jsonl")
    tp = pki.reject(server_cert("PLC 7")).thumbprint
    command = pki.trust_command(tp)
    argv = shlex.split(command)
    assert argv[:3] == ["aas-gateway", "pki", "--pki-dir"] and Path(argv[3]).is_absolute() and argv[-1] == tp
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")  # the folder is found from anywhere
    assert cli_main(argv[1:]) == 0, capsys.readouterr().err
    trusted = Pki(PkiConfig(path=tmp_path / folder, application_uri=URI)).list()
    assert [i.state for i in trusted if i.thumbprint == tp] == ["trusted"]
    assert tp in (tmp_path / "data dir" / "audit.jsonl").read_text()
