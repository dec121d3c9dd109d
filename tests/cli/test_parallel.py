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
    if index == 0:  # checking f0 walks f11..f19, its importers: said before the walk
        _announce[-1]([f"/p/f{i}.py" for i in range(11, 20)])
        time.sleep(0.5)
    elif index <= 10:
        # f10, the other worker's first file, too: done at once, it had that worker ask
        # for the next one before the parent heard what the first worker is walking
        # (a race under load, seen once in CI).
        time.sleep(0.2)
    return path, os.getpid(), time.monotonic()


def test_files_a_worker_is_about_to_walk_are_kept_for_it() -> None:
    items = [f"/p/f{i}.py" for i in range(20)]
    results = list(run_all(announcing, items, jobs=2, key=str, listen=listen))
    assert [path for path, _, _ in results] == items
    walker = results[0][1]
    # Right after f0, the worker that walked f11..f19 checks them, before any file left
    # (they lie in the other worker's range, which starts at f10).
    after = sorted((at, path) for path, pid, at in results[1:] if pid == walker)
    assert {path for _, path in after[:9]} == set(items[11:])


class FakeWorker:
    def __init__(self) -> None:
        self.sent: list[object] = []

    def send(self, item: object) -> None:
        self.sent.append(item)


def test_a_file_goes_to_the_worker_that_walked_it() -> None:
    items = [f"/p/f{i}.py" for i in range(8)]
    pool: _Pool[str, str] = _Pool(str, items, 2, key=str, walked=None)
    first, second = FakeWorker(), FakeWorker()
    preferred: dict = {first: [], second: []}
    in_flight: dict = {}
    pool._hand_out(first, preferred, in_flight)  # type: ignore[arg-type]
    assert first.sent == ["/p/f0.py"]
    # The first worker reports having walked f5 and f6 (importers of f0), in the second's range.
    for index in (5, 6):
        preferred[first].append(index)
        pool.owner[index] = first  # type: ignore[assignment]
    for _ in range(2):
        pool._hand_out(second, preferred, in_flight)  # type: ignore[arg-type]
    assert second.sent == ["/p/f4.py", "/p/f7.py"]  # its range, without what the first one walked
    for _ in range(3):
        pool._hand_out(first, preferred, in_flight)  # type: ignore[arg-type]
    assert first.sent == ["/p/f0.py", "/p/f6.py", "/p/f5.py", "/p/f1.py"]
    # The second worker's range is done: it takes the second half of what the first has left.
    pool._hand_out(second, preferred, in_flight)  # type: ignore[arg-type]
    assert second.sent[-1] == "/p/f3.py"
    pool._hand_out(first, preferred, in_flight)  # type: ignore[arg-type]
    pool._hand_out(second, preferred, in_flight)  # type: ignore[arg-type]
    assert first.sent[-1] == "/p/f2.py" and second.sent[-1] == "/p/f3.py" and not pool.pending


def test_each_worker_takes_a_contiguous_range_and_then_half_of_the_largest_left() -> None:
    items = [f"/p/f{i}.py" for i in range(12)]
    pool: _Pool[str, str] = _Pool(str, items, 3, key=str, walked=None)
    workers = [FakeWorker() for _ in range(3)]
    preferred: dict = {w: [] for w in workers}
    in_flight: dict = {}
    for worker in workers:
        pool._hand_out(worker, preferred, in_flight)  # type: ignore[arg-type]
    assert [w.sent for w in workers] == [["/p/f0.py"], ["/p/f4.py"], ["/p/f8.py"]]
    for _ in range(3):
        pool._hand_out(workers[2], preferred, in_flight)  # type: ignore[arg-type]
    assert workers[2].sent == ["/p/f8.py", "/p/f9.py", "/p/f10.py", "/p/f11.py"]
    pool._hand_out(workers[1], preferred, in_flight)  # type: ignore[arg-type]
    # The third is done; the first has 3 left, the second 2: it takes the second half of the first's.
    pool._hand_out(workers[2], preferred, in_flight)  # type: ignore[arg-type]
    assert workers[2].sent[-1] == "/p/f2.py"
    pool._hand_out(workers[0], preferred, in_flight)  # type: ignore[arg-type]
    assert workers[0].sent[-1] == "/p/f1.py"  # its own range now ends where the taken half begins


