"""A real Mosquitto for tests: own config, free loopback port, stopped at teardown.

Kept free of MQTT-connector imports so it can move to a shared conftest when other test
packages (end-to-end, deploy) need a broker too.
"""

from __future__ import annotations

import hashlib
import os
import pwd
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

MOSQUITTO = "/usr/sbin/mosquitto"
MOSQUITTO_PASSWD = "/usr/bin/mosquitto_passwd"


@dataclass(frozen=True)
class TlsFiles:
    """PEM files for a TLS listener (copied into the broker's directory)."""

    ca_file: Path
    certfile: Path
    keyfile: Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def broker_dir(tmp_path: Path) -> Path:
    """Where the broker's files live. Started as root, mosquitto runs as user `mosquitto`, which
    cannot enter pytest's private tmp dirs: then it gets its own directory, owned by it and
    derived from `tmp_path` so that a restart finds its persistence file again."""
    if os.geteuid() != 0:
        d = tmp_path / "mosquitto"
        d.mkdir(exist_ok=True)
        return d
    digest = hashlib.sha1(str(tmp_path).encode()).hexdigest()[:12]
    d = Path(f"/tmp/mosquitto-test-{digest}")
    d.mkdir(mode=0o700, exist_ok=True)
    user = pwd.getpwnam("mosquitto")
    os.chown(d, user.pw_uid, user.pw_gid)
    return d


def _give_to_broker(path: Path) -> None:
    if os.geteuid() == 0:
        user = pwd.getpwnam("mosquitto")
        os.chown(path, user.pw_uid, user.pw_gid)


def start_mosquitto(tmp_path: Path, *, password: tuple[str, str] | None = None, port: int | None = None,
                    tls: TlsFiles | None = None, persistence: bool = True,
                    timeout: float = 10.0) -> tuple[int, subprocess.Popen[bytes]]:
    """Start mosquitto on 127.0.0.1 (a free port unless `port` is given, e.g. for a restart).

    `password=(user, secret)` turns anonymous access off and creates a password file;
    `tls` makes the listener TLS-only. Returns (port, process); stop it with `stop_mosquitto`.
    """
    d = broker_dir(tmp_path)
    port = port or free_port()
    lines = [f"listener {port} 127.0.0.1"]
    if password is not None:
        pwfile = d / "passwd"
        subprocess.run([MOSQUITTO_PASSWD, "-b", "-c", str(pwfile), *password], check=True, capture_output=True)
        _give_to_broker(pwfile)
        lines += ["allow_anonymous false", f"password_file {pwfile}"]
    else:
        lines.append("allow_anonymous true")
    if tls is not None:
        names = {}
        for key, src in (("cafile", tls.ca_file), ("certfile", tls.certfile), ("keyfile", tls.keyfile)):
            dst = d / f"tls-{key}.pem"
            shutil.copyfile(src, dst)
            _give_to_broker(dst)
            names[key] = dst
        lines += [f"{k} {v}" for k, v in names.items()]
    if persistence:
        lines += ["persistence true", f"persistence_location {d}/"]
    # tests check that nothing is lost, so the broker must not drop QoS 1 messages for a slow subscriber
    lines += ["max_queued_messages 0"]
    lines += ["log_dest stderr", "log_type error", "log_type warning", "log_type notice", "log_type information"]
    conf = tmp_path / f"mosquitto-{port}.conf"
    conf.write_text("\n".join(lines) + "\n")
    log = open(tmp_path / f"mosquitto-{port}.log", "ab")  # the child keeps its own copy of the fd
    proc = subprocess.Popen([MOSQUITTO, "-c", str(conf)], stdout=log, stderr=log)
    log.close()
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            text = (tmp_path / f"mosquitto-{port}.log").read_text(errors="replace")
            raise RuntimeError(f"mosquitto exited with {proc.returncode}:\n{text}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return port, proc
        except OSError:
            if time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError(f"mosquitto did not listen on port {port} within {timeout} s") from None
            time.sleep(0.02)


def stop_mosquitto(proc: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    """SIGTERM (mosquitto saves its persistence file), SIGKILL if it hangs."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@dataclass
class Broker:
    """A started mosquitto that a test can stop and start again on the same port."""

    tmp_path: Path
    port: int
    proc: subprocess.Popen[bytes]
    password: tuple[str, str] | None = None
    tls: TlsFiles | None = None
    history: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def stop(self) -> None:
        stop_mosquitto(self.proc)

    def start(self) -> None:
        """Start again on the same port with the same config and persistence directory."""
        self.history.append(self.proc)
        _, self.proc = start_mosquitto(self.tmp_path, port=self.port, password=self.password, tls=self.tls)

    @property
    def running(self) -> bool:
        return self.proc.poll() is None
