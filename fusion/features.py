"""Streaming features for frame-wise streams (``cnn_lstm``, ``resnet50_lstm``): each sampled frame goes through the
backbone once, and a prediction runs only the temporal head over the window's cached features.

A frame's features depend on the frame alone, or (with ``frame_context == 1``, the motion channel) on the frame
and the clip's previous pick; the clip's first frame sees no previous one. Features are therefore cached by
``(frame index, previous frame index or None)``: a window sliding along the run's sampling grid reuses all its
frames but the new ones (and, with context, its first). 3D CNNs keep the clip path (nothing to reuse per frame).
The cache drives a ``fusion.backends`` backend, so a torch module and an ONNX export's split stream alike.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from twostream.fusion.backends import StreamBackend, TorchBackend, is_frame_wise

__all__ = ["FrameFeatureCache", "is_frame_wise"]


class FrameFeatureCache:
    """The per-frame features of one frame-wise stream over the latest window; bounded to that window."""

    def __init__(self, backend: StreamBackend | torch.nn.Module, chunk: int = 4):
        if isinstance(backend, torch.nn.Module):
            backend = TorchBackend(backend)
        if not backend.frame_wise:
            raise ValueError(f"{type(getattr(backend, 'model', backend)).__name__} has no per-frame features; "
                             "use the clip path")
        self.backend, self.context = backend, backend.frame_context
        self.chunk = chunk  # frames per backbone call when many are new (the first window: all of them)
        self._features: dict[tuple[int, int | None], np.ndarray] = {}
        self._last: tuple[tuple, np.ndarray] | None = None  # the latest window's keys and logits
        self.computed = 0  # frames that went through the backbone (for tests and the bench)

    def _keys(self, frames: np.ndarray) -> list[tuple[int, int | None]]:
        previous = [None] + [int(f) for f in frames[:-1]]
        return [(int(f), p if self.context else None) for f, p in zip(frames, previous)]

    def logits(self, frames: np.ndarray, clip: Any) -> np.ndarray:
        """(1, C) logits of the window: ``frames`` (T,) source frame indices of ``clip`` (T, 3, S, S)."""
        keys = self._keys(np.asarray(frames))
        if self._last is not None and self._last[0] == tuple(keys):
            return self._last[1]  # the same window (it slides in whole steps): the head's answer is the same
        clip = np.asarray(clip, dtype=np.float32)
        missing = [i for i, key in enumerate(keys) if key not in self._features]
        first = [i for i in missing if keys[i][1] is None]  # no previous frame: the clip's start (or no context)
        rest = [i for i in missing if keys[i][1] is not None]
        for todo, previous in ((first, None), (rest, [i - 1 for i in rest])):
            for start in range(0, len(todo), self.chunk):  # a few frames at a time: bounded activation memory
                batch = todo[start:start + self.chunk]
                prev = None if previous is None else clip[previous[start:start + self.chunk]]  # (M, 3, S, S)
                f = self.backend.frame_features(clip[batch], prev)  # (M, 3, S, S) -> (M, D)
                for i, row in zip(batch, f):
                    self._features[keys[i]] = row.copy()  # not a view that keeps the whole batch alive
                self.computed += len(batch)
        self._features = {key: self._features[key] for key in keys}  # keep this window's frames only
        feats = np.stack([self._features[key] for key in keys])[None]  # (1, T, D)
        self._last = (tuple(keys), self.backend.head_logits(feats))  # (1, C)
        return self._last[1]
