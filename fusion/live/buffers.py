"""The two bounded ring buffers of the live demo, and the single-value slots its threads hand results through.

Both rings are filled from the same camera frames: ``pixels`` holds the RGB model's last frames already
preprocessed to its input (``(3, S, S)`` float32 each, never full-size frames) and ``keypoints`` the pose model's
last ``(V, 4)`` landmarks. Memory is fixed at construction: pushing more frames overwrites the oldest.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass
from typing import Callable, Generic, NamedTuple, TypeVar

import numpy as np

T = TypeVar("T")


class FrameRing:
    """A preallocated ring of ``capacity`` arrays of one shape; ``window(n, step)`` reads oldest → newest."""

    def __init__(self, capacity: int, item_shape: tuple[int, ...], dtype: np.dtype | type = np.float32):
        if capacity < 1:
            raise ValueError(f"ring capacity must be >= 1, got {capacity}")
        self._data = np.zeros((capacity, *item_shape), dtype)  # (N, *item_shape), allocated once
        self._head = 0  # slot the next push writes
        self._count = 0

    @property
    def capacity(self) -> int:
        return self._data.shape[0]

    @property
    def nbytes(self) -> int:
        return self._data.nbytes

    def __len__(self) -> int:
        return self._count

    def push(self, item: np.ndarray) -> None:
        self._data[self._head] = item  # copies: the caller may reuse its array
        self._head = (self._head + 1) % self.capacity
        self._count = min(self._count + 1, self.capacity)

    def window(self, length: int, step: int = 1) -> np.ndarray:
        """The newest ``length`` items taken every ``step`` pushes, oldest first: a copy ``(length, *item_shape)``."""
        span = (length - 1) * step + 1
        return self.pick(step * np.arange(length), span)

    def pick(self, offsets: np.ndarray, span: int, lag: int = 0) -> np.ndarray:
        """Items at ``offsets`` (0 = the oldest) of the ``span`` pushes that end ``lag`` pushes before the newest:
        a copy ``(len(offsets), *item_shape)``."""
        if span + lag > self._count:
            raise ValueError(f"ring holds {self._count} items, a window of {span} frames needs all of them")
        oldest = (self._head - span - lag) % self.capacity
        return self._data[(oldest + np.asarray(offsets)) % self.capacity]

    def clear(self) -> None:
        self._head = self._count = 0


class Snapshot(NamedTuple):
    """What the inference worker gets: both windows ending at the same frame (``None`` for a stream not in use)."""

    frame_index: int
    timestamp: float
    video: np.ndarray | None  # (T, 3, S, S) float32, normalised
    keypoints: np.ndarray | None  # (T, V, 4) float32
    frames: dict[str, np.ndarray] = {}  # "video" / "keypoints" → (T,) source frame index of each item handed on


@dataclass(frozen=True)
class BufferSpec:
    """One stream's window: the last ``span`` frames, of which the model gets those at ``offsets`` (0 = the
    oldest), each item of ``item_shape``. ``BufferSpec.every(length, shape, step)``: ``length`` frames every
    ``step`` ending at the newest; ``datasets.sampling.Sampling.live_window`` gives the run's own."""

    item_shape: tuple[int, ...]
    offsets: tuple[int, ...]
    span: int
    grid: bool = False
    """Slide in whole steps: the window ends on the newest frame of a fixed grid (every ``step``-th frame since
    the first full window), so consecutive windows share all their picks but the new ones — what a stream
    whose per-frame features are cached needs (``fusion.features.FrameFeatureCache``)."""

    def __post_init__(self) -> None:
        if not self.offsets or min(self.offsets) < 0 or max(self.offsets) >= self.span:
            raise ValueError(f"window offsets must lie in 0..span-1 = {self.span - 1}, got {self.offsets}")

    @classmethod
    def every(cls, length: int, item_shape: tuple[int, ...], step: int = 1) -> BufferSpec:
        if length < 1 or step < 1:
            raise ValueError(f"window length and step must be >= 1, got length={length} step={step}")
        return cls(tuple(item_shape), tuple(range(0, (length - 1) * step + 1, step)), (length - 1) * step + 1)

    @property
    def length(self) -> int:
        """Frames handed to the model."""
        return len(self.offsets)

    @property
    def step(self) -> int:
        """Frames between two picks."""
        return self.offsets[1] - self.offsets[0] if len(self.offsets) > 1 else 1

    @property
    def capacity(self) -> int:
        """Frames the ring keeps: the span, plus the frames since the last grid frame when it slides on a grid."""
        return self.span + (self.step - 1 if self.grid else 0)


