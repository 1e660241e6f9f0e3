"""The one interface every stream model has: what it eats (``InputSpec``) and ``forward_features`` / ``forward_head``."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import nn

from twostream.datasets.sampling import Sampling

# The normalisation constants live with the transforms that use them; re-exported for the model builders.
from twostream.datasets.transforms import IMAGENET_MEAN, IMAGENET_STD, KINETICS_MEAN, KINETICS_STD  # noqa: F401


@dataclass(frozen=True)
class InputSpec:
    """What a stream needs from a sample, so the loop, fusion and the live demo never hard-code 112 or 224."""

    key: str
    """Sample key the stream reads: ``"video"`` (T, C, H, W) or ``"keypoints"`` (T, M, V, 4)."""
    clip_len: int
    """Frames per clip, picked with ``datasets.sampling.uniform_indices``."""
    size: int | None = None
    """Square side in pixels after resize + centre crop (video only)."""
    mean: tuple[float, float, float] | None = None
    """Per-channel RGB mean on 0..1 pixels (video only)."""
    std: tuple[float, float, float] | None = None
    """Per-channel RGB std on 0..1 pixels (video only)."""
    layout: str | None = None
    """Joint layout name, e.g. ``"mediapipe_33"`` (keypoints only)."""
    persons: int | None = None
    """Person slots M per keypoint clip (keypoints only): slot 0 the main actor, an absent one all zeros. The
    model also takes a 4-D ``(B, T, V, 4)`` clip as M = 1."""
    sampling: Sampling = Sampling()
    """How the run picked its clips' frames and over how many seconds (its time scale): set by training from
    ``--sampling`` / ``--frame-interval`` and the training videos, stored in the checkpoint, read by evaluation,
    ``predict``, the live demo, ONNX exports and the timeline. A freshly built model has the default (segment,
    span unknown)."""

    def __post_init__(self) -> None:
        if self.key not in ("video", "keypoints"):
            raise ValueError(f"InputSpec.key must be 'video' or 'keypoints', got {self.key!r}")
        if self.clip_len < 1:
            raise ValueError(f"InputSpec.clip_len must be >= 1, got {self.clip_len}")
        if self.key == "video" and (self.size is None or self.size < 1):
            raise ValueError(f"a video InputSpec needs a positive size, got {self.size!r}")

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types (``export.json``, ``config.json``); ``from_dict`` reads it back."""
        return asdict(self)

    @classmethod
    def from_dict(cls, record: dict[str, Any]) -> InputSpec:
        """The spec as ``to_dict`` wrote it (lists back to tuples; no ``sampling`` → the default)."""
        record = dict(record)
        for name in ("mean", "std"):
            if record.get(name) is not None:
                record[name] = tuple(record[name])
        record["sampling"] = Sampling.from_dict(record.get("sampling"))
        return cls(**record)


class Stream(nn.Module):
    """Base of every stream: ``forward(x) = forward_head(forward_features(x))``.

    Subclasses set ``input_spec``, ``num_features`` and ``num_classes`` in ``__init__`` and implement
    ``forward_features(x) -> (B, F)``; the default head is ``self.head`` (a module mapping F → C).
    """

    input_spec: InputSpec
    num_features: int
    num_classes: int

    @property
    def input_keys(self) -> tuple[str, ...]:
        """Sample keys passed positionally to ``forward``, in order: ``model(*(batch[k] for k in input_keys))``."""
        return (self.input_spec.key,)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def forward_head(self, f: torch.Tensor) -> torch.Tensor:
        return self.head(f)  # (B, C)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))  # (B, C)


def to_channels_last(model: nn.Module) -> None:
    """Convolution weights in channels-last order (2D convs ``channels_last``, 3D convs ``channels_last_3d``): the
    layout cuDNN's and oneDNN's fast kernels take. The values are unchanged."""
    for module in model.modules():
        if isinstance(module, nn.Conv2d):
            module.to(memory_format=torch.channels_last)
        elif isinstance(module, nn.Conv3d):
            module.to(memory_format=torch.channels_last_3d)
