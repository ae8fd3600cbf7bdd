"""`aas-gateway pki list|trust|untrust|remove|renew`: the OPC UA trust list and the gateway's own certificate.

Works on the PKI folder directly (the config's `pki.path`, or `--pki-dir`), so it needs no running
gateway: a running one reads the trust list at its next connect attempt, so `pki trust` lets a
refused server in without a restart.

Every change (trust, untrust, remove, renew), successful or not, is recorded in the audit log
(`gateway.audit.AuditLog`) with actor `cli:<os user>` and source `cli`: the config's `audit.path`,
`--audit-file`, or with `--pki-dir` the audit log of that folder's data directory
(`audit/audit.jsonl` beside the `pki` folder, where the gateway keeps it by default; see
`gateway.cli.paths`). The command says on stderr which file it audited to.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

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

if TYPE_CHECKING:
    from connectors.opcua.pki import CertificateInfo, Pki
    from gateway.audit import AuditLog


def _open(args: argparse.Namespace) -> tuple[Pki, AuditLog | None] | None:
    """The PKI and the audit log (None for `list`) the arguments name; None after printing a config error."""
    from connectors.opcua.pki import Pki, PkiConfig
    from gateway.audit import AuditConfig, AuditLog

    found = paths.resolve(args.config, pki_dir=args.pki_dir, audit_file=args.audit_file)
    if found is None:
        return None
    # with a config: its PKI settings (key size, validity, application URI), at the resolved folder
    pki_cfg = (found.config.pki if found.config is not None else PkiConfig()).model_copy(update={"path": found.pki})
    audit = None if args.action == "list" else AuditLog(
        (found.config.audit if found.config is not None else AuditConfig()).model_copy(update={"path": found.audit}))
    return Pki(pki_cfg), audit


def _row(i: CertificateInfo) -> str:
    return (f"{i.state:<9} {i.thumbprint}  {i.not_after:%Y-%m-%d}  {_clip(i.subject, 48):<48}  "
            f"{i.application_uri or '-'}")


def _clip(s: str, n: int) -> str:
    return s if len(s) <= n else s[: n - 1] + "…"


def cmd_pki(args: argparse.Namespace) -> int:
    from connectors.opcua.pki import AmbiguousThumbprintError, UnknownCertificateError

    opened = _open(args)
    if opened is None:
        return EXIT_USAGE
    pki, audit = opened
    if args.action == "list":
        certs = pki.list()
        if not certs:
            print(f"no certificates in {pki.path} (the own certificate is made at the first secured connect "
                  "or by 'pki renew')")
            return 0
        print(f"{'state':<9} {'thumbprint (SHA-1)':<40}  {'expires':<10}  {'subject':<48}  application URI")
        for i in certs:
            print(_row(i))
        return EXIT_OK
    assert audit is not None
    target = getattr(args, "thumbprint", None) or "own"
    try:
        before = _state_of(pki, args.action, target)
        if args.action == "trust":
            info = pki.trust(target)
        elif args.action == "untrust":
            info = pki.untrust(target)
        elif args.action == "remove":
            info = pki.remove(target)
        else:
            info = pki.renew()
    except (UnknownCertificateError, AmbiguousThumbprintError) as e:
        _audit(audit, args.action, target, f"failed: {e}")
        return fail(f"error: {e} (in {pki.path}; see: aas-gateway pki list)", EXIT_USAGE)
    except OSError as e:
        _audit(audit, args.action, target, f"failed: {e}")
        return fail(f"error: {e}", EXIT_FAILURE)
    after = "removed" if args.action == "remove" else info.state
    _audit(audit, args.action, info.thumbprint, "ok", before, after, info.subject)
    verb = {"trust": "trusted", "untrust": "moved to rejected", "remove": "removed", "renew": "renewed"}[args.action]
    print(f"{verb}: {_row(info) if args.action != 'remove' else info.thumbprint + '  ' + info.subject}")
    if args.action == "renew":
        print("servers that trust the gateway by certificate must be given the new one: "
              f"{pki.cert_file}", file=sys.stderr)
    print(f"audited in {audit.path}", file=sys.stderr)
    return EXIT_OK


def _state_of(pki: Pki, action: str, target: str) -> str | None:
    if action == "renew":
        return next((i.thumbprint for i in pki.list() if i.state == "own"), None)
    want = target.replace(":", "").replace(" ", "").upper()
    return next((i.state for i in pki.list() if i.state != "own" and i.thumbprint.startswith(want)), None)


def _audit(audit: AuditLog, action: str, target: str, result: str, old: Any = None, new: Any = None,
           detail: str | None = None) -> None:
    from gateway.audit import cli_actor

    audit.record(actor=cli_actor(), source="cli", action=f"pki.{action}", target=target, result=result,
                 old=old, new=new, detail=detail)


def register(sub: Subparsers) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "pki", help="OPC UA certificates: list, trust or untrust servers, renew the gateway's own certificate",
        description="Trust list of OPC UA server certificates and the gateway's own certificate. A server "
                    "refused as untrusted is listed as 'rejected'; 'trust THUMBPRINT' (any unique prefix) lets "
                    "it in at the gateway's next connect attempt, no restart needed.")
    where = p.add_mutually_exclusive_group(required=True)
    add_config_option(where, "gateway config (its pki.path and audit.path)")
    where.add_argument("--pki-dir", metavar="DIR", help="the PKI folder itself (own/, trusted/, rejected/)")
    add_audit_file_option(p, "audit log file (default: the config's audit.path, or audit/audit.jsonl beside "
                          "--pki-dir)")
    acts = p.add_subparsers(dest="action", required=True)
    acts.add_parser("list", help="own, trusted and rejected certificates")
    for name, text in (("trust", "move a rejected server certificate to trusted"),
                       ("untrust", "move a trusted server certificate to rejected"),
                       ("remove", "delete a trusted or rejected certificate")):
        a = acts.add_parser(name, help=text)
        a.add_argument("thumbprint", help="SHA-1 thumbprint as 'pki list' shows it, or a unique prefix")
    acts.add_parser("renew", help="new key and certificate for the gateway (servers must trust the new one)")
    p.set_defaults(func=cmd_pki)
