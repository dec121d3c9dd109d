"""Run the per-file checks on all cores: one process pool, chunked, results in order."""

from __future__ import annotations

import multiprocessing
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")

# Below this many files per worker, starting processes costs more than it saves.
MIN_FILES_PER_JOB = 8


def default_jobs() -> int:
    try:
        return max(len(os.sched_getaffinity(0)), 1)
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def run_all(func: Callable[[T], R], items: Sequence[T], jobs: int) -> Iterator[R]:
    """``map(func, items)`` in the order of ``items``, in ``jobs`` processes when worth it."""
    workers = min(jobs, len(items) // MIN_FILES_PER_JOB)
    if workers <= 1:
        yield from map(func, items)
        return
    chunksize = max(1, min(64, len(items) // (workers * 8)))
    # fork starts workers in milliseconds with everything already imported (Linux only).
    context = multiprocessing.get_context("fork") if sys.platform.startswith("linux") else None
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        yield from pool.map(func, items, chunksize=chunksize)
