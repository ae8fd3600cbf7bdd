"""Trust through a plant CA: a CA certificate in trusted/ vouches for the server certificates it issued."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from connectors.opcua.pki import Pki, PkiConfig, split_chain
from tests.plant_ca import PlantCa

NOW = dt.datetime.now(dt.UTC)


def make_pki(tmp_path: Path) -> Pki:
    return Pki(PkiConfig(path=tmp_path / "pki", application_uri="urn:test:gw"))


def test_a_trusted_ca_vouches_for_what_it_issued_and_nothing_else(tmp_path: Path) -> None:
    pki = make_pki(tmp_path)
    root, stranger = PlantCa(), PlantCa("Someone Else's CA")
    leaf, _ = root.issue("urn:plant:cnc7", "CNC7")
    foreign, _ = stranger.issue("urn:plant:cnc7", "CNC7")
    assert pki.trusted_issuer(leaf) is None, "nothing trusted yet"
    ca_info = pki.add_trusted(root.der)
    assert pki.trusted_issuer(leaf) == ca_info
    assert not pki.is_trusted(leaf), "the leaf itself is not pinned"
    assert pki.trusted_issuer(foreign) is None, "same names, other CA: the signature decides"
    pki.untrust(ca_info.thumbprint)
    assert pki.trusted_issuer(leaf) is None, "untrusting the CA withdraws its certificates at once"


def test_intermediates_sent_by_the_server_complete_the_path(tmp_path: Path) -> None:
    pki = make_pki(tmp_path)
    root = PlantCa()
    line = PlantCa("Line 2 Issuing CA", parent=root)
    leaf, _ = line.issue("urn:plant:imm3", "IMM3")
    pki.add_trusted(root.der)
    assert pki.trusted_issuer(leaf) is None, "without the intermediate there is no path"
    assert pki.trusted_issuer(leaf, [line.der]) is not None
    # an OPC UA ServerCertificate field carries the certificate followed by its chain
    assert split_chain(leaf + line.der) == [leaf, line.der]
    assert split_chain(leaf) == [leaf]


def test_dates_and_ca_flags_are_enforced_on_the_path(tmp_path: Path) -> None:
    pki = make_pki(tmp_path)
    root = PlantCa()
    pki.add_trusted(root.der)
    expired, _ = root.issue("urn:plant:old", "OLD", not_before=NOW - dt.timedelta(days=800),
                            not_after=NOW - dt.timedelta(days=1))
    future, _ = root.issue("urn:plant:new", "NEW", not_before=NOW + dt.timedelta(days=1))
    assert pki.trusted_issuer(expired) is None and pki.trusted_issuer(future) is None

    not_a_ca = PlantCa("Just a server", ca=False)
    pki.add_trusted(not_a_ca.der)
    forged, _ = not_a_ca.issue("urn:plant:x", "X")
    assert pki.trusted_issuer(forged) is None, "a trusted end-entity certificate cannot issue others"

    old_root = PlantCa("Expired Root", not_before=NOW - dt.timedelta(days=4000), not_after=NOW - dt.timedelta(days=1))
    pki.add_trusted(old_root.der)
    leaf, _ = old_root.issue("urn:plant:y", "Y")
    assert pki.trusted_issuer(leaf) is None, "an expired CA vouches for nothing"
