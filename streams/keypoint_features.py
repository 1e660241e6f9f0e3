"""Per-person skeleton features for every keypoint model: raw ``(B, T, M, V, 4)`` → ``(B, M, T, V, C)``.

The one place that turns raw keypoints (x, y normalised to the frame, z, visibility/score; an absent joint or
person all zeros) into what a keypoint model learns from. Pure torch and ONNX-exportable, so training,
``predict``, the live demo and an exported model all see the same function. Each person is normalised on its
own, so a feature does not depend on where the camera is or how large the person appears:

* ``scale``: the person's mean torso length (mid-shoulder to mid-hip, each the mean of the shoulders / hips
  found) over the frames where a shoulder and a hip are found (1, the frame's height, when no frame has both);
* ``centre``: per frame, the mean of the present hip joints (the mean of all present joints when no hip is);
* channels (``FEATURES`` = 14): joint position relative to the frame's centre (2), whole-body trajectory — the
  centre relative to its mean over the window (2), bone vector to the joint's parent (2), velocity over 1 and
  over ``SLOW`` frames (4), detector confidence (1), joint-found mask (1), person-found mask per frame (1),
  torso-length change against the window's mean (1, jumping and squatting change it). All divided by
  ``scale``; z is not used (monocular depth is the noisiest coordinate and cameras differ in it).

A 4-D input ``(B, T, V, 4)`` is one person (M = 1): ``with_person_axis``. Persons are pooled by the models
with ``pool_persons`` (a masked mean: an absent slot adds nothing).
"""

from __future__ import annotations

import torch
from torch import nn

from twostream.pose.skeleton import JointLayout, parents

FEATURES = 14
SLOW = 4
"""Frames between the two positions of the slow velocity."""
EPS = 1e-6


def with_person_axis(x: torch.Tensor, num_joints: int) -> torch.Tensor:
    """``(B, T, V, 4)`` → ``(B, T, 1, V, 4)``; ``(B, T, M, V, 4)`` unchanged; anything else a ``ValueError``."""
    if x.dim() == 4:
        x = x.unsqueeze(2)
    if x.dim() != 5 or x.shape[-2:] != (num_joints, 4):
        raise ValueError(f"keypoint stream expects (B, T, M, {num_joints}, 4) or (B, T, {num_joints}, 4) "
                         f"keypoints, got {tuple(x.shape)}")
    return x


def _masked_mean(values: torch.Tensor, weights: torch.Tensor, dim: int) -> torch.Tensor:
    """Mean of ``values`` over ``dim`` weighted by ``weights`` (broadcastable, 0/1), 0 where all weights are 0."""
    return (values * weights).sum(dim, keepdim=True) / weights.sum(dim, keepdim=True).clamp(min=EPS)


