"""Secure channel and user identity of one OPC UA session, decided before every connect.

Per attempt: ask the server for its endpoints (over an unsecured discovery
channel, which every server offers for GetEndpoints), pick the endpoint for the
configured policy and mode (or the best one, for `auto`), and check the
endpoint's certificate against the PKI trust list *before* sending anything
secret. An unknown certificate is stored under rejected/ and the attempt fails
with an error that says how to trust it; since the trust list is read from
disk each time, the source's normal reconnect picks up a `pki trust` without
a restart. Because a fresh decision is made per attempt, a server whose
certificate or offered policies changed is handled the same way.

Nothing here logs a password or key, and asyncua's own DEBUG dump of the
ActivateSession request (which carries the password) is filtered out.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from asyncua import Client, ua
from asyncua.crypto import security_policies as sp
from asyncua.crypto import uacrypto
from cryptography import x509

import connectors.opcua.codec  # noqa: F401  (Part 6 DataValue order before any asyncua use)
from connectors.opcua.config import SECURED_POLICIES, OpcUaSourceConfig, SecurityConfig
from connectors.opcua.pki import Pki, load_certificate_der, split_chain, thumbprint

log = logging.getLogger(__name__)

_POLICY_CLASSES: dict[str, type[sp.SecurityPolicy]] = {
    "Basic256Sha256": sp.SecurityPolicyBasic256Sha256,
    "Aes128_Sha256_RsaOaep": sp.SecurityPolicyAes128Sha256RsaOaep,
    "Aes256_Sha256_RsaPss": sp.SecurityPolicyAes256Sha256RsaPss,
}
_POLICY_BY_URI = {cls.URI: name for name, cls in _POLICY_CLASSES.items()}
# the order for `auto`: strongest first; the server's SecurityLevel only breaks ties
_POLICY_RANK = {"Aes256_Sha256_RsaPss": 3, "Basic256Sha256": 2, "Aes128_Sha256_RsaOaep": 1}
_MODES = {"Sign": ua.MessageSecurityMode.Sign, "SignAndEncrypt": ua.MessageSecurityMode.SignAndEncrypt}
_MODE_RANK = {ua.MessageSecurityMode.SignAndEncrypt: 2, ua.MessageSecurityMode.Sign: 1}
# status codes meaning "the server refused who we are", not "the network failed"
_IDENTITY_CAUSES = {
    "BadUserAccessDenied": "wrong user name or password, or the user is not allowed",
    "BadIdentityTokenRejected": "the server does not accept this kind of user identity",
    "BadIdentityTokenInvalid": "the server could not verify the user identity",
    "BadCertificateUntrusted": "the server does not trust the gateway's certificate (trust it on the server)",
    "BadSecurityChecksFailed": "the server refused the gateway's certificate or signature "
                               "(trust the gateway's certificate on the server)",
    "BadCertificateUriInvalid": "the certificate's application URI does not match",
}


class SecurityError(Exception):
    """A connect attempt refused for a security reason; the message is meant for the operator as is."""


class UntrustedServerError(SecurityError):
    """The server's certificate is not in the trust list (it has been stored under rejected/)."""

    def __init__(self, message: str, thumbprint: str) -> None:
        super().__init__(message)
        self.thumbprint = thumbprint


@dataclass(frozen=True, slots=True)
class Choice:
    """The endpoint picked for one connect attempt."""

    policy: str
    mode: ua.MessageSecurityMode
    level: int
    server_certificate: bytes
    chain: tuple[bytes, ...] = ()  # certificates the server sent after its own (intermediate CAs)

    def describe(self) -> str:
        return f"{self.policy}/{self.mode.name}"


def endpoint_label(ep: ua.EndpointDescription) -> str:
    policy = ep.SecurityPolicyUri.rsplit("#", 1)[-1]
    mode = ep.SecurityMode.name.replace("None_", "None")
    return f"{policy}/{mode}"


