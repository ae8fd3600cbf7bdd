"""A real gateway (example config, machines unreachable) serving its API on a free port, and helpers
for keys and JWTs. No part of the gateway is replaced: requests go over real sockets to uvicorn."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from gateway.app import Gateway
from gateway.auth.apikeys import ApiKeyStore, default_keys_file
from gateway.auth.config import ApiAuthConfig, ApiTlsConfig, CorsConfig, JwtConfig, Role
from gateway.config import GatewayConfig, load_config

ISSUER = "https://idp.test/realms/plant"
AUDIENCE = "aas-gateway"
KID = "test-key-1"
ROLE_MAP: dict[str, Role] = {"plant-viewer": "reader", "plant-operator": "operator", "plant-admin": "admin"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def gateway_config(tmp_path: Path) -> GatewayConfig:
    """The example config with its data in tmp_path and its machines on a port nobody listens on."""
    cfg = load_config("deploy/example-config.yaml")
    dead = free_port()
    return cfg.with_overrides({
        "historian.path": tmp_path / "data" / "historian.sqlite", "pki.path": tmp_path / "data" / "pki",
        "audit.path": tmp_path / "data" / "audit" / "audit.jsonl", "api.port": 0,
        **{f"assets[{i}].source.endpoint": f"opc.tcp://127.0.0.1:{dead}/" for i in range(len(cfg.assets))}})


def keys_file(cfg: GatewayConfig) -> Path:
    return cfg.api.auth.api_keys_file or default_keys_file(cfg.historian.path)


def new_key(cfg: GatewayConfig, role: Role) -> str:
    return ApiKeyStore(keys_file(cfg)).create(f"test-{role}", role)[0]


def bearer(credential: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {credential}"}


GatewayFactory = Callable[..., AbstractAsyncContextManager[Gateway]]


@pytest.fixture
def gateway(tmp_path: Path) -> GatewayFactory:
    """`async with gateway(auth=..., tls=..., cors=..., cfg=...) as gw`: a started gateway with its API."""

    @asynccontextmanager
    async def start(auth: ApiAuthConfig | None = None, tls: ApiTlsConfig | None = None,
                    cors: CorsConfig | None = None, cfg: GatewayConfig | None = None) -> AsyncIterator[Gateway]:
        cfg = cfg or gateway_config(tmp_path)
        cfg = cfg.with_overrides({"api.tls": tls, **({"api.auth": auth} if auth is not None else {}),
                                  **({"api.cors": cors} if cors is not None else {})})
        async with Gateway(cfg) as gw:
            yield gw

    return start


class Idp:
    """An identity provider's signing key and JWKS, minting tokens like Keycloak does."""

    def __init__(self, kid: str = KID) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.kid = kid

    def jwks(self) -> dict[str, Any]:
        jwk = RSAAlgorithm.to_jwk(self.key.public_key(), as_dict=True)
        return {"keys": [{**jwk, "kid": self.kid, "alg": "RS256", "use": "sig"}]}

    def token(self, roles: list[str] | None = None, *, lifetime_s: float = 300, **claims: Any) -> str:
        now = int(time.time())
        body: dict[str, Any] = {"iss": ISSUER, "aud": AUDIENCE, "sub": "u-123", "preferred_username": "kim",
                                "iat": now, "nbf": now, "exp": now + int(lifetime_s),
                                "realm_access": {"roles": roles or []}}
        body.update(claims)
        return jwt.encode(body, self.key, algorithm="RS256", headers={"kid": self.kid})


@pytest.fixture(scope="session")
def idp() -> Idp:
    return Idp()


def jwt_auth(jwks_file: Path | None = None, jwks_url: str | None = None, **extra: Any) -> ApiAuthConfig:
    return ApiAuthConfig(jwt=JwtConfig(issuer=ISSUER, audience=AUDIENCE, jwks_file=jwks_file, jwks_url=jwks_url,
                                       role_claim="realm_access.roles", subject_claim="preferred_username",
                                       role_map=ROLE_MAP, **extra))


def write_jwks(path: Path, idp: Idp) -> Path:
    path.write_text(json.dumps(idp.jwks()))
    return path
