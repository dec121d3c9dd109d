"""Time ``xentguard check DIR`` against ``ruff check --select F,E,W DIR`` on the same files.

ruff is the linter a project would run next to xentguard, so its time on the same tree is
the yardstick: the ratio xentguard / ruff says how much a CI lint job grows. Both run in
the same benchmark run, alternating, on the benchmark corpus (real ML code from pinned
PyPI distributions, built by ``benchmarks/corpus.py`` on first use), with the same number
of workers (``--jobs`` for xentguard, ``RAYON_NUM_THREADS`` for ruff's thread pool), both
``--isolated`` (no configuration files) and without caches.

    python benchmarks/cli_vs_ruff.py                          # this checkout, 3 rounds
    python benchmarks/cli_vs_ruff.py --xentguard-tree /path/to/other/checkout --repeats 5

``--xentguard-tree`` times another checkout's package (run as ``python -m xentguard`` with
that tree first on ``PYTHONPATH``). ``--baseline-tree`` times a second checkout in the same
run, in the same rotation, and prints how much the xentguard / ruff ratio grew from it
(the budget of issue 9: at most 1.20x the ratio before the reach work):

    python benchmarks/cli_vs_ruff.py --baseline-tree /path/to/checkout/of/101b55e --repeats 5

A benchmark, not a test: it prints the figures and exits 0.
"""

from __future__ import annotations

import argparse
import functools
import os
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _timing import alternate, median, report, time_command
from _tree import REPO_ROOT, commit_of, imported_from, tree_env
from corpus import corpus_dir, python_files

RUFF = "ruff check --select F,E,W"
XENTGUARD = "xentguard check"
GROWTH_BUDGET = 1.20  # issue 9: the ratio may grow by at most 20% over the reach work


def ruff_binary() -> str:
    try:  # the ruff wheel knows where it put its binary
        from ruff.__main__ import find_ruff_bin

        return str(find_ruff_bin())
    except (ImportError, FileNotFoundError):
        found = shutil.which("ruff")
        if found is None:
            raise SystemExit("ruff is not installed (pip install -e '.[test]')") from None
        return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, help="tree to check (default: the benchmark corpus)")
    parser.add_argument("--repeats", type=int, default=3, help="timed rounds per tool; the median is reported")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="workers for both tools")
    parser.add_argument("--xentguard-tree", type=Path, default=REPO_ROOT,
                        help="checkout whose xentguard package is timed (default: this one)")
    parser.add_argument("--baseline-tree", type=Path,
                        help="a second checkout timed in the same run: the ratio's growth from it is printed")
    args = parser.parse_args(argv)

    root = (args.corpus or corpus_dir()).resolve()
    jobs = str(args.jobs)
    ruff = [ruff_binary(), "check", "--isolated", "--no-cache", "--select", "F,E,W", "--exit-zero", "--quiet",
            str(root)]
    ruff_env = {"RAYON_NUM_THREADS": jobs}
    count = len(python_files(root))
    timed = {XENTGUARD: args.xentguard_tree.resolve()}
    if args.baseline_tree is not None:
        timed[f"{XENTGUARD} ({commit_of(args.baseline_tree.resolve())})"] = args.baseline_tree.resolve()
    configs: dict[str, Callable[[], float]] = {RUFF: functools.partial(time_command, ruff, env=ruff_env)}
    for name, tree in timed.items():
        env = tree_env(tree)
        package = imported_from(tree, env)
        print(f"{count} Python files under {root}; {jobs} worker(s); {name}: xentguard from {package} "
              f"({commit_of(tree)})", file=sys.stderr)
        xentguard = [sys.executable, "-m", "xentguard", "check", "--isolated", "--exit-zero", "-q", "--jobs", jobs,
                     str(root)]
        time_command(xentguard, env=env, cwd=tree)  # warm the file cache and the bytecode
        configs[name] = functools.partial(time_command, xentguard, env=env, cwd=tree)
    time_command(ruff, env=ruff_env)
    results = alternate(configs, args.repeats)
    print(report(results, baseline=RUFF))
    ratios = {name: median(results[name]) / median(results[RUFF]) for name in timed}
    print(f"xentguard / ruff: {ratios[XENTGUARD]:.2f}x (median of {args.repeats}; ruff {median(results[RUFF]):.2f} s, "
          f"xentguard {median(results[XENTGUARD]):.2f} s, {count} files)")
    for name, ratio in ratios.items():
        if name != XENTGUARD:
            growth = ratios[XENTGUARD] / ratio
            verdict = "within" if growth <= GROWTH_BUDGET else "OVER"
            print(f"{name} / ruff: {ratio:.2f}x; growth {growth:.2f}x ({verdict} the budget of {GROWTH_BUDGET:.2f}x, "
                  f"same run)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
