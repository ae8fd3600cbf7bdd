#!/usr/bin/env bash
# Install or upgrade the AAS edge gateway as a systemd service on a plain Debian/Ubuntu server.
#
#   sudo deploy/install.sh                       # from this source tree (as checked out or unpacked)
#   sudo deploy/install.sh --wheels /media/usb   # offline: pip installs only from that folder (pip download ...)
#
# Idempotent: run it again to upgrade (same command, newer source). It
#   - creates the system user `aas-gateway` (no login, home /var/lib/aas-gateway) if missing;
#   - creates or upgrades the virtualenv /opt/aas-gateway/venv and compiles it (the service cannot write there);
#   - installs /etc/aas-gateway/config.yaml and /etc/aas-gateway/environment ONLY IF THEY DO NOT EXIST
#     (your config and secrets are never overwritten) and checks the config;
#   - creates /var/lib/aas-gateway (0700, owned by the service user): historian, PKI, keys, audit, ledger;
#   - on an upgrade of a running gateway: takes a backup first (/var/backups/aas-gateway/, --no-backup to skip);
#   - installs the systemd unit, enables it and (re)starts it (--no-start: install only).
# --root DIR installs into DIR as if it were / (packaging and tests): no user, no chown, no systemctl.
set -euo pipefail

SRC="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ROOT=""
WHEELS=""
START=1
BACKUP=1
PYTHON="${PYTHON:-python3}"
while [ $# -gt 0 ]; do
    case "$1" in
        --root) ROOT="$(realpath -m "$2")"; shift 2 ;;
        --wheels) WHEELS="$(realpath "$2")"; shift 2 ;;
        --no-start) START=0; shift ;;
        --no-backup) BACKUP=0; shift ;;
        -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
        *) echo "install.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
done

PREFIX="$ROOT/opt/aas-gateway"
VENV="$PREFIX/venv"
ETC="$ROOT/etc/aas-gateway"
DATA="$ROOT/var/lib/aas-gateway"
UNIT_DIR="$ROOT/etc/systemd/system"
BACKUPS="$ROOT/var/backups/aas-gateway"
SVC_USER=aas-gateway

say() { printf '==> %s\n' "$*"; }
system() { [ -z "$ROOT" ]; }  # acting on the real system (not a staging root)

if system && [ "$(id -u)" -ne 0 ]; then
    echo "install.sh: run as root (sudo)" >&2
    exit 1
fi

# --- prerequisites: Python 3.11+ with venv -----------------------------------------------------------
if ! "$PYTHON" -c 'import sys, venv, ensurepip; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    if system && command -v apt-get >/dev/null; then
        say "installing python3 and python3-venv"
        apt-get install -y python3 python3-venv
    fi
    "$PYTHON" -c 'import sys, venv, ensurepip; sys.exit(sys.version_info < (3, 11))' || {
        echo "install.sh: needs Python >= 3.11 with venv (apt-get install python3 python3-venv)" >&2; exit 1; }
fi

# --- the service user ---------------------------------------------------------------------------------
if system && ! id -u "$SVC_USER" >/dev/null 2>&1; then
    say "creating system user $SVC_USER"
    useradd --system --user-group --home-dir /var/lib/aas-gateway --no-create-home --shell /usr/sbin/nologin \
            --comment "AAS edge gateway" "$SVC_USER"
fi

# --- a backup before upgrading a running gateway --------------------------------------------------
UPGRADE=0
[ -x "$VENV/bin/aas-gateway" ] && UPGRADE=1
if system && [ "$UPGRADE" = 1 ] && [ "$BACKUP" = 1 ] && [ -f "$ETC/config.yaml" ] && [ -d "$DATA" ]; then
    install -d -m 0700 "$BACKUPS"
    OUT="$BACKUPS/before-upgrade-$(date -u +%Y%m%dT%H%M%SZ).tar.gz"
    if "$VENV/bin/aas-gateway" backup --help >/dev/null 2>&1; then
        say "backing up the gateway's data before the upgrade: $OUT"
        "$VENV/bin/aas-gateway" backup -c "$ETC/config.yaml" --out "$OUT"
    else
        say "the installed version has no backup command: copy $DATA yourself before upgrading (README)"
    fi
fi

# --- the virtualenv ---------------------------------------------------------------------------------
install -d -m 0755 "$PREFIX"
if [ ! -x "$VENV/bin/python" ]; then
    say "creating $VENV"
    "$PYTHON" -m venv "$VENV"
fi
PIP=("$VENV/bin/python" -m pip install --disable-pip-version-check --quiet)
[ -n "$WHEELS" ] && PIP+=(--no-index --find-links "$WHEELS")
say "installing the gateway from $SRC into $VENV"
"${PIP[@]}" --upgrade "$SRC"
"$VENV/bin/python" -m compileall -q "$VENV" >/dev/null || true
install -m 0644 "$SRC/README.md" "$PREFIX/README.md"
VERSION="$("$VENV/bin/aas-gateway" --version)"

# --- config and secrets: created once, never overwritten ---------------------------------------------
install -d -m 0750 "$ETC"
if [ ! -e "$ETC/config.yaml" ]; then
    say "installing a starting config $ETC/config.yaml (edit it: your machines)"
    install -m 0640 "$SRC/deploy/server-config.yaml" "$ETC/config.yaml"
else
    say "keeping the existing $ETC/config.yaml"
fi
if [ ! -e "$ETC/environment" ]; then
    printf '# Secrets the config names as ${VAR}, one VAR=value per line (read by systemd, not by a shell).\n' \
        > "$ETC/environment"
    chmod 0600 "$ETC/environment"
fi

# --- the data directory -------------------------------------------------------------------------------
install -d -m 0700 "$DATA"
if system; then
    chown root:"$SVC_USER" "$ETC" "$ETC/config.yaml"
    chown "$SVC_USER:$SVC_USER" "$DATA"
fi

# --- check the config as the service will read it ----------------------------------------------------
say "checking $ETC/config.yaml"
( set -a; . "$ETC/environment"; set +a; "$VENV/bin/aas-gateway" check-config "$ETC/config.yaml" ) || {
    echo "install.sh: the config has problems (above); fix them, then run this script again" >&2; exit 2; }

# --- the systemd unit ---------------------------------------------------------------------------------
install -d -m 0755 "$UNIT_DIR"
install -m 0644 "$SRC/deploy/systemd/aas-gateway.service" "$UNIT_DIR/aas-gateway.service"
if system; then
    systemctl daemon-reload
    systemctl enable aas-gateway.service >/dev/null
    if [ "$START" = 1 ]; then
        say "(re)starting aas-gateway.service"
        systemctl restart aas-gateway.service
        systemctl --no-pager --lines=5 status aas-gateway.service || true
    fi
fi
say "done: $VERSION ($([ "$UPGRADE" = 1 ] && echo upgraded || echo installed)); logs: journalctl -u aas-gateway -f"
