"""`aas-gateway apikey create|list|revoke`: manage the REST API keys of a gateway.

Works on the key file directly (the one the config names, or `--keys-file`), so it needs no running
gateway; a running gateway notices the change on its next request. The key is printed once, on
create, and stored nowhere in plain text. Creating and revoking are admin actions and go to the
audit log: the config's, `--audit-file`, or with `--keys-file` the data directory's
(`audit/audit.jsonl` beside the key file, where the gateway keeps it unless configured otherwise;
see `gateway.cli.paths`).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from gateway.auth.principal import ROLES
from gateway.cli import paths
from gateway.cli.common import (
    EXIT_FAILURE,
    EXIT_OK,
    EXIT_USAGE,
    Subparsers,
    add_audit_file_option,
    add_config_option,
    fail,
)


def _audit(audit_file: Path, action: str, target: str, result: str, **values: Any) -> None:
    """The same records the admin API writes for the same actions, with the OS user as the actor."""
    from gateway.audit import AuditConfig, AuditLog, cli_actor

    log = AuditLog(AuditConfig(path=audit_file))
    try:
        log.record(actor=cli_actor(), source="cli", action=f"apikey.{action}", target=target, result=result,
                   **values)
    finally:
        log.close()


def cmd_apikey(args: argparse.Namespace) -> int:
    from gateway.auth.apikeys import ApiKeyStore, UnknownKeyError

    found = paths.resolve(args.config, keys_file=args.keys_file, audit_file=args.audit_file)
    if found is None:
        return EXIT_USAGE
    path, audit_file = found.keys_file, found.audit
    store = ApiKeyStore(path)
    if args.action == "create":
        try:
            key, info = store.create(args.name, args.role, args.expires_days)
        except ValueError as e:
            return fail(f"error: {e}", EXIT_USAGE)
        _audit(audit_file, "create", info.id, "ok", new={"name": info.name, "role": info.role, "expires": info.expires})
        print(f"created API key {info.id} ({info.name}, role {info.role}"
              + (f", expires {info.expires}" if info.expires else ", no expiry") + f") in {path}")
        print("the key (shown only now, store it safely):")
        print(f"  {key}")
        print("send it as 'Authorization: Bearer <key>' or 'X-API-Key: <key>', e.g. with KEY set to it:")
        print('  curl -H "Authorization: Bearer $KEY" http://127.0.0.1:8080/api/v3.0/shells')
        return EXIT_OK
    if args.action == "list":
        keys = store.list()
        if not keys:
            print(f"no API keys in {path}")
        for i in keys:
            state = " EXPIRED" if i.expired() else ""
            print(f"{i.id}  {i.role:<8} {i.name:<24} created {i.created}  expires {i.expires or 'never'}{state}")
        return EXIT_OK
    try:
        info = store.revoke(args.id)
    except UnknownKeyError as e:
        _audit(audit_file, "revoke", args.id, "not_found")
        return fail(f"error: {e} in {path}", EXIT_FAILURE)
    _audit(audit_file, "revoke", info.id, "ok", old={"name": info.name, "role": info.role})
    print(f"revoked API key {info.id} ({info.name}, role {info.role})")
    return EXIT_OK


def register(sub: Subparsers) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "apikey", help="create, list or revoke REST API keys (stored as salted hashes)")
    where = p.add_mutually_exclusive_group(required=True)
    add_config_option(where, "gateway config (the key file is api.auth.api_keys_file, default api-keys.json "
                      "beside the historian)")
    where.add_argument("--keys-file", metavar="FILE", help="the key file itself")
    add_audit_file_option(p, "audit log file (default: the config's audit.path, or audit/audit.jsonl beside "
                          "--keys-file)")
    acts = p.add_subparsers(dest="action", required=True)
    c = acts.add_parser("create", help="create a key and print it once")
    c.add_argument("--role", required=True, choices=ROLES)
    c.add_argument("--name", required=True, help="who or what uses the key (shown in lists and the audit log)")
    c.add_argument("--expires-days", type=float, default=None, metavar="N")
    acts.add_parser("list", help="list keys (never their secrets)")
    r = acts.add_parser("revoke", help="revoke a key at once")
    r.add_argument("id", help="the key id (the part after agw_)")
    p.set_defaults(func=cmd_apikey)