def choose_endpoint(endpoints: list[ua.EndpointDescription], sec: SecurityConfig) -> Choice:
    """The best matching endpoint: SignAndEncrypt over Sign, then policy strength, then SecurityLevel."""
    policies = set(SECURED_POLICIES) if sec.policy == "auto" else {sec.policy}
    modes = set(_MODES.values()) if sec.mode == "auto" else {_MODES[sec.mode]}
    best: tuple[tuple[int, int, int], Choice] | None = None
    for ep in endpoints:
        name = _POLICY_BY_URI.get(ep.SecurityPolicyUri)
        if name is None or name not in policies or ep.SecurityMode not in modes or not ep.ServerCertificate:
            continue
        if ep.EndpointUrl and not ep.EndpointUrl.startswith("opc.tcp://"):
            continue
        key = (_MODE_RANK[ep.SecurityMode], _POLICY_RANK[name], int(ep.SecurityLevel or 0))
        if best is None or key > best[0]:
            certs = split_chain(ep.ServerCertificate)
            best = (key, Choice(name, ep.SecurityMode, int(ep.SecurityLevel or 0),
                                _first_certificate(certs[0]), tuple(certs[1:])))
    if best is None:
        offered = ", ".join(sorted({endpoint_label(ep) for ep in endpoints})) or "nothing"
        auto = sec.policy == "auto" and sec.mode == "auto"
        wanted = "a secured policy (auto)" if auto else f"{sec.policy}/{sec.mode}"
        raise SecurityError(f"the server offers no endpoint with {wanted}; it offers: {offered}")
    return best[1]


def _first_certificate(der: bytes) -> bytes:
    # some servers send their certificate followed by its chain: the session is with the first
    return uacrypto.der_from_x509(uacrypto.x509_from_der(der))


async def get_endpoints(endpoint: str, timeout_s: float) -> list[ua.EndpointDescription]:
    """GetEndpoints over a throw-away unsecured channel (what every OPC UA server answers)."""
    probe = Client(endpoint, timeout=timeout_s)
    return await asyncio.wait_for(probe.connect_and_get_server_endpoints(), timeout_s)


def check_trust(pki: Pki | None, sec: SecurityConfig, endpoint: str, choice: Choice, source: str) -> None:
    """Raise UntrustedServerError unless the server certificate is trusted (pinned, in the list, or TOFU).

    Reads (and may write) the PKI folder: call it off the event loop.
    """
    der = choice.server_certificate
    tp = thumbprint(der)
    cert = x509.load_der_x509_certificate(der)
    subject = cert.subject.rfc4514_string()
    if sec.server_certificate:
        pinned = load_certificate_der(Path(sec.server_certificate).read_bytes())
        if pinned == der:
            return
        raise UntrustedServerError(
            f"{endpoint}: server certificate {tp} ({subject}) is not the one pinned in "
            f"security.server_certificate ({sec.server_certificate}, {thumbprint(pinned)})", tp)
    if pki is None:
        raise SecurityError(f"{endpoint}: a secured connection needs the gateway's PKI (trust list) or a pinned "
                            "security.server_certificate")
    in_dates = cert.not_valid_before_utc <= datetime.now(UTC) <= cert.not_valid_after_utc
    dates = f"valid {cert.not_valid_before_utc:%Y-%m-%d} to {cert.not_valid_after_utc:%Y-%m-%d}"
    if pki.is_trusted(der):
        if not in_dates:
            # pinned by thumbprint: the operator trusted this very certificate, so its dates do not stop
            # data collection (a PLC's certificate expiring must not silently stop a line), but say it
            log.warning("%s: the trusted certificate of %s is outside its validity (%s): %s (%s); "
                        "renew it on the machine and trust the new one", source, endpoint, dates, tp, subject)
        return
    issuer = pki.trusted_issuer(der, choice.chain)
    if issuer is not None:
        log.info("%s: certificate of %s (%s, %s) trusted through CA %s (%s)", source, endpoint, tp, subject,
                 issuer.thumbprint, issuer.subject)
        return
    seen = any(info.thumbprint == tp for info in pki.list())
    if sec.trust_on_first_use and not seen:
        info = pki.add_trusted(der)
        log.warning("%s: trusting the certificate of %s on first use (trust_on_first_use): %s (%s), stored as %s; "
                    "turn trust_on_first_use off after commissioning", source, endpoint, tp, subject, info.file)
        return
    info = pki.reject(der)
    hint = " (trust_on_first_use does not apply: this certificate was seen before)" if sec.trust_on_first_use else ""
    expired = "" if in_dates else f" It is outside its validity ({dates}), so no CA can vouch for it."
    raise UntrustedServerError(
        f"{endpoint}: server certificate is not trusted: {tp} ({subject}); stored as {info.file}.{expired} "
        f"Trust it with: {pki.trust_command(tp)}{hint}", tp)


