"""Time ``xentguard check DIR`` against ``flake8 --select XG DIR`` (the plugin) on the same files.

Both run with the same number of processes on the benchmark corpus (real ML code from
pinned PyPI distributions, built by ``benchmarks/corpus.py`` on first use). The issue's
requirement: the CLI must not take longer than flake8 with the plugin.

    python benchmarks/cli_vs_flake8.py                 # all cores, 5 rounds
    python benchmarks/cli_vs_flake8.py --jobs 2 --repeats 3 --dir some/tree

Exits 1 when the CLI's median is slower than flake8's (so CI can run it).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _timing import alternate, median, report, time_command
from corpus import corpus_dir


def _flake8_has_plugin() -> bool:
    proc = subprocess.run([sys.executable, "-m", "flake8", "--version"], capture_output=True, text=True)
    return proc.returncode == 0 and "xentguard" in proc.stdout


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="processes for both tools")
    parser.add_argument("--repeats", type=int, default=5, help="timed rounds per tool")
    parser.add_argument("--dir", type=Path, help="tree to check (default: the benchmark corpus)")
    args = parser.parse_args(argv)

    if not _flake8_has_plugin():
        print("flake8 does not list the XG plugin; run 'pip install -e .' first", file=sys.stderr)
        return 2
    root = (args.dir or corpus_dir()).resolve()
    jobs = str(args.jobs)
    xentguard = [sys.executable, "-m", "xentguard", "check", "--isolated", "--exit-zero", "-q",
                 "--jobs", jobs, str(root)]
    flake8 = [sys.executable, "-m", "flake8", "--isolated", "--select", "XG", "--exit-zero",
              "--jobs", jobs, str(root)]
    count = sum(1 for p in root.rglob("*.py") if p.is_file())
    print(f"{count} Python files under {root}, {jobs} process(es)", file=sys.stderr)
    for command in (xentguard, flake8):  # warm the file cache and the bytecode
        time_command(command)
    results = alternate(
        {
            "flake8 --select XG": lambda: time_command(flake8),
            "xentguard check": lambda: time_command(xentguard),
        },
        args.repeats,
    )
    print(report(results, baseline="flake8 --select XG"))
    slower = median(results["xentguard check"]) > median(results["flake8 --select XG"])
    if slower:
        print("xentguard check is slower than flake8 with the plugin", file=sys.stderr)
    return 1 if slower else 0


if __name__ == "__main__":
    raise SystemExit(main())
