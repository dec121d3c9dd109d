"""``xentguard run script.py [args]``: run a script (or ``-m module``) with the guard installed.

The guard is installed before the script runs, so the script's own ``from torch.nn.functional
import cross_entropy`` binds the guarded function: the one blind spot of :func:`install`
(names imported before it) does not arise. Mode from ``--mode`` or ``XENTGUARD_MODE``.
"""

from __future__ import annotations

import argparse
import os
import runpy
import sys

from xentguard.runtime.report import MODES

ENV_MODE = "XENTGUARD_MODE"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="xentguard run",
        description="Run a Python script with the xentguard runtime guard installed (no code change needed).",
    )
    parser.add_argument(
        "--mode",
        choices=MODES,
        default=None,
        help=f"how findings are reported (default: ${ENV_MODE} or 'warn')",
    )
    parser.add_argument("--every", action="store_true", help="report every call, not each call site once")
    parser.add_argument("-m", dest="module", metavar="MODULE", help="run a module, like python -m")
    parser.add_argument("script", nargs="?", help="the script to run")
    parser.add_argument("args", nargs=argparse.REMAINDER, help="arguments passed to the script")
    return parser


def main(argv: list[str]) -> int:
    parser = _parser()
    opts = parser.parse_args(argv)
    if opts.module is not None and opts.script is not None:
        opts.args = [opts.script, *opts.args]
        opts.script = None
    if opts.module is None and opts.script is None:
        parser.error("give a script to run, or -m MODULE")
    mode = opts.mode or os.environ.get(ENV_MODE, "warn") or "warn"
    if mode not in MODES:
        parser.error(f"{ENV_MODE}={mode!r} is not a mode; expected one of {', '.join(MODES)}")
    if opts.script is not None and not os.path.isfile(opts.script):
        parser.error(f"no such script: {opts.script}")

    try:
        from xentguard import runtime
    except ImportError as exc:  # torch missing
        parser.error(f"the runtime guard needs PyTorch ({exc})")

    saved_argv, saved_path0 = sys.argv[:], sys.path[0] if sys.path else None
    runtime.install(mode=mode, once=not opts.every)
    try:
        if opts.module is not None:
            sys.argv = [opts.module, *opts.args]
            runpy.run_module(opts.module, run_name="__main__", alter_sys=True)
        else:
            script = os.path.abspath(opts.script)
            sys.argv = [opts.script, *opts.args]
            if sys.path:
                sys.path[0] = os.path.dirname(script)
            else:
                sys.path.insert(0, os.path.dirname(script))
            runpy.run_path(script, run_name="__main__")
        code = 0
    except SystemExit as exc:
        code = _exit_code(exc.code)
    finally:
        runtime.flush()
        runtime.uninstall()
        sys.argv = saved_argv
        if saved_path0 is not None and sys.path:
            sys.path[0] = saved_path0
    return code


def _exit_code(code: object) -> int:
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return 1
