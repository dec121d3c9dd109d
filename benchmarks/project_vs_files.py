"""Whole-project analysis vs. checking the same files one by one (each file alone).

Each timed run is a fresh Python process (as a real run is: no cache, no heap left over
from the run before), reads the corpus, then times the analysis alone; runs alternate, so
the ratio compares like with like: ``project`` follows imports into the project's own
modules and callers across files; ``files`` analyses every file in isolation. Target:
project / files <= 1.5.

    python benchmarks/project_vs_files.py [--repeats 3] [--corpus DIR]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _timing import alternate, report
from corpus import corpus_dir

from xentguard.static import api


def load(root: Path) -> list[tuple[str, str]]:
    files = []
    for path in sorted(root.rglob("*.py")):
        try:
            files.append((str(path), path.read_text(encoding="utf-8")))
        except (OSError, UnicodeDecodeError):
            continue
    return files


def run(files: list[tuple[str, str]], isolated: bool) -> tuple[float, int]:
    start = time.perf_counter()
    count = 0
    for path, source in files:
        count += len(api.analyze_source(source, path, isolated=isolated))
    return time.perf_counter() - start, count


def run_in_fresh_process(root: Path, mode: str) -> tuple[float, int]:
    """One timed run in a new interpreter: (analysis seconds, findings)."""
    result = subprocess.run(
        [sys.executable, __file__, "--corpus", str(root), "--one", mode],
        capture_output=True, text=True, check=False,
    )
    if result.returncode != 0:
        raise SystemExit(f"{mode} run failed:\n{result.stderr[-2000:]}")
    seconds, findings = json.loads(result.stdout.strip().splitlines()[-1])
    return float(seconds), int(findings)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--corpus", type=Path, default=None)
    parser.add_argument("--one", choices=("files", "project"), help=argparse.SUPPRESS)  # a child run
    args = parser.parse_args()
    root = args.corpus or corpus_dir()
    if args.one:
        print(json.dumps(run(load(root), isolated=args.one == "files")))
        return 0
    counts: dict[str, int] = {}

    def timed(mode: str):  # type: ignore[no-untyped-def]
        def call() -> float:
            seconds, counts[mode] = run_in_fresh_process(root, mode)
            return seconds
        return call

    results = alternate({"files": timed("files"), "project": timed("project")}, args.repeats)
    print(f"{sum(1 for _ in root.rglob('*.py'))} .py files under {root}")
    print(report(results, baseline="files"))
    print(f"findings: files one by one {counts['files']}, project {counts['project']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
