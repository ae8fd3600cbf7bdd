"""One place that turns a `BrokerConfig` into a configured paho client.

Publisher and source must agree on TLS, credentials, protocol and reconnect behaviour, and the
password must never reach a log line; both are easier to guarantee with a single constructor.
"""

from __future__ import annotations

import logging
import random
import ssl
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.reasoncodes import ReasonCode

from connectors.mqtt.config import BrokerConfig

log = logging.getLogger(__name__)


class GatewayClient(mqtt.Client):
    """paho's client, remembering why the last connection attempt failed.

    paho's network thread swallows the OSError of a failed connect (refused, TLS verification,
    DNS) and only calls on_connect_fail; an operator needs the reason, so keep it.
    """

    last_connect_error: BaseException | None = None

    def reconnect(self) -> mqtt.MQTTErrorCode:
        try:
            rc = super().reconnect()
        except OSError as e:
            self.last_connect_error = e
            raise
        self.last_connect_error = None
        return rc

    def connect_error(self) -> str:
        e = self.last_connect_error
        if e is None:
            return "connection failed"
        text = str(e)
        return f"{type(e).__name__}: {text}" if text else type(e).__name__


def make_client(cfg: BrokerConfig, client_id: str, owner: str) -> GatewayClient:
    """A paho client with credentials, TLS and reconnect delays set; not connected yet."""
    v5 = cfg.protocol == "5"
    kwargs: dict[str, Any] = {"client_id": client_id, "protocol": mqtt.MQTTv5 if v5 else mqtt.MQTTv311}
    if not v5:
        kwargs["clean_session"] = cfg.clean_start
    client = GatewayClient(mqtt.CallbackAPIVersion.VERSION2, **kwargs)
    if cfg.username is not None:
        client.username_pw_set(cfg.username, cfg.password.get_secret_value() if cfg.password is not None else None)
    if cfg.tls is not None:
        t = cfg.tls
        client.tls_set(ca_certs=t.ca_file, certfile=t.certfile, keyfile=t.keyfile,
                       cert_reqs=ssl.CERT_REQUIRED if t.verify else ssl.CERT_NONE)
        if not t.verify:
            client.tls_insecure_set(True)
            log.warning("%s: TLS to %s without certificate verification (tls.verify is false in the "
                        "configuration): the broker is not authenticated", owner, cfg.url)
    elif cfg.password is not None:
        log.warning("%s: password sent to %s without TLS", owner, cfg.url)
    client.connect_timeout = cfg.connect_timeout_s
    rc = cfg.reconnect
    # paho's backoff doubles from min_delay but has no jitter; scaling the whole sequence by a random
    # factor per client is enough to keep a fleet of gateways from reconnecting in lock-step
    scale = 1.0 + random.uniform(-rc.jitter, rc.jitter)
    client.reconnect_delay_set(min_delay=rc.initial_delay_s * scale, max_delay=rc.max_delay_s)  # type: ignore[arg-type]
    return client


def connect_async(client: mqtt.Client, cfg: BrokerConfig) -> None:
    """Start connecting from the network thread (which retries); never raises for an unreachable broker."""
    if cfg.protocol == "5":
        client.connect_async(cfg.host, cfg.effective_port, cfg.keepalive_s, clean_start=cfg.clean_start)
    else:
        client.connect_async(cfg.host, cfg.effective_port, cfg.keepalive_s)


def describe_reason(reason: ReasonCode | int | Any) -> str:
    """'Not authorized (reason code 135)' for logs, health and exceptions."""
    if isinstance(reason, ReasonCode):
        return f"{reason.getName()} (reason code {reason.value})"
    return f"{mqtt.error_string(reason)} (rc {reason})" if isinstance(reason, int) else str(reason)


def reason_failed(reason: ReasonCode | int) -> bool:
    if isinstance(reason, ReasonCode):
        return reason.is_failure
    return reason != 0
