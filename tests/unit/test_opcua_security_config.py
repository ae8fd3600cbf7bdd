"""`security:` and `user:` of an OPC UA source: accepted forms, errors naming the key, endpoint choice."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from asyncua import ua
from asyncua.crypto import security_policies as sp

from connectors.opcua.config import OpcUaSourceConfig, SecurityConfig
from connectors.opcua.security import SecurityError, choose_endpoint
from gateway.config import ConfigError, GatewayConfig, parse_config

BASE: dict[str, Any] = {
    "assets": [{
        "id_short": "M1", "id": "urn:t:aas:M1", "global_asset_id": "urn:t:asset:M1",
        "source": {"endpoint": "opc.tcp://127.0.0.1:4840/", "security": {"policy": "None", "mode": "None"}},
        "points": [{"node": "s=X", "path": "X", "type": "xs:double"}],
    }],
}


def parse(**source: Any) -> GatewayConfig:
    data = copy.deepcopy(BASE)
    data["assets"][0]["source"].update(source)
    return parse_config(data, env={})


def opc(**source: Any) -> OpcUaSourceConfig:
    src = parse(**source).assets[0].source
    assert isinstance(src, OpcUaSourceConfig)
    return src


def issues(**source: Any) -> list[tuple[str, str]]:
    with pytest.raises(ConfigError) as e:
        parse(**source)
    return [(i.key, i.message) for i in e.value.issues]


def test_existing_none_config_keeps_working() -> None:
    sec = opc().security
    assert (sec.policy, sec.mode, sec.secured) == ("None", "None", False)


def test_auto_as_a_string_or_per_key() -> None:
    sec = opc(security="auto").security
    assert (sec.policy, sec.mode, sec.secured, sec.trust_on_first_use) == ("auto", "auto", True, False)
    sec = opc(security={"policy": "auto", "mode": "SignAndEncrypt", "trust_on_first_use": True}).security
    assert sec.trust_on_first_use


def test_certificate_and_key_are_optional_but_go_together() -> None:
    sec = opc(security={"policy": "Basic256Sha256", "mode": "Sign"}).security
    assert sec.certificate is None and sec.private_key is None
    assert issues(security={"policy": "Basic256Sha256", "mode": "Sign", "certificate": "c.der"}) == [
        ("assets[0].source.security",
         "'certificate' and 'private_key' go together (leave both out to use the gateway's PKI)")]


@pytest.mark.parametrize(("security", "message"), [
    ("autox", "must be 'auto' or a mapping with 'policy' and 'mode', got 'autox'"),
    ({"policy": "Basic256Sha256", "mode": "None"}, "'policy' and 'mode' must both be None"),
    ({"policy": "None", "mode": "None", "trust_on_first_use": True}, "need a secured policy"),
])
def test_security_errors_name_the_key(security: Any, message: str) -> None:
    [(key, msg)] = issues(security=security)
    assert key == "assets[0].source.security" and message in msg


def test_unknown_policy_is_named() -> None:
    [(key, msg)] = issues(security={"policy": "Basic128Rsa15", "mode": "Sign"})
    assert key == "assets[0].source.security.policy" and "Basic128Rsa15" in msg


def test_user_identities() -> None:
    u = opc(user={"username": "alice", "password": "pw"}).user
    assert u is not None and u.type == "username" and u.password is not None
    assert "pw" not in repr(u)  # a SecretStr: never in a repr or a log
    u = opc(user={"type": "username", "username": "alice", "password": "pw"}).user
    assert u is not None and u.type == "username"
    u = opc(user={"type": "certificate", "certificate": "u.der", "private_key": "u.pem"}).user
    assert u is not None and u.type == "certificate"
    u = opc(user={"type": "anonymous"}).user
    assert u is not None and u.type == "anonymous"


@pytest.mark.parametrize(("user", "message"), [
    ({"username": "alice"}, "type username needs 'password'"),
    ({"type": "certificate", "certificate": "u.der"}, "type certificate needs 'private_key'"),
    ({"type": "anonymous", "username": "bob"}, "'username' not used with type anonymous"),
])
def test_user_errors_name_the_key(user: dict[str, Any], message: str) -> None:
    assert issues(user=user) == [("assets[0].source.user", message)]


def endpoint(policy: type[sp.SecurityPolicy], mode: ua.MessageSecurityMode, level: int) -> ua.EndpointDescription:
    from tests.unit.test_pki import server_cert

    return ua.EndpointDescription(EndpointUrl="opc.tcp://h:4840/", SecurityPolicyUri=policy.URI, SecurityMode=mode,
                                  SecurityLevel=level, ServerCertificate=server_cert("S") if policy.URI else b"")


SE, SIGN = ua.MessageSecurityMode.SignAndEncrypt, ua.MessageSecurityMode.Sign
OFFER = [
    endpoint(sp.SecurityPolicyNone, ua.MessageSecurityMode.None_, 0),
    endpoint(sp.SecurityPolicyBasic256Sha256, SE, 70),
    endpoint(sp.SecurityPolicyAes256Sha256RsaPss, SIGN, 90),  # a high level, but only Sign
    endpoint(sp.SecurityPolicyAes128Sha256RsaOaep, SE, 99),  # a server ranking the weaker policy highest
]


def test_auto_prefers_encryption_then_policy_strength_then_level() -> None:
    c = choose_endpoint(OFFER, SecurityConfig(policy="auto", mode="auto"))
    assert (c.policy, c.mode) == ("Basic256Sha256", SE)
    c = choose_endpoint([*OFFER, endpoint(sp.SecurityPolicyAes256Sha256RsaPss, SE, 10)],
                        SecurityConfig(policy="auto", mode="auto"))
    assert (c.policy, c.mode) == ("Aes256_Sha256_RsaPss", SE)
    c = choose_endpoint(OFFER, SecurityConfig(policy="auto", mode="Sign"))
    assert (c.policy, c.mode) == ("Aes256_Sha256_RsaPss", SIGN)


def test_auto_never_picks_none_and_says_what_is_offered() -> None:
    with pytest.raises(SecurityError, match="offers: None/None"):
        choose_endpoint(OFFER[:1], SecurityConfig(policy="auto", mode="auto"))
    with pytest.raises(SecurityError, match="no endpoint with Aes256_Sha256_RsaPss/SignAndEncrypt"):
        choose_endpoint(OFFER, SecurityConfig(policy="Aes256_Sha256_RsaPss", mode="SignAndEncrypt"))