async def secure_client(client: Client, cfg: OpcUaSourceConfig, pki: Pki | None, source: str) -> Choice | None:
    """Set up `client` (not yet connected) for the configured security; returns the endpoint chosen.

    Raises SecurityError (or UntrustedServerError) for anything the operator must fix, OSError /
    TimeoutError / ua.UaError when the server cannot be reached (the caller's backoff retries both).
    """
    sec = cfg.security
    if not sec.secured:
        return None
    endpoints = await get_endpoints(cfg.endpoint, cfg.request_timeout_s)
    try:
        choice = choose_endpoint(endpoints, sec)
    except SecurityError as e:
        raise SecurityError(f"{cfg.endpoint}: {e}") from None
    # the trust list lives on disk (read every time, so a CLI trust applies): not on the event loop
    await asyncio.to_thread(check_trust, pki, sec, cfg.endpoint, choice, source)
    if sec.certificate and sec.private_key:
        cert_file, key_file = Path(sec.certificate), Path(sec.private_key)
        uri = _certificate_uri(cert_file)
    elif pki is None:
        raise SecurityError(f"{cfg.endpoint}: no client certificate: configure security.certificate and "
                            "private_key, or give the source the gateway's PKI")
    else:
        # key generation (first run, renewal) takes a noticeable fraction of a second: not on the event loop
        cert_file, key_file = await asyncio.to_thread(pki.ensure_own_certificate)
        uri = pki.application_uri
    if uri:
        # asyncua checks (and servers demand) that the session's application URI is the certificate's
        client.application_uri = uri
    await client.set_security(_POLICY_CLASSES[choice.policy], str(cert_file), str(key_file),
                              server_certificate=choice.server_certificate, mode=choice.mode)
    if sec.policy == "auto" or sec.mode == "auto":
        log.info("%s: security auto chose %s (SecurityLevel %d) at %s", source, choice.describe(), choice.level,
                 cfg.endpoint)
    return choice


async def set_identity(client: Client, cfg: OpcUaSourceConfig) -> None:
    user = cfg.user
    if user is None or user.type == "anonymous":
        return
    if user.type == "username":
        assert user.username is not None and user.password is not None
        client.set_user(user.username)
        client.set_password(user.password.get_secret_value())
        return
    assert user.certificate is not None and user.private_key is not None
    await client.load_client_certificate(user.certificate)
    await client.load_private_key(Path(user.private_key))


def _certificate_uri(path: Path) -> str | None:
    try:
        cert = x509.load_der_x509_certificate(load_certificate_der(path.read_bytes()))
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (OSError, ValueError, x509.ExtensionNotFound):
        return None
    uris = san.get_values_for_type(x509.UniformResourceIdentifier)
    return uris[0] if uris else None


def explain_refusal(exc: ua.UaStatusCodeError, cfg: OpcUaSourceConfig) -> SecurityError | None:
    """A SecurityError naming endpoint, status and likely cause, if `exc` is an identity/certificate refusal."""
    name = ua.StatusCode(exc.code).name if hasattr(exc, "code") else type(exc).__name__
    cause = _IDENTITY_CAUSES.get(name)
    if cause is None:
        return None
    who = ""
    if cfg.user is not None and cfg.user.type == "username":
        who = f" for user {cfg.user.username!r}"
    elif cfg.user is not None and cfg.user.type == "certificate":
        who = f" for user certificate {cfg.user.certificate}"
    return SecurityError(f"{cfg.endpoint} refused the session{who}: {name} ({cause})")


class _NoActivateSessionDump(logging.Filter):
    """asyncua logs every request at DEBUG, ActivateSession included, and that one carries the password."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args if isinstance(record.args, tuple) else ()
        return not any(isinstance(a, ua.ActivateSessionRequest) for a in args)


logging.getLogger("asyncua.client.ua_client.UaClient").addFilter(_NoActivateSessionDump())
logging.getLogger("asyncua.client.ua_client.UASocketProtocol").addFilter(_NoActivateSessionDump())
