"""Streaming features for frame-wise streams (``cnn_lstm``, ``resnet50_lstm``): each sampled frame goes through the
backbone once, and a prediction runs only the temporal head over the window's cached features.

A frame's features depend on the frame alone, or (with ``frame_context == 1``, the motion channel) on the frame
and the clip's previous pick; the clip's first frame sees no previous one. Features are therefore cached by
``(frame index, previous frame index or None)``: a window sliding along the run's sampling grid reuses all its
frames but the new ones (and, with context, its first). 3D CNNs keep the clip path (nothing to reuse per frame).
"""

from __future__ import annotations

import numpy as np
import torch


def is_frame_wise(model: torch.nn.Module) -> bool:
    """Whether ``model`` splits into per-frame ``frame_features`` and a ``forward_temporal`` head."""
    return callable(getattr(model, "frame_features", None)) and callable(getattr(model, "forward_temporal", None))


class FrameFeatureCache:
    """The per-frame features of one frame-wise stream over the latest window; bounded to that window."""

    def __init__(self, model: torch.nn.Module):
        if not is_frame_wise(model):
            raise ValueError(f"{type(model).__name__} has no per-frame features; use the clip path")
        self.model = model
        self.context = int(getattr(model, "frame_context", 0))
        self._features: dict[tuple[int, int | None], torch.Tensor] = {}
        self.computed = 0  # frames that went through the backbone (for tests and the bench)

    def _keys(self, frames: np.ndarray) -> list[tuple[int, int | None]]:
        previous = [None] + [int(f) for f in frames[:-1]]
        return [(int(f), p if self.context else None) for f, p in zip(frames, previous)]

    @torch.inference_mode()
    def logits(self, frames: np.ndarray, clip: torch.Tensor) -> torch.Tensor:
        """(1, C) logits of the window: ``frames`` (T,) source frame indices of ``clip`` (T, 3, S, S)."""
        keys = self._keys(frames)
        missing = [i for i, key in enumerate(keys) if key not in self._features]
        first = [i for i in missing if keys[i][1] is None]  # no previous frame: the clip's start (or no context)
        rest = [i for i in missing if keys[i][1] is not None]
        for batch, previous in ((first, None), (rest, [i - 1 for i in rest])):
            if not batch:
                continue
            x = clip[batch][:, None]  # (M, 1, 3, S, S): each missing frame as a one-frame clip
            prev = None if previous is None else clip[previous]  # (M, 3, S, S)
            f = self.model.frame_features(x, previous=prev)[:, 0]  # (M, D)
            for i, row in zip(batch, f):
                self._features[keys[i]] = row
            self.computed += len(batch)
        self._features = {key: self._features[key] for key in keys}  # keep this window's frames only
        feats = torch.stack([self._features[key] for key in keys])[None]  # (1, T, D)
        return self.model.forward_head(self.model.forward_temporal(feats))  # (1, C)
