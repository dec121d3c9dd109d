"""The command line: ``check``, ``explain`` (``run`` and ``demo`` are dispatched before this)."""

from __future__ import annotations

import argparse
import sys
from typing import NoReturn

from xentguard import __version__
from xentguard.cli.parallel import default_jobs

FORMATS = ("text", "json", "sarif")


class UsageError(Exception):
    """A usage or configuration error: one line on stderr, exit 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see '{self.prog} --help')")


def _codes(value: str) -> list[str]:
    return [item for item in value.replace(",", " ").split() if item]


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="xentguard",
        description="Catch PyTorch code that feeds the wrong kind of numbers into a loss.",
        epilog="Also: 'xentguard run SCRIPT [ARGS...]' and 'xentguard demo' (runtime guard, needs torch).",
    )
    parser.add_argument("--version", action="version", version=f"xentguard {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    check = sub.add_parser("check", help="check Python files and notebooks")
    check.add_argument("paths", nargs="*", metavar="PATH", help="files or directories (default: .)")
    check.add_argument("--format", choices=FORMATS, default="text", help="report format (default: text)")
    check.add_argument("-o", "--output", metavar="FILE", help="write the report to FILE instead of stdout")
    check.add_argument("--select", type=_codes, metavar="CODES", help="only these codes/prefixes (XG1,XG107)")
    check.add_argument("--extend-select", type=_codes, default=[], metavar="CODES",
                       help="add codes/prefixes to the selection")
    check.add_argument("--ignore", type=_codes, metavar="CODES", help="skip these codes/prefixes")
    check.add_argument("--extend-ignore", type=_codes, default=[], metavar="CODES",
                       help="skip these codes/prefixes in addition to the configured ignore")
    check.add_argument("--exclude", type=lambda v: [p for p in v.split(",") if p], default=[],
                       metavar="GLOBS", help="more globs to exclude (added to the config's exclude)")
    check.add_argument("--config", metavar="PYPROJECT", help="use this pyproject.toml's [tool.xentguard]")
    check.add_argument("--isolated", action="store_true", help="ignore pyproject.toml configuration")
    mode = check.add_mutually_exclusive_group()
    mode.add_argument("--fix", action="store_true", help="apply the certain fixes in place")
    mode.add_argument("--diff", action="store_true", help="print the fixes as a unified diff; change nothing")
    check.add_argument("-j", "--jobs", type=int, default=default_jobs(), metavar="N",
                       help="processes to use (default: all cores)")
    check.add_argument("--exit-zero", action="store_true", help="exit 0 even when there are findings")
    check.add_argument("--statistics", action="store_true", help="count findings per code at the end")
    check.add_argument("--show-evidence", action="store_true", help="text format: print each evidence step")
    check.add_argument("-q", "--quiet", action="store_true", help="no notes or summaries on stderr")

    explain = sub.add_parser("explain", help="explain a rule: why, a wrong and a right example")
    explain.add_argument("code", nargs="?", help="rule code, e.g. XG101 (none: list all rules)")
    return parser


def parse(argv: list[str]) -> argparse.Namespace:
    parser = build_parser()
    ns = parser.parse_args(argv)
    if ns.command is None:
        parser.print_help(sys.stdout)
        raise SystemExit(0)
    if ns.command == "check" and ns.jobs < 1:
        raise UsageError("--jobs must be at least 1")
    return ns
