"""What every `aas-gateway` command shares: exit codes, flag spellings, loading a config.

One spelling per flag: `-c/--config` for the gateway configuration, `--audit-file` for an audit
log (`--audit-path`, its older spelling in `audit`, still works but is not shown), `--log-level`
and `--log-format` as in the config's `logging` section. Exit codes: 0 done, 1 the command ran
and failed (an unknown key id, no historian at the path), 2 the command could not run as asked
(a bad config, bad arguments): what a script checks.

Imports nothing heavy: every command's parser is built for `--help`, which must stay fast.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gateway.config import GatewayConfig

EXIT_OK = 0
EXIT_FAILURE = 1  # the command ran and did not succeed
EXIT_USAGE = 2  # config or usage error: nothing was done (argparse exits with 2 too)

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
LOG_FORMATS = ("text", "json")

# argparse's `add_subparsers()` object; its class is private to argparse
Subparsers = Any


def add_config_option(parser: Any, help: str, required: bool = False) -> None:
    """`-c/--config FILE` on a parser or a mutually exclusive group."""
    parser.add_argument("-c", "--config", required=required, metavar="FILE", help=help)


def add_audit_file_option(parser: Any, help: str) -> None:
    """`--audit-file FILE`, and `--audit-path` as a hidden alias (older docs and scripts use it)."""
    parser.add_argument("--audit-file", dest="audit_file", metavar="FILE", help=help)
    parser.add_argument("--audit-path", dest="audit_file", help=argparse.SUPPRESS)


def add_log_options(parser: argparse.ArgumentParser, level: str | None = None, fmt: str | None = None) -> None:
    """`--log-level` and `--log-format`; without defaults the config's `logging` section decides."""
    parser.add_argument("--log-level", choices=LOG_LEVELS, default=level,
                        help="log level" + (f" (default {level})" if level else " (default: the config's)"))
    parser.add_argument("--log-format", choices=LOG_FORMATS, default=fmt,
                        help="text for people, json for log shippers" + (f" (default {fmt})" if fmt else
                                                                         " (default: the config's)"))


def fail(message: str, code: int = EXIT_FAILURE) -> int:
    """Print `message` to stderr and return `code` (for `return fail(...)` in a command)."""
    print(message, file=sys.stderr)
    return code


def load_config_or_report(path: str, hint: str | None = None) -> GatewayConfig | None:
    """The validated config, or None after printing every problem (and `hint`) to stderr."""
    from gateway.config import ConfigError, load_config

    try:
        return load_config(path)
    except ConfigError as e:
        print(e.report(), file=sys.stderr)
        if hint:
            print(hint, file=sys.stderr)
        return None
