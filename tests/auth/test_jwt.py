"""OIDC bearer tokens against a running gateway: the JWKS from a file and from a URL (a real HTTP
server, fetched once and cached); every way a token can be wrong is a 401; roles come from the
configured claim through role_map."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization

from gateway.api.ids import encode_id
from tests.api.conftest import assert_result
from tests.auth.conftest import AUDIENCE, ISSUER, GatewayFactory, Idp, bearer, jwt_auth, write_jwks

SM = encode_id("urn:aas-gateway:demo:aas:CNC01:submodels:OperationalData")


def _b64(d: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(d).encode()).decode().rstrip("=")


def bad_tokens(idp: Idp) -> dict[str, str]:
    other = Idp(kid=idp.kid)  # same kid, different key: a forged signature
    now = int(time.time())
    claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": "x", "exp": now + 300, "realm_access": {"roles": ["plant-admin"]}}
    good = idp.token(["plant-admin"])
    head, body, sig = good.split(".")
    public_pem = idp.key.public_key().public_bytes(serialization.Encoding.PEM,
                                                   serialization.PublicFormat.SubjectPublicKeyInfo)
    return {
        "expired": idp.token(["plant-admin"], lifetime_s=-120),  # beyond the 30 s leeway
        "not yet valid": idp.token(["plant-admin"], nbf=now + 600),
        "wrong audience": idp.token(["plant-admin"], aud="someone-else"),
        "wrong issuer": idp.token(["plant-admin"], iss="https://evil.test"),
        "no exp": jwt.encode({k: v for k, v in claims.items() if k != "exp"}, idp.key, algorithm="RS256",
                             headers={"kid": idp.kid}),
        "signed by another key": other.token(["plant-admin"]),
        "alg none": f"{_b64({'alg': 'none', 'typ': 'JWT', 'kid': idp.kid})}.{body}.",
        "HS256 with the public key as secret": _hs256(f"{_b64({'alg': 'HS256', 'kid': idp.kid})}.{body}",
                                                      public_pem),
        "tampered claims": f"{head}.{_b64({**claims, 'sub': 'mallory'})}.{sig}",
        "unknown kid": Idp(kid="other-kid").token(["plant-admin"]),
        "garbage": "abc.def.ghi",
    }


def _hs256(signing_input: str, secret: bytes) -> str:
    sig = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{base64.urlsafe_b64encode(sig).decode().rstrip('=')}"


@pytest.mark.slow
async def test_bad_tokens_are_401_good_ones_get_their_role(gateway: GatewayFactory, idp: Idp,
                                                           tmp_path: Path) -> None:
    auth = jwt_auth(jwks_file=write_jwks(tmp_path / "jwks.json", idp))
    async with gateway(auth=auth) as gw, httpx.AsyncClient(timeout=10) as http:
        assert gw.api is not None and gw.api_url is not None
        shells = f"{gw.api_url}/shells"
        for why, token in bad_tokens(idp).items():
            r = await http.get(shells, headers=bearer(token))
            msg = assert_result(r, 401)
            assert r.headers["www-authenticate"] == 'Bearer error="invalid_token"', why
            assert token not in str(msg["text"]), "the answer never echoes the token"

        value = f"{gw.api_url}/submodels/{SM}/submodel-elements/Feed.Override/$value"
        viewer = bearer(idp.token(["plant-viewer", "offline_access"]))
        assert (await http.get(shells, headers=viewer)).status_code == 200
        assert_result(await http.patch(value, json=50.0, headers=viewer), 403)

        operator = bearer(idp.token(["plant-operator"]))
        r = await http.patch(value, json=50.0, headers=operator)
        assert r.status_code not in (401, 403), r.text  # past authorisation, to the (unreachable) machine
        assert_result(await http.get(f"{gw.api.base_url}/admin/api-keys", headers=operator), 403)

        admin = bearer(idp.token(["plant-admin"]))
        assert (await http.get(f"{gw.api.base_url}/admin/api-keys", headers=admin)).status_code == 200

        # an IdP role the map does not name grants nothing: authenticated, but forbidden
        assert_result(await http.get(shells, headers=bearer(idp.token(["reader"]))), 403)


@pytest.fixture
def jwks_server(idp: Idp) -> Iterator[tuple[str, list[str]]]:
    """A real HTTP server publishing the JWKS; yields its URL and the list of paths it was asked for."""
    hits: list[str] = []
    body = json.dumps(idp.jwks()).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            hits.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/realms/plant/certs", hits
    server.shutdown()
    server.server_close()


@pytest.mark.slow
async def test_jwks_from_a_url_is_fetched_once_and_cached(gateway: GatewayFactory, idp: Idp,
                                                          jwks_server: tuple[str, list[str]]) -> None:
    url, hits = jwks_server
    async with gateway(auth=jwt_auth(jwks_url=url)) as gw, httpx.AsyncClient(timeout=10) as http:
        assert gw.api_url is not None
        for i in range(5):  # different tokens: each is verified, the keys are not fetched again
            r = await http.get(f"{gw.api_url}/shells", headers=bearer(idp.token(["plant-viewer"], jti=str(i))))
            assert r.status_code == 200, r.text
        assert hits == ["/realms/plant/certs"]
        forged = Idp(kid=idp.kid).token(["plant-admin"])
        assert_result(await http.get(f"{gw.api_url}/shells", headers=bearer(forged)), 401)
        # a flood of unknown kids does not turn into a flood of JWKS requests
        for i in range(5):
            stranger = Idp(kid=f"k{i}").token(["plant-viewer"])
            assert_result(await http.get(f"{gw.api_url}/shells", headers=bearer(stranger)), 401)
        assert len(hits) <= 2


async def test_unreachable_jwks_is_401_not_500(gateway: GatewayFactory, idp: Idp) -> None:
    from tests.auth.conftest import free_port

    auth = jwt_auth(jwks_url=f"http://127.0.0.1:{free_port()}/certs")
    async with gateway(auth=auth) as gw, httpx.AsyncClient(timeout=30) as http:
        assert gw.api_url is not None
        r = await http.get(f"{gw.api_url}/shells", headers=bearer(idp.token(["plant-viewer"])))
        msg = assert_result(r, 401)
        assert "unavailable" in str(msg["text"])
