"""`aas-gateway pki list|trust|untrust|remove|renew`: the OPC UA trust list and the gateway's own certificate.

Works on the PKI folder directly (the config's `pki.path`, or `--pki-dir`), so it needs no running
gateway: a running one reads the trust list at its next connect attempt, so `pki trust` lets a
refused server in without a restart.

Every change (trust, untrust, remove, renew), successful or not, is recorded in the audit log
(`gateway.audit.AuditLog`, the config's `audit.path`, or `--audit-file`) with actor `cli:<os user>`
and source `cli`. With `--pki-dir` and no `--audit-file` there is no audit log to write to; the
command says so on stderr.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from connectors.opcua.pki import AmbiguousThumbprintError, CertificateInfo, Pki, PkiConfig, UnknownCertificateError
from gateway.audit import cli_actor

EXIT_USAGE = 2


def _open(args: argparse.Namespace) -> tuple[Pki, Any] | None:
    """The PKI and the audit log (or None) the arguments name; None after printing a config error."""
    from gateway.audit import AuditConfig, AuditLog

    audit_cfg: AuditConfig | None = AuditConfig(path=Path(args.audit_file)) if args.audit_file else None
    if args.pki_dir:
        pki = Pki(PkiConfig(path=Path(args.pki_dir)))
    else:
        from gateway.config import ConfigError, load_config

        try:
            cfg = load_config(args.config)
        except ConfigError as e:
            print(e.report(), file=sys.stderr)
            return None
        pki = Pki(cfg.pki)
        audit_cfg = audit_cfg or cfg.audit
    audit = AuditLog(audit_cfg) if audit_cfg is not None and args.action != "list" else None
    return pki, audit


def _row(i: CertificateInfo) -> str:
    return (f"{i.state:<9} {i.thumbprint}  {i.not_after:%Y-%m-%d}  {_clip(i.subject, 48):<48}  "
            f"{i.application_uri or '-'}")


def _clip(s: str, n: int) -> str:
    return s if len(s) <= n else s[: n - 1] + "…"


def cmd_pki(args: argparse.Namespace) -> int:
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
        return 0
    if audit is None:
        print("note: no audit log for --pki-dir without --audit-file: this change is not audited", file=sys.stderr)
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
        print(f"error: {e} (in {pki.path}; see: aas-gateway pki list)", file=sys.stderr)
        return EXIT_USAGE
    except OSError as e:
        _audit(audit, args.action, target, f"failed: {e}")
        print(f"error: {e}", file=sys.stderr)
        return 1
    after = "removed" if args.action == "remove" else info.state
    _audit(audit, args.action, info.thumbprint, "ok", before, after, info.subject)
    verb = {"trust": "trusted", "untrust": "moved to rejected", "remove": "removed", "renew": "renewed"}[args.action]
    print(f"{verb}: {_row(info) if args.action != 'remove' else info.thumbprint + '  ' + info.subject}")
    if args.action == "renew":
        print("servers that trust the gateway by certificate must be given the new one: "
              f"{pki.cert_file}", file=sys.stderr)
    return 0


def _state_of(pki: Pki, action: str, target: str) -> str | None:
    if action == "renew":
        return next((i.thumbprint for i in pki.list() if i.state == "own"), None)
    want = target.replace(":", "").replace(" ", "").upper()
    return next((i.state for i in pki.list() if i.state != "own" and i.thumbprint.startswith(want)), None)


def _audit(audit: Any, action: str, target: str, result: str, old: Any = None, new: Any = None,
           detail: str | None = None) -> None:
    if audit is not None:
        audit.record(actor=cli_actor(), source="cli", action=f"pki.{action}", target=target, result=result,
                     old=old, new=new, detail=detail)


def add_parser(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "pki", help="OPC UA certificates: list, trust or untrust servers, renew the gateway's own certificate",
        description="Trust list of OPC UA server certificates and the gateway's own certificate. A server "
                    "refused as untrusted is listed as 'rejected'; 'trust THUMBPRINT' (any unique prefix) lets "
                    "it in at the gateway's next connect attempt, no restart needed.")
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("-c", "--config", help="gateway config (its pki.path and audit.path)")
    where.add_argument("--pki-dir", help="the PKI folder itself (own/, trusted/, rejected/)")
    p.add_argument("--audit-file", default=None, help="audit log file (default: the config's audit.path)")
    acts = p.add_subparsers(dest="action", required=True)
    acts.add_parser("list", help="own, trusted and rejected certificates")
    for name, text in (("trust", "move a rejected server certificate to trusted"),
                       ("untrust", "move a trusted server certificate to rejected"),
                       ("remove", "delete a trusted or rejected certificate")):
        a = acts.add_parser(name, help=text)
        a.add_argument("thumbprint", help="SHA-1 thumbprint as 'pki list' shows it, or a unique prefix")
    acts.add_parser("renew", help="new key and certificate for the gateway (servers must trust the new one)")
    p.set_defaults(func=cmd_pki)