def walking_twice(path: str) -> tuple[str, int, float]:
    """f0 walks f11..f19 (its importers); f10, checked at the same time by the other
    worker, is then about to walk the same files: it is handed to the first worker."""
    index = int(path.rsplit("f", 1)[1].removesuffix(".py"))
    if index == 0:
        _announce[-1]([f"/p/f{i}.py" for i in range(11, 20)])
        time.sleep(0.3)
    elif index == 10:
        time.sleep(0.15)  # the parent has heard what the first worker walks
        _announce[-1]([f"/p/f{i}.py" for i in range(11, 20)])
    else:
        time.sleep(0.05)  # the other worker is still busy when the first one asks for more
    return path, os.getpid(), time.monotonic()


def test_a_file_whose_importers_another_worker_walked_is_handed_to_it() -> None:
    items = [f"/p/f{i}.py" for i in range(20)]
    results = list(run_all(walking_twice, items, jobs=2, key=str, listen=listen, may_hand_back=lambda _: True))
    assert [path for path, _, _ in results] == items  # each once, in order
    walker = results[0][1]
    assert results[10][1] == walker  # given up by the other worker, checked where f11..f19 were walked
    assert any(pid != walker for _, pid, _ in results)


def test_a_file_that_may_not_be_handed_back_is_checked_where_it_started() -> None:
    items = [f"/p/f{i}.py" for i in range(20)]
    results = list(run_all(walking_twice, items, jobs=2, key=str, listen=listen, may_hand_back=lambda _: False))
    assert [path for path, _, _ in results] == items
    assert results[10][1] != results[0][1]  # a fix may have written its file: never given up


def test_handing_back_needs_most_of_the_walk_done_elsewhere_and_happens_once() -> None:
    items = [f"/p/f{i}.py" for i in range(40)]
    pool: _Pool[str, str] = _Pool(str, items, 2, key=str, walked=None)
    first, second = FakeWorker(), FakeWorker()
    preferred: dict = {first: [], second: []}
    walked = [f"/p/f{i}.py" for i in range(20, 30)]
    pool._claim(first, walked, preferred)  # type: ignore[arg-type]
    # Half of the walk, or fewer than MIN_WALKED_ELSEWHERE files: cheaper to walk again.
    assert pool._keeps(second, 5, walked + [f"/p/f{i}.py" for i in range(30, 40)], preferred)  # type: ignore[arg-type]
    assert pool._keeps(second, 5, walked[:7], preferred)  # type: ignore[arg-type]
    # Most of it, by the other worker: handed back, pending again, kept for that worker.
    assert not pool._keeps(second, 5, walked[:9] + ["/p/f31.py"], preferred)  # type: ignore[arg-type]
    assert 5 in pool.pending and preferred[first][-1] == 5 and pool.owner[5] is first
    # Never twice: whoever gets it then walks what it must.
    assert pool._keeps(second, 5, walked, preferred)  # type: ignore[arg-type]
    # What the asking worker walked itself counts for it.
    pool._claim(second, walked, preferred)  # type: ignore[arg-type]
    assert pool._keeps(second, 6, walked, preferred)  # type: ignore[arg-type]


def test_a_file_handed_back_waits_for_its_worker_while_that_one_lives() -> None:
    items = [f"/p/f{i}.py" for i in range(16)]
    pool: _Pool[str, str] = _Pool(str, items, 2, key=str, walked=None)
    first, second = FakeWorker(), FakeWorker()
    preferred: dict = {first: [], second: []}
    in_flight: dict = {}
    pool._hand_out(first, preferred, in_flight)  # type: ignore[arg-type]
    pool._claim(first, [f"/p/f{i}.py" for i in range(1, 15)], preferred)  # type: ignore[arg-type]
    # The second worker gives f15 up for the first, which walked its importers.
    assert not pool._keeps(second, 15, [f"/p/f{i}.py" for i in range(1, 11)], preferred)  # type: ignore[arg-type]
    for index in range(1, 15):  # everything else is checked meanwhile
        pool.pending.pop(index, None)
    pool._hand_out(second, preferred, in_flight)  # type: ignore[arg-type]
    assert second.sent == [] and 15 in pool.pending  # idle: f15 is the first worker's
    pool._hand_out(first, preferred, in_flight)  # type: ignore[arg-type]
    assert first.sent[-1] == "/p/f15.py" and not pool.pending
    # A file kept for a worker that died goes to whoever asks.
    pool.pending[15] = None
    del preferred[first]
    pool._hand_out(second, preferred, in_flight)  # type: ignore[arg-type]
    assert second.sent == ["/p/f15.py"]
