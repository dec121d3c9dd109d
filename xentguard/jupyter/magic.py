"""The ``%xentguard`` line magic: status, on/off, the mode, either half, check, explain."""

from __future__ import annotations

import sys

from IPython.core.error import UsageError

from xentguard.cli.explain import explain, list_rules, lookup
from xentguard.jupyter.extension import MODES, Extension
from xentguard.jupyter.wording import cell_label

USAGE = """\
%xentguard [status]             what is on, and what was found
%xentguard on | off             check and guard cells / stop (restores everything)
%xentguard mode warn|raise|log  raise: an error stops the cell; log: to the "xentguard" logger
%xentguard static on|off        the check of each cell before it runs
%xentguard runtime on|off       the guard of the losses while cells run (needs torch)
%xentguard check                check every cell run so far again, and print all findings
%xentguard explain XG101        what a rule flags, why, and what to write instead"""


def run(extension: Extension, line: str) -> None:
    words = line.split()
    command, args = (words[0].lower(), words[1:]) if words else ("status", [])
    if command == "status" and not args:
        print(status(extension))
    elif command in ("on", "off") and not args:
        (extension.enable if command == "on" else extension.disable)()
        print(f"xentguard: {command}")
    elif command == "mode" and len(args) == 1 and args[0].lower() in MODES:
        extension.set_mode(args[0].lower())
        print(f"xentguard: mode {extension.mode}")
    elif command in ("static", "runtime") and len(args) == 1 and args[0].lower() in ("on", "off"):
        on = args[0].lower() == "on"
        (extension.set_static if command == "static" else extension.set_runtime)(on)
        print(f"xentguard: {command} {'on' if on else 'off'}{_runtime_caveat(extension, command, on)}")
    elif command == "check" and not args:
        check_all(extension)
    elif command == "explain" and len(args) <= 1:
        print(_explain(args[0] if args else None), end="")
    elif command in ("help", "-h", "--help"):
        print(USAGE)
    else:
        raise UsageError(f"%xentguard {line.strip()}: not understood\n{USAGE}")


def _runtime_caveat(extension: Extension, command: str, on: bool) -> str:
    if command == "runtime" and on and extension.guard.unavailable:
        return " (unavailable: torch is not installed)"
    if extension.enabled:
        return ""
    return " (takes effect with %xentguard on)"


def status(extension: Extension) -> str:
    guard = extension.guard
    if not extension.runtime:
        runtime = "off"
    elif guard.unavailable:
        runtime = "unavailable (torch is not installed)"
    elif guard.foreign:
        runtime = "left to your own xentguard.install()"
    elif guard.installed:
        runtime = f"on ({extension.mode})"
    else:
        runtime = "on when xentguard is on" if not extension.enabled else "off"
    session = extension.session
    static = "on" if extension.static else "off"
    return "\n".join([
        f"xentguard: {'on' if extension.enabled else 'off'}, mode {extension.mode}",
        f"  static check:  {static} ({_count(session.cells_checked, 'cell')} checked, "
        f"{_count(session.findings_reported, 'finding')} reported)",
        f"  runtime guard: {runtime}",
    ])


def check_all(extension: Extension) -> None:
    """Every executed cell again, from a fresh session, every finding printed (the
    incremental session is replaced by this one)."""
    session, findings = extension.rebuilt()
    extension.session = session
    if not findings:
        print(f"xentguard: no findings in {_count(session.cells_checked, 'cell')}")
        return
    extension.deliver(findings, current="")
    cells = list(dict.fromkeys(cell_label(f.path) for f in findings))
    print(f"xentguard: {_count(len(findings), 'finding')} in {_count(session.cells_checked, 'cell')} "
          f"({', '.join(cells)})", file=sys.stderr)


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def _explain(code: str | None) -> str:
    if code is None:
        return list_rules()
    rule = lookup(code)
    if rule is None:
        raise UsageError(f"unknown rule {code!r}; `%xentguard explain` lists the rules")
    return explain(rule)
