"""`aas-gateway backup` and `aas-gateway restore`: an online snapshot of a gateway's data, and its way back.

The work is in gateway/ops/backup.py; this module is the command line. Paths come from the config
file, loaded without the sources' secrets (gateway/ops/paths.py), so both work from cron.
"""

from __future__ import annotations

import argparse
import socket
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gateway.cli.common import EXIT_USAGE, Subparsers


def register(sub: Subparsers) -> None:
    b: argparse.ArgumentParser = sub.add_parser(
        "backup", help="online snapshot of the historian, PKI, API keys, audit log, ledger and config into one "
                       "archive (the gateway may keep running)")
    where = b.add_mutually_exclusive_group(required=True)
    where.add_argument("-c", "--config", help="gateway configuration file (finds every path; it is backed up too)")
    where.add_argument("--data-dir", help="a data directory in the default layout (historian.sqlite, pki/, ...)")
    b.add_argument("--out", metavar="FILE", help="archive to write (.tar.gz or .tar; default: "
                   "aas-gateway-backup-<host>-<time>.tar.gz here); mode 0600: it holds the gateway's private keys")
    b.add_argument("--step-pages", type=int, default=256, metavar="N",
                   help="historian pages copied per step (4 KB each); the gateway's writer runs between steps")
    b.set_defaults(func=cmd_backup)

    r: argparse.ArgumentParser = sub.add_parser(
        "restore", help="bring a backup back: checksums verified first; refused while a gateway runs on the target")
    r.add_argument("archive")
    to = r.add_mutually_exclusive_group(required=True)
    to.add_argument("-c", "--config", help="restore to the paths of this configuration")
    to.add_argument("--data-dir", help="restore into this data directory (default layout)")
    to.add_argument("--original", action="store_true", help="restore to the paths the files were backed up from")
    r.add_argument("--force", action="store_true",
                   help="the target holds data: move it aside into before-restore-<time>/ and restore")
    r.add_argument("--with-config", action="store_true", help="also replace an existing config file")
    r.set_defaults(func=cmd_restore)


def _paths(args: argparse.Namespace) -> Any:
    from gateway.ops.paths import from_config, from_data_dir

    if getattr(args, "config", None):
        return from_config(Path(args.config))
    if getattr(args, "data_dir", None):
        return from_data_dir(Path(args.data_dir))
    return None


def cmd_backup(args: argparse.Namespace) -> int:
    from gateway import __version__
    from gateway.ops.backup import BackupError, backup
    from gateway.ops.paths import PathsError

    try:
        paths = _paths(args)
    except PathsError as e:
        print(f"backup: {e}", file=sys.stderr)
        return EXIT_USAGE
    if not paths.data_dir.is_dir():
        print(f"backup: no data directory at {paths.data_dir}", file=sys.stderr)
        return 1
    out = Path(args.out or f"aas-gateway-backup-{socket.gethostname()}-"
                            f"{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}.tar.gz")
    try:
        m = backup(paths, out, step_pages=max(1, args.step_pages), version=str(__version__))
    except (BackupError, OSError) as e:
        print(f"backup: {e}", file=sys.stderr)
        return 1
    snap = m.snapshot
    size = sum(f.size for f in m.files)
    print(f"backup written to {out}: {len(m.files)} files, {size / 1e6:.1f} MB before compression", file=sys.stderr)
    if snap:
        print(f"  historian snapshot at {snap.get('taken')}: {snap.get('samples', 0)} samples up to seq "
              f"{snap.get('max_seq', 0)}, copied in {snap.get('steps')} steps ({snap.get('copy_s')} s)",
              file=sys.stderr)
    print("  it holds the gateway's private keys: keep it as safe as the PKI folder", file=sys.stderr)
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    from gateway.ops.backup import BackupError, restore
    from gateway.ops.paths import PathsError

    try:
        paths = _paths(args)
        result = restore(Path(args.archive), paths, force=args.force, with_config=args.with_config)
    except (PathsError, BackupError, RuntimeError, OSError) as e:
        print(f"restore: {e}", file=sys.stderr)
        return 1
    assert result.manifest is not None
    print(f"restored {len(result.restored)} files from {args.archive} (taken {result.manifest.created} on "
          f"{result.manifest.host}, gateway {result.manifest.gateway_version})", file=sys.stderr)
    for p in result.moved_aside:
        print(f"  moved aside: {p}", file=sys.stderr)
    for s in result.skipped:
        print(f"  not restored: {s}", file=sys.stderr)
    print("  start the gateway: it resumes from the snapshot (forwarders resend what their peers had not "
          "acknowledged by then)", file=sys.stderr)
    return 0