class _StreamRing:
    """One stream's ring and the source frame index of each item it holds. A stream that slides on a grid whose
    picks share one residue modulo its step (``sparse``) keeps only the frames on that lattice: a window never
    picks the others, so they are never preprocessed and the ring holds about ``clip_len`` items."""

    def __init__(self, spec: BufferSpec):
        self.spec = spec
        self.sparse = spec.grid and len({o % spec.step for o in spec.offsets}) == 1
        capacity = (spec.capacity + spec.step - 1) // spec.step + 1 if self.sparse else spec.capacity
        self.items = FrameRing(capacity, spec.item_shape)
        self.indices = FrameRing(capacity, (), np.int64)
        self.last = None  # source index of the newest frame kept

    def held(self) -> np.ndarray:
        """(N,) source frame indices of the items held, oldest first."""
        return self.indices.window(len(self.indices))

    def clear(self) -> None:
        self.items.clear()
        self.indices.clear()
        self.last = None


class DualFrameBuffer:
    """Two bounded rings (pixels for the RGB stream, landmarks for the pose stream) filled from the same frames.

    A stream the run does not use gets ``None`` for its spec: nothing is allocated or stored for it. Windows are
    placed in the source's time, not in pushes: each frame is pushed with its source frame index (its media time
    × fps, counting the frames a slow machine dropped), and a window takes, for each pick, the held frame
    nearest to it. With no drop that is exactly the frames at ``offsets``; with drops the window still spans the
    run's seconds instead of stretching over ``span`` pushes. A stream on a grid keeps only the frames its windows
    can pick (``wants``; after a dropped one, the next frame that arrives).
    """

    def __init__(self, video: BufferSpec | None, keypoints: BufferSpec | None):
        if video is None and keypoints is None:
            raise ValueError("DualFrameBuffer needs at least one of video / keypoints")
        self.video_spec, self.keypoint_spec = video, keypoints
        self._streams = {key: _StreamRing(spec) for key, spec in (("video", video), ("keypoints", keypoints))
                         if spec is not None}
        self.video = self._streams["video"].items if video else None
        self.keypoints = self._streams["keypoints"].items if keypoints else None
        self._first = self._frame_index = -1  # source index of the first and the newest frame pushed
        self._timestamp = 0.0

    @property
    def nbytes(self) -> int:
        return sum(s.items.nbytes for s in self._streams.values())

    @property
    def started(self) -> bool:
        """True once a frame was pushed."""
        return self._first >= 0

    @property
    def ready(self) -> bool:
        """True once every ring in use holds frames from the start of its window on."""
        return self._first >= 0 and all(len(s.indices) and s.held()[0] <= self._targets(s.spec)[0]
                                         for s in self._streams.values())

    def wants(self, key: str, frame_index: int) -> bool:
        """Whether stream ``key`` keeps source frame ``frame_index`` (always, unless it is sparse): the caller
        may skip preprocessing a frame it would not keep."""
        stream = self._streams[key]
        if not stream.sparse:
            return True
        anchor = frame_index if self._first < 0 else self._first
        step = stream.spec.step
        point = frame_index - (frame_index - anchor - stream.spec.offsets[0]) % step  # latest pick point so far
        return point > (anchor - 1 if stream.last is None else stream.last)

    def push(self, frame_index: int, timestamp: float, video: np.ndarray | None = None,
             keypoints: np.ndarray | None = None) -> None:
        """Add source frame ``frame_index`` (increasing; gaps are dropped frames): ``video`` (3, S, S) preprocessed
        pixels, ``keypoints`` (V, 4); each needed iff in use and ``wants`` it (a sparse stream ignores the rest)."""
        if frame_index <= self._frame_index:
            raise ValueError(f"frame indices must increase: got {frame_index} after {self._frame_index}")
        for key, item in (("video", video), ("keypoints", keypoints)):
            if key in self._streams and self.wants(key, frame_index):
                if item is None:
                    raise ValueError(f"this buffer stores {key}: pass {key}= for the frames it wants")
                stream = self._streams[key]
                stream.items.push(item)
                stream.indices.push(frame_index)
                stream.last = frame_index
        if self._first < 0:
            self._first = frame_index
        self._frame_index, self._timestamp = frame_index, timestamp

    def _targets(self, spec: BufferSpec) -> np.ndarray:
        """(T,) source frame indices ``spec``'s window should pick: ending at the newest frame, or on a grid every
        ``step`` frames from the first (a frame-wise stream: consecutive windows share their picks)."""
        lag = (self._frame_index - self._first + 1 - spec.span) % spec.step if spec.grid else 0
        return self._frame_index - lag - spec.span + 1 + np.asarray(spec.offsets)

    @staticmethod
    def _nearest(stream: _StreamRing, targets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The held frames nearest to source frames ``targets`` (ties: the earlier): items (T, ...) and indices."""
        held = stream.held()
        after = np.clip(np.searchsorted(held, targets), 0, len(held) - 1)  # first held >= target (or the last)
        before = np.maximum(after - 1, 0)
        nearest = np.where(np.abs(held[before] - targets) <= np.abs(held[after] - targets), before, after)
        return stream.items.pick(nearest, len(held)), held[nearest]

    def snapshot(self) -> Snapshot:
        """Copies of both full windows, oldest → newest, ending at the last pushed frame."""
        if not self.ready:
            raise ValueError("buffer is not full yet: check .ready before taking a snapshot")
        return self._snapshot({key: self._targets(stream.spec) for key, stream in self._streams.items()})

    def snapshot_short(self, picks: Callable[[str, int], np.ndarray]) -> Snapshot:
        """For a source that ended before the windows were full: each stream's frames at ``picks(key, n)``, offsets
        (T,) into the ``n`` source frames pushed so far (0 = the first) — what evaluation picks in a video that
        short (``datasets.sampling.Sampling.short_picks``)."""
        if self._first < 0:
            raise ValueError("buffer is empty: no frame was pushed")
        count = self._frame_index - self._first + 1
        return self._snapshot({key: self._first + np.asarray(picks(key, count), np.int64) for key in self._streams})

    def _snapshot(self, targets: dict[str, np.ndarray]) -> Snapshot:
        windows = {key: self._nearest(self._streams[key], t) for key, t in targets.items()}
        items = {key: w[0] for key, w in windows.items()}
        return Snapshot(self._frame_index, self._timestamp, items.get("video"), items.get("keypoints"),
                        {key: w[1] for key, w in windows.items()})

    def clear(self) -> None:
        for stream in self._streams.values():
            stream.clear()
        self._first = self._frame_index = -1


class LatestSlot(Generic[T]):
    """A lock-protected hand-over between two threads: ``put`` overwrites (counting what was never taken), ``take``
    empties.

    This is how the capture thread hands frames on and the inference worker hands results back: a slow
    consumer makes the producer overwrite (drop), never queue without bound. ``maxlen=None`` makes it a FIFO that
    drops nothing, for a producer that bounds what is in flight itself (the pose lanes' frames, in order).
    """

    def __init__(self, maxlen: int | None = 1) -> None:
        self._cond = threading.Condition()
        self._items: deque[T] = deque()
        self._maxlen = maxlen
        self._last: T | None = None
        self.overwritten = 0  # values put but never taken

    def put(self, value: T) -> None:
        with self._cond:
            if self._maxlen is not None and len(self._items) >= self._maxlen:
                self._items.popleft()
                self.overwritten += 1
            self._items.append(value)
            self._last = value
            self._cond.notify_all()

    def peek(self) -> T | None:
        """The latest value (taken or not) without consuming it; ``None`` before the first ``put``."""
        with self._cond:
            return self._last

    def take(self, timeout: float | None = None) -> T | None:
        """Wait up to ``timeout`` s for a value not yet taken; return the oldest (or ``None`` on timeout)."""
        with self._cond:
            if not self._cond.wait_for(lambda: self._items, timeout):
                return None
            value = self._items.popleft()
            self._cond.notify_all()  # a producer in wait_taken() may go on
            return value

    def take_until(self, done: threading.Event | None, timeout: float = 0.1) -> tuple[T | None, bool]:
        """``take(timeout)`` from a producer that sets ``done`` when it stops: ``(value, False)``, ``(None, False)``
        on a timeout while it runs, ``(None, True)`` once it is done and no value is left (a value put just
        before ``done`` was set is still returned)."""
        value = self.take(timeout)
        if value is None and done is not None and done.is_set():
            value = self.take(timeout=0)
            return value, value is None
        return value, False

    def wait_taken(self, timeout: float | None = None) -> bool:
        """Wait until the current value has been taken (for a lossless producer); False on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._items, timeout)

    def wake(self) -> None:
        """Wake every waiter (used on shutdown; they see no fresh value and return ``None``)."""
        with self._cond:
            self._cond.notify_all()
