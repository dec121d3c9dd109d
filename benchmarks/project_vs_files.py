"""Whole-project analysis vs. checking the same files one by one (each file alone).

Both run in this process over the benchmark corpus, alternating, so the ratio compares
like with like: ``project`` follows imports into the project's own modules and callers
across files; ``files`` analyses every file in isolation. Target: project / files <= 1.5.

    python benchmarks/project_vs_files.py [--repeats 3] [--corpus DIR]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _timing import alternate, report
from corpus import corpus_dir

from xentguard.static import api, project


def load(root: Path) -> list[tuple[str, str]]:
    files = []
    for path in sorted(root.rglob("*.py")):
        try:
            files.append((str(path), path.read_text(encoding="utf-8")))
        except (OSError, UnicodeDecodeError):
            continue
    return files


def run(files: list[tuple[str, str]], isolated: bool) -> tuple[float, int]:
    project.forget_projects()  # a fresh process's cache
    start = time.perf_counter()
    count = 0
    for path, source in files:
        count += len(api.analyze_source(source, path, isolated=isolated))
    return time.perf_counter() - start, count


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--corpus", type=Path, default=None)
    args = parser.parse_args()
    root = args.corpus or corpus_dir()
    files = load(root)
    counts: dict[str, int] = {}

    def timed(isolated: bool, name: str):  # type: ignore[no-untyped-def]
        def call() -> float:
            seconds, counts[name] = run(files, isolated)
            return seconds
        return call

    results = alternate({"files": timed(True, "files"), "project": timed(False, "project")}, args.repeats)
    print(f"{len(files)} files under {root}")
    print(report(results, baseline="files"))
    print(f"findings: files one by one {counts['files']}, project {counts['project']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
