"""Scheduling, the live engine's second stage: when a window is due for inference (every ``stride`` frames once
the buffers are full, at most ``max_hz``), and the worker thread that runs inference off the frame loop.

The frame loop hands the worker the newest snapshot through a single-value ``LatestSlot``: a worker still busy
with the previous one makes the loop overwrite (a skipped inference, counted), never queue.
"""

from __future__ import annotations

import threading
import time
from typing import Callable, Generic, TypeVar

from twostream.fusion.live.buffers import LatestSlot
from twostream.fusion.live.records import LiveConfig

T = TypeVar("T")


class Schedule:
    """Whether the frame just ingested makes a prediction due."""

    def __init__(self, config: LiveConfig):
        self.stride, self.max_hz = config.stride, config.max_hz
        self._since = 1 << 30  # the first full window is due at once
        self._last = -float("inf")

    def due(self, ready: bool) -> bool:
        """Count one frame; True when the buffers are ``ready`` and ``stride`` frames (and ``1 / max_hz`` s) have
        passed since the last due one."""
        self._since += 1
        if not ready or self._since < self.stride:
            return False
        now = time.perf_counter()
        if self.max_hz is not None and now - self._last < 1.0 / self.max_hz:
            return False
        self._since, self._last = 0, now
        return True


class Worker(threading.Thread, Generic[T]):
    """Takes the newest request from ``requests`` and runs ``handle`` on it until ``stop``; the first error ends
    it and is kept in ``error`` for the engine to raise after the shutdown."""

    def __init__(self, requests: LatestSlot[T], handle: Callable[[T], None]):
        super().__init__(name="twostream-inference", daemon=True)
        self.requests, self.handle = requests, handle
        self.error: BaseException | None = None
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.is_set():
            request = self.requests.take(timeout=0.1)
            if request is None:
                continue
            try:
                self.handle(request)
            except BaseException as exc:  # reported by the engine after the shutdown
                self.error = exc
                return

    def stop(self) -> None:
        self._stop_event.set()
        self.requests.wake()
