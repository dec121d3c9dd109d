"""``xentguard check``: gather files, check them in parallel, report, exit 0/1/2."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from xentguard.cli import files as filesmod
from xentguard.cli.args import UsageError
from xentguard.cli.check import (
    CHECK,
    DIFF,
    FIX,
    Job,
    check_job,
    job_path,
    listen_to_walks,
    may_hand_back,
    walked_files,
)
from xentguard.cli.config import Config, ConfigFinder, load_pyproject
from xentguard.cli.output import format_json, format_statistics, format_text
from xentguard.cli.parallel import run_all
from xentguard.cli.records import FileResult, Record, file_error
from xentguard.cli.sarif import format_sarif
from xentguard.cli.selection import Selection, SelectionError, validate_prefixes


def _cli_prefixes(ns: argparse.Namespace) -> dict[str, tuple[str, ...] | None]:
    try:
        return {
            "select": validate_prefixes(ns.select, "--select") if ns.select is not None else None,
            "extend_select": validate_prefixes(ns.extend_select, "--extend-select"),
            "ignore": validate_prefixes(ns.ignore, "--ignore") if ns.ignore is not None else None,
            "extend_ignore": validate_prefixes(ns.extend_ignore, "--extend-ignore"),
        }
    except SelectionError as exc:
        raise UsageError(str(exc)) from None


def _selection(config: Config, cli: dict[str, tuple[str, ...] | None]) -> Selection:
    """Command-line select/ignore replace the config's; extend-* add to them."""
    select = cli["select"] if cli["select"] is not None else config.select
    ignore = cli["ignore"] if cli["ignore"] is not None else config.ignore
    return Selection(
        select=select,
        extend_select=(*config.extend_select, *(cli["extend_select"] or ())),
        ignore=(*ignore, *(cli["extend_ignore"] or ())),
    )


def _relative(path: str, base: str) -> str:
    try:
        return os.path.relpath(os.path.abspath(path), base).replace(os.sep, "/")
    except ValueError:
        return path


def gather(ns: argparse.Namespace) -> tuple[list[Job], list[Record]]:
    """The jobs to run, and XG999 records for paths that do not exist."""
    cli = _cli_prefixes(ns)
    fixed_config = None
    if ns.config:
        fixed_config = load_pyproject(ns.config) or Config(path=ns.config)
    elif ns.isolated:
        fixed_config = Config()
    finder = ConfigFinder()
    mode = FIX if ns.fix else DIFF if ns.diff else CHECK
    jobs: list[Job] = []
    missing: list[Record] = []
    seen: set[str] = set()
    for arg in ns.paths or ["."]:
        config = fixed_config or finder.for_path(arg)
        base_selection = _selection(config, cli)
        exclude = (*config.exclude, *ns.exclude)
        if os.path.isdir(arg):
            found = filesmod.walk(arg, exclude, config.base)
            root: str | None = os.path.abspath(arg)
        elif os.path.lexists(arg):
            found, root = iter([arg]), None
        else:
            missing.append(file_error(filesmod.display_path(arg), "no such file or directory"))
            continue
        for path in found:
            key = os.path.abspath(path)
            if key in seen:
                continue
            seen.add(key)
            extra = config.per_file_ignores.codes_for(_relative(path, config.base))
            jobs.append(Job(filesmod.display_path(path), root, base_selection.with_ignores(extra), mode))
    return jobs, missing


def _render(ns: argparse.Namespace, records: Sequence[Record]) -> str:
    if ns.format == "json":
        return format_json(records)
    if ns.format == "sarif":
        return format_sarif(records)
    report = format_text(records, ns.show_evidence)
    if ns.statistics:
        report += format_statistics(records)
    return report


def _write(ns: argparse.Namespace, report: str) -> None:
    if ns.output:
        try:
            with open(ns.output, "w", encoding="utf-8") as handle:
                handle.write(report)
        except OSError as exc:
            raise UsageError(f"cannot write {ns.output}: {exc.strerror or exc}") from None
    else:
        sys.stdout.write(report)
        sys.stdout.flush()


def run_check(ns: argparse.Namespace) -> int:
    jobs, records = gather(ns)
    results: list[FileResult] = []
    for result in run_all(check_job, jobs, ns.jobs, key=job_path, walked=walked_files, listen=listen_to_walks,
                          may_hand_back=may_hand_back):
        results.append(result)
        if not ns.quiet:
            for note in result.notes:
                sys.stderr.write(note + "\n")
    for result in results:
        records.extend(result.records)
    records.sort(key=Record.sort_key)
    fixed = sum(r.fixed for r in results)
    fixed_files = sum(1 for r in results if r.fixed)
    if ns.diff:
        diff = "".join(r.diff for r in results)
        _write(ns, diff)
        if not ns.quiet:
            sys.stderr.write(f"Would fix {fixed} finding(s) in {fixed_files} file(s).\n")
        return 1 if diff and not ns.exit_zero else 0
    _write(ns, _render(ns, records))
    if ns.fix and not ns.quiet:
        remaining = f"; {len(records)} remaining" if records else ""
        sys.stderr.write(f"Fixed {fixed} finding(s) in {fixed_files} file(s){remaining}.\n")
    return 1 if records and not ns.exit_zero else 0
