"""Asynchronous results for CUDA tensors: no host-device synchronisation on the training path.

The statistics of a call are stacked into one small float64 device tensor, copied with
``non_blocking=True`` into pinned host memory, and followed by a CUDA event. The call site
and the plan are captured as plain Python values at call time. Later guarded calls poll
the oldest events (``Event.query()`` never blocks) and report what has finished; ``flush()``,
``uninstall()`` and interpreter exit wait for the rest. Nothing here references the user's
tensors: only the flag buffer.
"""

from __future__ import annotations

import contextlib
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import torch


class EventLike(Protocol):
    def query(self) -> bool: ...

    def synchronize(self) -> None: ...


@dataclass
class PendingCheck:
    event: EventLike
    host: torch.Tensor  # pinned float64 buffer the flags are copied into
    keys: list[str]
    context: Any  # (plan, site, config): plain host values
    deliver: Callable[[dict[str, float], Any], None]

    def values(self) -> dict[str, float]:
        return dict(zip(self.keys, self.host.tolist()))


class PendingQueue:
    """FIFO of checks whose flags are still on their way to the host."""

    MAX_PENDING = 256  # beyond this, wait for the oldest (bounds pinned memory)

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: deque[PendingCheck] = deque()

    def __len__(self) -> int:
        return len(self._items)

    def __bool__(self) -> bool:  # checked on every guarded call: keep it a plain attribute test
        return bool(self._items)

    def push(self, item: PendingCheck) -> None:
        with self._lock:
            self._items.append(item)
            overflow = len(self._items) > self.MAX_PENDING
        if overflow:
            self.poll(wait_for_one=True)

    def poll(self, wait_for_one: bool = False) -> None:
        """Report every finished check at the head of the queue, in call order."""
        while True:
            with self._lock:
                if not self._items:
                    return
                head = self._items[0]
                if wait_for_one:
                    head.event.synchronize()
                    wait_for_one = False
                elif not head.event.query():
                    return
                self._items.popleft()
            head.deliver(head.values(), head.context)

    def drain(self) -> None:
        """Wait for and report everything (flush / uninstall / exit)."""
        while True:
            with self._lock:
                if not self._items:
                    return
                head = self._items.popleft()
            # A CUDA error (e.g. a device-side assert from the very target we flagged) makes
            # the event unusable; the copy ahead of it in the stream has landed.
            with contextlib.suppress(RuntimeError):
                head.event.synchronize()
            head.deliver(head.values(), head.context)


def enqueue_cuda(
    queue: PendingQueue,
    flags: torch.Tensor,
    keys: list[str],
    context: Any,
    deliver: Callable[[dict[str, float], Any], None],
) -> None:
    """Start the asynchronous copy of ``flags`` and remember what to do when it lands."""
    host = torch.empty(flags.shape, dtype=flags.dtype, pin_memory=True)
    host.copy_(flags, non_blocking=True)
    event = torch.cuda.Event()
    event.record()
    queue.push(PendingCheck(event, host, keys, context, deliver))
