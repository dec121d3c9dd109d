"""Shared helpers for the benchmark scripts (standard library only).

    time_command(argv, env=..., cwd=...) -> float      wall seconds of one subprocess run
    alternate({"name": fn, ...}, repeats) -> {name: [seconds, ...]}
    report(results, baseline="name") -> str            median table with ratios to the baseline

Benchmarks print ratios against a baseline measured in the same run; they are never tests.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence


class CommandFailed(RuntimeError):
    """A timed command exited with a non-zero status."""


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def time_command(
    argv: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    cwd: str | os.PathLike[str] | None = None,
) -> float:
    """Run ``argv`` with stdout discarded; return its wall time in seconds (perf_counter).

    ``env`` entries are added to (not substituted for) the current environment.  Raises
    CommandFailed with the tail of stderr when the command exits non-zero."""
    full_env = {**os.environ, **env} if env else None
    start = time.perf_counter()
    proc = subprocess.run(
        list(argv),
        env=full_env,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        tail = proc.stderr.decode("utf-8", "replace").strip().splitlines()[-5:]
        raise CommandFailed(f"exit {proc.returncode}: {' '.join(argv)}\n" + "\n".join(tail))
    return elapsed


def alternate(
    configs: Mapping[str, Callable[[], float]],
    repeats: int,
    *,
    log: bool = True,
) -> dict[str, list[float]]:
    """Call every config once per round, ``repeats`` rounds, rotating the order each round
    (round 0: A B C, round 1: B C A, ...) so slow drift and warm-up hit all configs alike."""
    names = list(configs)
    results: dict[str, list[float]] = {name: [] for name in names}
    for round_ in range(repeats):
        shift = round_ % len(names)
        for name in names[shift:] + names[:shift]:
            seconds = configs[name]()
            results[name].append(seconds)
            if log:
                print(f"  round {round_ + 1}/{repeats}  {name:<16} {seconds:8.2f} s", file=sys.stderr, flush=True)
    return results


def report(results: Mapping[str, Sequence[float]], baseline: str) -> str:
    """Table of runs/median/min/max per config and each median over the baseline's median."""
    base = median(results[baseline])
    width = max(len(name) for name in results)
    lines = [f"{'config':<{width}}  runs  median s     min s     max s  ratio vs {baseline}"]
    for name, values in results.items():
        med = median(values)
        lines.append(
            f"{name:<{width}}  {len(values):4d}  {med:8.2f}  {min(values):8.2f}  {max(values):8.2f}  {med / base:.3f}x"
        )
    return "\n".join(lines)
