"""The worker pool of ``xentguard check``: results in order, files handed to the worker
that walked them, a worker that dies does not lose its file."""

from __future__ import annotations

import os
import sys

import pytest

from xentguard.cli.parallel import _Pool, run_all

PARENT = os.getpid()
pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the workers are forked on Linux")


def square(n: int) -> int:
    return n * n


def test_results_come_in_order() -> None:
    items = list(range(40))
    assert list(run_all(square, items, jobs=3)) == [n * n for n in items]


def pid_or_die(n: int) -> tuple[int, int]:
    if n == 7 and os.getpid() != PARENT:
        os._exit(3)  # a worker killed while checking this item
    return n, os.getpid()


def test_the_file_of_a_worker_that_died_is_checked_in_the_parent() -> None:
    results = list(run_all(pid_or_die, list(range(30)), jobs=2))
    assert [n for n, _ in results] == list(range(30))
    assert results[7][1] == PARENT
    assert any(pid != PARENT for _, pid in results)


class FakeWorker:
    def __init__(self) -> None:
        self.sent: list[object] = []

    def send(self, item: object) -> None:
        self.sent.append(item)


def test_a_file_goes_to_the_worker_that_walked_it() -> None:
    items = [f"/p/f{i}.py" for i in range(6)]
    pool: _Pool[str, str] = _Pool(str, items, 2, key=str, walked=None)
    first, second = FakeWorker(), FakeWorker()
    preferred: dict = {first: [], second: []}
    in_flight: dict = {}
    pool._hand_out(first, preferred, in_flight)  # type: ignore[arg-type]
    assert first.sent == ["/p/f0.py"]
    # The first worker reports having walked f3 and f4 (importers of f0).
    for index in (3, 4):
        preferred[first].append(index)
        pool.owner[index] = first  # type: ignore[assignment]
    pool._hand_out(second, preferred, in_flight)  # type: ignore[arg-type]
    pool._hand_out(second, preferred, in_flight)  # type: ignore[arg-type]
    pool._hand_out(second, preferred, in_flight)  # type: ignore[arg-type]
    assert second.sent == ["/p/f1.py", "/p/f2.py", "/p/f5.py"]  # none the first one walked
    pool._hand_out(first, preferred, in_flight)  # type: ignore[arg-type]
    pool._hand_out(first, preferred, in_flight)  # type: ignore[arg-type]
    assert first.sent == ["/p/f0.py", "/p/f4.py", "/p/f3.py"]
    pool._hand_out(second, preferred, in_flight)  # type: ignore[arg-type]
    assert second.sent[-1] == "/p/f5.py" and not pool.pending  # nothing left to hand out