class SkeletonFeatures(nn.Module):
    """Raw ``(B, T, M, V, 4)`` (or ``(B, T, V, 4)``) keypoints → ``(B, M, T, V, FEATURES)`` and ``(B, M)``
    person mask (1 where the slot holds someone in any frame). See the module docstring for the channels."""

    def __init__(self, layout: JointLayout) -> None:
        super().__init__()
        self.num_joints = layout.num_joints
        hips = torch.zeros(layout.num_joints)
        hips[list(layout.centre)] = 1.0
        self.register_buffer("hips", hips, persistent=False)
        self.register_buffer("shoulder_idx", torch.tensor(layout.torso[0]), persistent=False)
        self.register_buffer("hip_idx", torch.tensor(layout.torso[1]), persistent=False)
        self.register_buffer("parent", torch.tensor(parents(layout)), persistent=False)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = with_person_axis(x, self.num_joints).transpose(1, 2)  # (B, M, T, V, 4)
        mask = (x.abs().sum(-1) > 0).to(x.dtype)  # (B, M, T, V)
        frame = (mask.sum(-1, keepdim=True) > 0).to(x.dtype)  # (B, M, T, 1)
        xy = x[..., :2] * mask[..., None]  # (B, M, T, V, 2)
        hip_mask = mask * self.hips  # (B, M, T, V)
        has_hip = (hip_mask.sum(-1, keepdim=True) > 0).to(x.dtype)  # (B, M, T, 1)
        weights = hip_mask * has_hip + mask * (1 - has_hip)  # hips, else every present joint
        centre = _masked_mean(xy, weights[..., None], 3)  # (B, M, T, 1, 2)
        torso, measured = self._torso(xy, mask)  # (B, M, T, 1) each
        any_measured = (measured.sum(2, keepdim=True) > 0).to(x.dtype)  # (B, M, 1, 1)
        scale = (_masked_mean(torso, measured, 2) * any_measured + (1 - any_measured)).clamp(min=EPS)[..., None]
        m = mask[..., None]  # (B, M, T, V, 1)
        position = (xy - centre) / scale * m
        mean_centre = _masked_mean(centre, frame[..., None], 2)  # (B, M, 1, 1, 2)
        trajectory = ((centre - mean_centre) / scale * frame[..., None]).expand_as(position) * m
        bone = (xy - xy.index_select(3, self.parent)) / scale * (m * m.index_select(3, self.parent))
        scaled = xy / scale
        velocity = torch.cat([_difference(scaled, mask, 1), _difference(scaled, mask, SLOW)], dim=-1)
        confidence = x[..., 3:4] * m
        size = ((torso / scale[..., 0] - 1) * measured)[..., None].expand_as(m) * m  # (B, M, T, V, 1)
        features = torch.cat([position, trajectory, bone, velocity, confidence, m, frame[..., None].expand_as(m),
                              size], dim=-1)  # (B, M, T, V, 14)
        return features, (frame.sum((2, 3)) > 0).to(x.dtype)

    def _torso(self, xy: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, M, T, V, 2), (B, M, T, V) → (B, M, T, 1) distance between mid-shoulder and mid-hip, each the mean
        of the shoulders / hips found, and (B, M, T, 1) 1 where it could be measured (a shoulder and a hip found;
        elsewhere the length is 0). A lost joint is (0, 0): averaged in, it would drag the midpoint to the frame's
        corner, and one lost shoulder in five frames made the torso-length channel noise and shrank every
        feature by a fifth to a half (the default augmentation drops 5 % of the joints)."""
        ends, found = [], []
        for idx in (self.shoulder_idx, self.hip_idx):
            present = mask.index_select(3, idx)[..., None]  # (B, M, T, 2, 1)
            ends.append(_masked_mean(xy.index_select(3, idx), present, 3)[..., 0, :])  # (B, M, T, 2)
            found.append((present.sum(3) > 0).to(xy.dtype))  # (B, M, T, 1)
        measured = found[0] * found[1]
        return (ends[0] - ends[1]).pow(2).sum(-1, keepdim=True).sqrt() * measured, measured


def _difference(scaled: torch.Tensor, mask: torch.Tensor, step: int) -> torch.Tensor:
    """(B, M, T, V, 2) positions → change over ``step`` frames, zero where either end is missing or t < step."""
    if scaled.shape[2] <= step:
        return torch.zeros_like(scaled)
    both = (mask[:, :, step:] * mask[:, :, :-step])[..., None]  # (B, M, T-step, V, 1)
    change = (scaled[:, :, step:] - scaled[:, :, :-step]) * both
    return torch.cat([torch.zeros_like(scaled[:, :, :step]), change], dim=2)  # (B, M, T, V, 2)


def pool_persons(features: torch.Tensor, persons: torch.Tensor) -> torch.Tensor:
    """``(B * M, F)`` per-person features and ``(B, M)`` person mask → ``(B, F)`` masked mean over persons."""
    b, m = persons.shape
    f = features.reshape(b, m, -1)  # (B, M, F)
    return (f * persons[..., None]).sum(1) / persons.sum(1, keepdim=True).clamp(min=1.0)
