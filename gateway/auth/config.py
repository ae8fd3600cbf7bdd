"""Settings of REST authentication, TLS, CORS and request limits (the `api:` section of the gateway config).

Relative file paths are relative to the config file (like the historian's): they are `ConfigPath`s,
resolved when the config is loaded (gateway/config/paths.py).
"""

from __future__ import annotations

from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, model_validator

from connectors.config_base import ConfigPath, StrictModel
from gateway.auth.principal import Role

# asymmetric only: an HMAC secret shared with an IdP could mint tokens; "none" is no signature at all
JwtAlgorithm = Literal["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"]


_LOOPBACK = {"localhost", "127.0.0.1", "::1"}


class JwtConfig(StrictModel):
    """OAuth2/OIDC bearer tokens (e.g. from Keycloak, Entra ID) checked against the IdP's JWKS."""

    issuer: str = Field(description="the `iss` every token must carry, e.g. https://idp.example/realms/plant")
    audience: str | list[str] = Field(description="accepted `aud` value(s), e.g. aas-gateway")
    jwks_file: ConfigPath | None = Field(None, description="JWKS JSON file (offline setups)")
    jwks_url: str | None = Field(None, description="JWKS URL, e.g. https://idp.example/realms/plant/protocol/"
                                 "openid-connect/certs")
    jwks_cache_s: float = Field(300.0, gt=0, description="how long fetched keys are used before fetching again")
    algorithms: list[JwtAlgorithm] = Field(["RS256", "PS256", "ES256"], min_length=1)
    leeway_s: float = Field(30.0, ge=0, le=300, description="clock skew allowed on exp/nbf/iat")
    subject_claim: str = Field("sub", description="claim naming the user in the audit log, e.g. preferred_username")
    role_claim: str = Field("roles", description="dotted path of the role list, e.g. realm_access.roles")
    role_map: dict[str, Role] = Field(
        {}, description="IdP role -> gateway role; empty: the IdP roles must be named reader/operator/admin")

    @model_validator(mode="after")
    def _one_source(self) -> JwtConfig:
        if (self.jwks_file is None) == (self.jwks_url is None):
            raise ValueError("give exactly one of jwks_file or jwks_url")
        if self.jwks_url is not None:
            url = urlsplit(self.jwks_url)
            # whoever can change the keys in transit can mint tokens: plain HTTP only on this host
            if not (url.scheme == "https" or (url.scheme == "http" and url.hostname in _LOOPBACK)):
                raise ValueError("jwks_url must be https:// (plain http only for localhost)")
        return self


class ApiAuthConfig(StrictModel):
    anonymous_read: bool = Field(
        False, description="let requests without credentials GET/HEAD (never write or administer)")
    api_keys_file: ConfigPath | None = Field(
        None, description="salted hashes of the API keys (default: api-keys.json beside the historian)")
    jwt: JwtConfig | None = None


class ApiTlsConfig(StrictModel):
    certificate: ConfigPath = Field(description="PEM certificate (chain) the API serves")
    private_key: ConfigPath = Field(description="PEM private key of that certificate (keep it mode 0600)")


class CorsConfig(StrictModel):
    """Browser origins allowed to call the API (e.g. a dashboard on another host); empty: no CORS at all."""

    allow_origins: list[str] = []
    allow_methods: list[str] = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]
    allow_headers: list[str] = ["Authorization", "X-API-Key", "Content-Type"]
    max_age_s: int = Field(600, ge=0)


class ApiLimitsConfig(StrictModel):
    """What one client may cost the gateway: the API shares the event loop with the OPC UA collection.

    The defaults fit what the API takes (ValueOnly values and admin requests of a few hundred bytes)
    and keep the parse of the largest accepted body within a few ms of loop time.
    """

    max_body_bytes: int = Field(
        65_536, ge=1024, le=64 * 1024 * 1024,
        description="largest request body; a larger one gets 413 before more than this is read")
    max_head_bytes: int = Field(
        16_384, ge=1024, le=1024 * 1024,
        description="largest request line plus headers; a larger head gets 431")
    head_timeout_s: float = Field(
        10.0, gt=0, le=3600,
        description="time a client has to send a request line and headers, on a new connection or a kept-alive one")
    body_timeout_s: float = Field(
        30.0, gt=0, le=3600, description="time a client has to send the whole body once its headers are in (408)")
    keepalive_timeout_s: int = Field(
        5, ge=1, le=3600, description="an idle kept-alive connection is closed after this (whole seconds: uvicorn's)")
    max_connections: int = Field(
        100, ge=1, le=100_000, description="open connections; a request on one beyond them gets 503")


_LOOPBACK = {"localhost", "127.0.0.1", "::1"}


def secure_url(url: str | None) -> bool:
    """https://, or plain http:// on this host only (OIDC codes and tokens travel to these URLs)."""
    if url is None:
        return True
    u = urlsplit(url)
    return u.scheme == "https" or (u.scheme == "http" and u.hostname in _LOOPBACK)


class OidcConfig(StrictModel):
    """Dashboard sign-in through the IdP that issues the API's bearer tokens (`api.auth.jwt`)."""

    client_id: str = Field(min_length=1, description="the gateway's client id at the IdP")
    client_secret: str | None = Field(None, description="for a confidential client (PKCE is used either way); "
                                      "write it as ${ENV} or ${file:...}")
    discovery_url: str | None = Field(None, description="default: {api.auth.jwt.issuer}/.well-known/"
                                      "openid-configuration")
    authorization_endpoint: str | None = Field(None, description="instead of discovery (with token_endpoint)")
    token_endpoint: str | None = None
    scopes: list[str] = Field(["openid", "profile"], min_length=1)
    redirect_uri: str | None = Field(None, description="registered at the IdP; default: this gateway's "
                                     "/ui/auth/oidc/callback as the browser reached it")
    label: str = Field("Single sign-on", description="text of the sign-in button")
    timeout_s: float = Field(10.0, gt=0, le=120)

    @model_validator(mode="after")
    def _endpoints(self) -> OidcConfig:
        if (self.authorization_endpoint is None) != (self.token_endpoint is None):
            raise ValueError("give both authorization_endpoint and token_endpoint, or neither (discovery)")
        for name in ("discovery_url", "authorization_endpoint", "token_endpoint"):
            # the code and the tokens travel to these: plain HTTP only on this host
            if not secure_url(getattr(self, name)):
                raise ValueError(f"{name} must be https:// (plain http only for localhost)")
        return self
