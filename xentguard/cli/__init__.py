"""``xentguard``: the standalone command line (check, fix, explain; run and demo for the runtime).

``check``, ``fix`` and ``explain`` never import torch. ``run`` and ``demo`` load the
runtime half lazily and get the rest of the command line untouched.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from xentguard.cli.args import UsageError, parse
from xentguard.cli.config import ConfigError

_RUNTIME_COMMANDS = {"run": "xentguard.runtime.runner", "demo": "xentguard.runtime.demo"}


def _error(message: str) -> int:
    sys.stderr.write(f"xentguard: error: {message}\n")
    return 2


def _runtime(command: str, argv: list[str]) -> int:
    import importlib

    try:
        module = importlib.import_module(_RUNTIME_COMMANDS[command])
    except ImportError as exc:
        return _error(f"'xentguard {command}' needs the runtime guard ({exc}); install 'xentguard[runtime]'")
    return int(module.main(argv))


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] in _RUNTIME_COMMANDS:
        return _runtime(args[0], args[1:])
    try:
        ns = parse(args)
        if ns.command == "explain":
            from xentguard.cli.explain import explain, list_rules, lookup

            if ns.code is None:
                sys.stdout.write(list_rules())
                return 0
            rule = lookup(ns.code)
            if rule is None:
                return _error(f"unknown rule {ns.code!r}; 'xentguard explain' lists them")
            sys.stdout.write(explain(rule))
            return 0
        from xentguard.cli.run import run_check

        return run_check(ns)
    except (UsageError, ConfigError) as exc:
        return _error(str(exc))
    except SystemExit as exc:  # --help, --version
        return exc.code if isinstance(exc.code, int) else 0
    except KeyboardInterrupt:
        sys.stderr.write("xentguard: interrupted\n")
        return 130
    except BrokenPipeError:
        return 1


__all__ = ["main"]
