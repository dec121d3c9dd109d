"""Run the per-file checks on all cores, results in order.

Workers are handed files one at a time, and each file preferably to the worker that
already walked it. Checking a module walks the project files that import it (their
findings may land in it), so a worker that checked ``modeling_utils.py`` has walked
hundreds of model files already: checking them there is nearly free, elsewhere it is
the whole walk again. Handing out fixed chunks, each worker ended up walking most of a
large project itself (``--jobs 2`` took 1.7x the CPU time of ``--jobs 1`` on the
benchmark corpus).

Otherwise each worker takes the files of its own contiguous range of the (sorted) list,
and one that runs out takes the second half of the largest range left: files of one
directory import each other and the same modules, and each process has to walk what its
files import. Handing out the next file of one shared list split every directory
between the workers, and both walked most of every package's imports.

A worker that is about to walk the importers of the file it checks asks first, when the
file may be handed back: if another worker has walked most of them already (checking
``pytorch_utils.py`` after the other one walked ``modeling_utils.py``'s 277 importers,
the same model files), the file goes to that worker, where its walk is nearly free. On
the benchmark corpus, at ``--jobs 2``, this took the files walked by both workers from
87 to 28, and the CPU time of the checks from 13.1 s to 11.1 s.

Which worker checks a file never changes its findings: they do not depend on the order
files are checked in.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from multiprocessing.connection import Connection, wait
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")

# Below this many files per worker, starting processes costs more than it saves.
MIN_FILES_PER_JOB = 8
# A file is handed back when another worker walked at least this many of the files its
# check is about to walk, and more than half of them: fewer are cheaper to walk again
# than the start of the check that is given up.
MIN_WALKED_ELSEWHERE = 8


class HandBack(BaseException):
    """Raised in a worker, out of the check in progress, when the parent gives its file to
    another worker. A BaseException: the check's own ``except Exception`` (which turns
    internal errors into a note) must not catch it."""


def default_jobs() -> int:
    try:
        return max(len(os.sched_getaffinity(0)), 1)
    except (AttributeError, OSError):
        return os.cpu_count() or 1


Listen = Callable[[Callable[[list[str]], None]], None]


def run_all(func: Callable[[T], R], items: Sequence[T], jobs: int, key: Callable[[T], str] | None = None,
            walked: Callable[[], Iterable[str]] | None = None, listen: Listen | None = None,
            may_hand_back: Callable[[T], bool] | None = None) -> Iterator[R]:
    """``map(func, items)`` in the order of ``items``, in ``jobs`` processes when worth it.

    ``key`` names an item's file and ``walked``, called in a worker after each item, the
    files it has walked since: a file goes to a worker that walked it when one did.
    ``listen`` registers, in a worker, a callback told the files it is about to walk
    while it checks an item: they are kept for that worker from then on, unless the item
    is one ``may_hand_back`` allows to give up (``func`` must then have no effect before
    the callback is told, and not catch :class:`HandBack`) and another worker walked most
    of them: the callback raises HandBack and the item goes to that worker. ``func``
    must not raise (a worker that dies has its item run here instead).
    """
    workers = min(jobs, len(items) // MIN_FILES_PER_JOB)
    if workers <= 1:
        yield from map(func, items)
        return
    yield from _Pool(func, items, workers, key, walked, listen, may_hand_back).results()


class _Pool(Generic[T, R]):
    def __init__(self, func: Callable[[T], R], items: Sequence[T], workers: int,
                 key: Callable[[T], str] | None, walked: Callable[[], Iterable[str]] | None,
                 listen: Listen | None = None, may_hand_back: Callable[[T], bool] | None = None) -> None:
        self.func = func
        self.items = items
        self.workers = workers
        self.walked = walked
        self.listen = listen
        self.may_hand_back = may_hand_back
        self.pending = dict.fromkeys(range(len(items)))  # insertion-ordered set of indices
        self.by_key: dict[str, int] = {}
        if key is not None:
            for index, item in enumerate(items):
                self.by_key.setdefault(os.path.abspath(key(item)), index)
        self.done: dict[int, R] = {}
        self.owner: dict[int, Connection] = {}  # the first worker that walked a pending file
        self.walkers: dict[str, set[Connection]] = {}  # every file walked or being walked: by whom
        self.handed_back: set[int] = set()  # given up once: never again
        # Each worker's range of items: [next index to look at, end).
        self.ranges: dict[Connection, list[int]] = {}

    def results(self) -> Iterator[R]:
        # fork starts workers in milliseconds with everything already imported (Linux only).
        context = multiprocessing.get_context("fork") if sys.platform.startswith("linux") else (
            multiprocessing.get_context("spawn"))
        connections: dict[Connection, multiprocessing.process.BaseProcess] = {}
        preferred: dict[Connection, list[int]] = {}
        in_flight: dict[Connection, int] = {}
        for _ in range(self.workers):
            parent, child = context.Pipe()
            process = context.Process(target=_serve, args=(child, self.func, self.walked, self.listen,
                                                           self.may_hand_back), daemon=True)
            process.start()
            child.close()
            connections[parent] = process
            preferred[parent] = []
        try:
            for connection in connections:
                self._hand_out(connection, preferred, in_flight)
            following = 0
            while following < len(self.items):
                while following in self.done:
                    yield self.done.pop(following)
                    following += 1
                if following >= len(self.items):
                    break
                if not in_flight:  # every worker is gone: the rest here
                    for index in list(self.pending):
                        del self.pending[index]
                        self.done[index] = self.func(self.items[index])
                    continue
                for ready in wait(list(in_flight)):
                    assert isinstance(ready, Connection)
                    try:
                        message = ready.recv()
                    except (EOFError, OSError):  # the worker died: its file is checked here
                        index = in_flight.pop(ready)
                        self.done[index] = self.func(self.items[index])
                        connections.pop(ready).join(timeout=1)
                        preferred.pop(ready, None)  # what it walked is gone with it
                        continue
                    if message[0] == _WALKING:  # still checking its file
                        _, paths, asks = message
                        keep = not asks or self._keeps(ready, in_flight[ready], paths, preferred)
                        if keep:
                            self._claim(ready, paths, preferred)
                        if asks:
                            self._answer(ready, keep)
                        continue
                    index = in_flight.pop(ready)
                    if message[0] == _HANDED_BACK:  # now pending again, kept for the other worker
                        for idle in [c for c in connections if c not in in_flight and c is not ready]:
                            self._hand_out(idle, preferred, in_flight)
                        self._hand_out(ready, preferred, in_flight)
                        continue
                    _, result, walked = message
                    self.done[index] = result
                    self._claim(ready, walked, preferred)
                    self._hand_out(ready, preferred, in_flight)
        finally:
            for connection in connections:
                with contextlib.suppress(OSError):
                    connection.send(None)
                connection.close()
            for worker in connections.values():
                worker.join(timeout=5)
                if worker.is_alive():
                    worker.terminate()

    def _keeps(self, connection: Connection, index: int, paths: list[str],
               preferred: dict[Connection, list[int]]) -> bool:
        """Whether the worker checking item ``index`` is to walk ``paths`` itself; if not,
        the item is pending again, kept for the worker that walked most of them."""
        if index in self.handed_back:
            return True
        elsewhere: dict[Connection, int] = {}
        mine = 0
        for path in paths:
            walkers = self.walkers.get(path, ())
            if connection in walkers:
                mine += 1
            for other in walkers:
                if other is not connection and other in preferred:
                    elsewhere[other] = elsewhere.get(other, 0) + 1
        if not elsewhere:
            return True
        other, count = max(elsewhere.items(), key=lambda pair: pair[1])
        if count < MIN_WALKED_ELSEWHERE or 2 * count <= len(paths) or mine >= count:
            return True
        self.handed_back.add(index)
        self.pending[index] = None
        self.owner[index] = other
        preferred[other].append(index)
        return False

    @staticmethod
    def _answer(connection: Connection, keep: bool) -> None:
        with contextlib.suppress(OSError):  # a worker gone: its item is checked here
            connection.send(keep)

    def _claim(self, connection: Connection, paths: Iterable[str], preferred: dict[Connection, list[int]]) -> None:
        """Files a worker walked or is walking: handed to it first, to others last."""
        for path in paths:
            self.walkers.setdefault(path, set()).add(connection)
            index = self.by_key.get(path)
            if index is not None and index in self.pending:
                preferred[connection].append(index)
                self.owner.setdefault(index, connection)

    def _hand_out(self, connection: Connection, preferred: dict[Connection, list[int]],
                  in_flight: dict[Connection, int]) -> None:
        """The next file for a worker: one it walked, else the next one of its range that
        no other worker walked (taking half of the largest range left when its own is
        done), else the first one no other worker walked, else the first one left."""
        index = None
        mine = preferred[connection]
        while mine and index is None:
            candidate = mine.pop()
            if candidate in self.pending and (candidate not in self.handed_back or self.owner[candidate] is connection):
                index = candidate  # (one it gave up is the other worker's)
        if index is None:
            index = self._next_in_range(connection)
        if index is None:
            index = next((i for i in self.pending if self.owner.get(i, connection) is connection), None)
        if index is None:
            index = next((i for i in self.pending if not self._kept_for_another(i, connection, preferred)), None)
        if index is None:  # only files handed back to a busy worker are left: they wait for it
            return
        del self.pending[index]
        try:
            connection.send(self.items[index])
        except OSError:  # the worker died: checked here
            self.done[index] = self.func(self.items[index])
            return
        in_flight[connection] = index

    def _kept_for_another(self, index: int, connection: Connection,
                          preferred: dict[Connection, list[int]]) -> bool:
        """Whether ``index`` was handed back to another worker that is still alive. An idle
        worker does not take such a file back: its owner has walked what the check walks
        (nearly free there), and taking it when the owner was a moment from done made
        the run's last 1.4 s on the benchmark corpus (``pytorch_utils.py`` walking its
        importers again)."""
        if index not in self.handed_back:
            return False
        owner = self.owner.get(index)
        return owner is not None and owner is not connection and owner in preferred

    def _next_in_range(self, connection: Connection) -> int | None:
        span = self.ranges.get(connection)
        if span is None:  # the k-th worker asking starts at the k-th of equal slices
            k = len(self.ranges)
            span = self.ranges[connection] = [k * len(self.items) // self.workers,
                                              (k + 1) * len(self.items) // self.workers]
        while True:
            while span[0] < span[1]:
                index = span[0]
                span[0] += 1
                if index in self.pending and self.owner.get(index, connection) is connection:
                    return index
            if not self._take_half(span):
                return None

    def _take_half(self, span: list[int]) -> bool:
        """Make ``span`` (exhausted) the second half of the pending items of the largest range
        left. The items a range has scanned are behind its start, so each call leaves fewer
        pending items in ranges: taking halves ends."""
        largest: list[int] | None = None
        left: list[int] = []
        for other in self.ranges.values():
            if other is span:
                continue
            waiting = [i for i in range(other[0], other[1]) if i in self.pending]
            if len(waiting) > len(left):
                largest, left = other, waiting
        if largest is None or len(left) < 2:
            return False
        middle = left[len(left) // 2]
        span[0], span[1] = middle, largest[1]
        largest[1] = middle
        return True


_WALKING, _DONE, _HANDED_BACK = "walking", "done", "handed back"


def _serve(connection: Connection, func: Callable[[T], R], walked: Callable[[], Iterable[str]] | None,
           listen: Listen | None, may_hand_back: Callable[[T], bool] | None = None) -> None:
    """A worker: check each item received, answer (DONE, result, files walked since), and
    tell (WALKING, files, asks) as soon as it knows it will walk them; when it asks (the
    item may be handed back), wait for the parent's answer: False gives the item up
    (HANDED_BACK)."""
    asks = False

    def walking(paths: list[str]) -> None:
        connection.send((_WALKING, paths, asks))
        if asks and connection.recv() is False:
            raise HandBack

    if listen is not None:
        listen(walking)
    try:
        while True:
            item = connection.recv()
            if item is None:
                return
            asks = may_hand_back is not None and may_hand_back(item)
            try:
                result = func(item)
            except HandBack:
                connection.send((_HANDED_BACK,))
                continue
            finally:
                asks = False
            connection.send((_DONE, result, list(walked()) if walked is not None else []))
    except (EOFError, KeyboardInterrupt, BrokenPipeError):
        return
