"""The worker pool of ``xentguard check``: results in order, files handed to the worker
that walked them, a worker that dies does not lose its file."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable

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


_announce: list[Callable[[list[str]], None]] = []


def listen(callback: Callable[[list[str]], None]) -> None:
    _announce.append(callback)


def announcing(path: str) -> tuple[str, int, float]:
    index = int(path.rsplit("f", 1)[1].removesuffix(".py"))
    if index == 0:  # checking f0 walks f10..f19, its importers: said before the walk
        _announce[-1]([f"/p/f{i}.py" for i in range(10, 20)])
        time.sleep(0.5)
    elif index < 10:
        time.sleep(0.2)
    return path, os.getpid(), time.monotonic()


def test_files_a_worker_is_about_to_walk_are_kept_for_it() -> None:
    items = [f"/p/f{i}.py" for i in range(20)]
    results = list(run_all(announcing, items, jobs=2, key=str, listen=listen))
    assert [path for path, _, _ in results] == items
    walker = results[0][1]
    # Right after f0, the worker that walked f10..f19 checks them, before any file left.
    after = sorted((at, path) for path, pid, at in results[1:] if pid == walker)
    assert {path for _, path in after[:10]} == set(items[10:])


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
