"""Frames → normalised tensors: the ONE evaluation preprocessing, and its training variant.

``frames_to_tensor`` is used by evaluation, ``predict`` and the live demo alike, so a model sees the same
function everywhere. The training variant draws one random resized crop, one flip and one colour jitter per
clip from a seeded ``torch.Generator`` and applies them to every frame (a clip must stay temporally coherent).
``mirror_keypoints`` is the one keypoint mirror that matches the flip.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import torch
from torchvision.transforms.v2 import functional as F

# ImageNet statistics (torchvision image classification weights, used by 2D backbones: fc, cnn_lstm, resnet50).
IMAGENET_MEAN: tuple[float, float, float] = (0.485, 0.456, 0.406)
IMAGENET_STD: tuple[float, float, float] = (0.229, 0.224, 0.225)
# Kinetics-400 statistics (torchvision video weights: r3d_18, r2plus1d_18, mc3_18).
KINETICS_MEAN: tuple[float, float, float] = (0.43216, 0.394666, 0.37645)
KINETICS_STD: tuple[float, float, float] = (0.22803, 0.22145, 0.216989)


def _to_tchw(frames: np.ndarray | torch.Tensor) -> torch.Tensor:
    x = torch.as_tensor(frames)
    if x.ndim != 4 or x.shape[-1] != 3 or x.dtype != torch.uint8:
        raise ValueError(f"frames must be uint8 (T, H, W, 3) RGB, got {x.dtype} {tuple(x.shape)}")
    return x.permute(0, 3, 1, 2)  # (T, 3, H, W)


def _normalise(x: torch.Tensor, mean, std) -> torch.Tensor:
    x = F.to_dtype(x, torch.float32, scale=True)  # (T, 3, S, S) in [0, 1]
    return F.normalize(x, mean=list(mean), std=list(std)).contiguous()


def frames_to_tensor(frames: np.ndarray | torch.Tensor, size: int, mean, std) -> torch.Tensor:
    """uint8 (T, H, W, 3) RGB → float32 (T, 3, size, size): resize the short side to ``size``, centre crop,
    scale to [0, 1] and normalise with ``mean``/``std`` (per channel, RGB order)."""
    x = _to_tchw(frames)
    x = F.resize(x, [size], antialias=True)  # (T, 3, >=size, >=size), short side == size
    x = F.center_crop(x, [size, size])  # (T, 3, size, size)
    return _normalise(x, mean, std)


def mirror_keypoints(keypoints: np.ndarray, flip_permutation: Sequence[int]) -> np.ndarray:
    """Keypoints of the horizontally flipped frame, ``(..., V, 4) -> (..., V, 4)`` (a new array).

    x → 1 − x (x is normalised to the frame) and left/right joints swapped: the joint at ``j`` in the result is
    the mirror image of the joint at ``flip_permutation[j]`` (``JointLayout.flip``). Absent joints (all four
    values 0) stay all zero. The ONE keypoint mirror: the RGB+keypoint clips, the skeleton augmentation and
    ``pose.skeleton.flip_keypoints`` all call it, so a mirrored frame and its mirrored keypoints always agree.
    """
    if len(flip_permutation) != keypoints.shape[-2]:
        raise ValueError(f"flip permutation has {len(flip_permutation)} joints, keypoints have "
                         f"{keypoints.shape[-2]} (shape {keypoints.shape})")
    out = keypoints[..., list(flip_permutation), :].copy()  # (..., V, 4), sides swapped
    present = np.any(out != 0, axis=-1)  # (..., V)
    out[..., 0] = np.where(present, 1.0 - out[..., 0], 0.0)
    return out


def _crop_box(height: int, width: int, scale, ratio, generator: torch.Generator) -> tuple[int, int, int, int]:
    """Random (top, left, h, w) covering ``scale`` of the area at aspect ``ratio`` (RandomResizedCrop's rule)."""
    area = height * width
    log_ratio = (math.log(ratio[0]), math.log(ratio[1]))
    for _ in range(10):
        u = torch.rand(3, generator=generator).tolist()
        target = area * (scale[0] + u[0] * (scale[1] - scale[0]))
        aspect = math.exp(log_ratio[0] + u[1] * (log_ratio[1] - log_ratio[0]))
        w, h = round(math.sqrt(target * aspect)), round(math.sqrt(target / aspect))
        if 0 < w <= width and 0 < h <= height:
            top = int(torch.randint(0, height - h + 1, (1,), generator=generator))
            left = int(torch.randint(0, width - w + 1, (1,), generator=generator))
            return top, left, h, w
    side = min(height, width)  # fall back to the centre square
    return (height - side) // 2, (width - side) // 2, side, side


def colour_jitter(x: torch.Tensor, strength: float, generator: torch.Generator) -> torch.Tensor:
    """Random brightness, contrast and saturation, each a factor in ``1 ± strength``, one draw for the clip.

    ``x`` is uint8 (T, 3, H, W). Hue is left alone on purpose: classes may differ by colour alone (the cartoon
    ``wave_red_flag`` vs ``wave_blue_flag``), and so is grayscale, for the same reason.
    """
    if strength <= 0:
        return x
    brightness, contrast, saturation = (1 + strength * (2 * torch.rand(3, generator=generator) - 1)).tolist()
    x = F.adjust_brightness(x, brightness)
    x = F.adjust_contrast(x, contrast)
    return F.adjust_saturation(x, saturation)  # (T, 3, H, W) uint8


def train_frames_to_tensor(frames: np.ndarray | torch.Tensor, size: int, mean, std, *,
                           generator: torch.Generator, scale: tuple[float, float] = (0.35, 1.0),
                           ratio: tuple[float, float] = (3 / 4, 4 / 3), flip: bool = True,
                           jitter: float = 0.0) -> tuple[torch.Tensor, bool]:
    """Training variant of ``frames_to_tensor``: one random resized crop, (with ``flip``) one horizontal flip
    with probability 1/2 and (with ``jitter`` > 0) one ``colour_jitter``, the same for all frames. Returns
    ``(float32 (T, 3, size, size), flipped)`` so that keypoints can be mirrored to match."""
    x = _to_tchw(frames)
    top, left, h, w = _crop_box(x.shape[-2], x.shape[-1], scale, ratio, generator)
    x = F.resized_crop(x, top, left, h, w, [size, size], antialias=True)  # (T, 3, size, size)
    flipped = flip and bool(torch.rand(1, generator=generator) < 0.5)
    if flipped:
        x = F.horizontal_flip(x)
    x = colour_jitter(x, jitter, generator)
    return _normalise(x, mean, std), flipped
