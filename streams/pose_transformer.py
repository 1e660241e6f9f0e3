"""``pose_transformer``: factorised attention over joint tokens — across the joints of a frame, then across time.

Same input and normalisation as every keypoint model (``streams.keypoint``): raw ``(B, T, M, V, 4)`` keypoints
(or ``(B, T, V, 4)``, one person) turned into per-person features by ``SkeletonFeatures`` inside ``forward``,
one encoder shared by the persons, ``pool_persons`` over the slots present. Each joint of each frame is a token
(its features, plus a learned embedding of which joint and which frame it is); a block attends over the V joints
of every frame (the body's shape), then over the T frames of every joint (its motion), each followed by an MLP,
pre-norm and residual (the divided space-time attention of TimeSformer, on a skeleton). Pure torch: ONNX-exports.
"""

from __future__ import annotations

import torch
from torch import nn

from twostream.pose.skeleton import JointLayout, get_layout
from twostream.streams.base import Stream
from twostream.streams.keypoint import keypoint_spec
from twostream.streams.keypoint_features import FEATURES, SkeletonFeatures, pool_persons
from twostream.streams.registry import register


class _Attention(nn.Module):
    """Pre-norm self-attention over the second-to-last axis of ``(N, L, D)`` tokens, residual."""

    def __init__(self, dim: int, heads: int, dropout: float) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.attn = nn.MultiheadAttention(dim, heads, dropout=dropout, batch_first=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.norm(x)
        return x + self.attn(h, h, h, need_weights=False)[0]  # (N, L, D)


class FactorisedBlock(nn.Module):
    """Joint attention within each frame, then temporal attention along each joint, then an MLP."""

    def __init__(self, dim: int, heads: int, dropout: float, mlp_ratio: int = 2) -> None:
        super().__init__()
        self.spatial = _Attention(dim, heads, dropout)
        self.temporal = _Attention(dim, heads, dropout)
        self.mlp = nn.Sequential(nn.LayerNorm(dim), nn.Linear(dim, mlp_ratio * dim), nn.GELU(), nn.Dropout(dropout),
                                 nn.Linear(mlp_ratio * dim, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, t, v, d = x.shape
        x = self.spatial(x.reshape(n * t, v, d)).reshape(n, t, v, d)  # joints of one frame attend to each other
        x = x.transpose(1, 2).reshape(n * v, t, d)  # (N*V, T, D)
        x = self.temporal(x).reshape(n, v, t, d).transpose(1, 2)  # (N, T, V, D): one joint over time
        return x + self.mlp(x)


class PoseTransformer(Stream):
    """Per-person joint tokens → ``depth`` factorised blocks → mean over tokens → persons pooled."""

    def __init__(self, *, num_classes: int, clip_len: int, layout: JointLayout, dim: int, depth: int, heads: int,
                 dropout: float, persons: int) -> None:
        super().__init__()
        if dim % heads:
            raise ValueError(f"dim must be a multiple of heads, got dim={dim}, heads={heads}")
        self.input_spec = keypoint_spec(clip_len, layout, persons)
        self.num_classes, self.num_features = num_classes, dim
        self.features = SkeletonFeatures(layout)
        self.embed = nn.Linear(FEATURES, dim)
        self.joint_embedding = nn.Parameter(torch.randn(layout.num_joints, dim) * 0.02)  # (V, D)
        self.time_embedding = nn.Parameter(torch.randn(clip_len, 1, dim) * 0.02)  # (T, 1, D)
        self.blocks = nn.Sequential(*(FactorisedBlock(dim, heads, dropout) for _ in range(depth)))
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(dim, num_classes))

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        f, persons = self.features(x)  # (B, M, T, V, C), (B, M)
        t = f.shape[2]
        if t != self.input_spec.clip_len:
            raise ValueError(f"pose_transformer was built for {self.input_spec.clip_len} frames, got {t}")
        h = self.embed(f.flatten(0, 1)) + self.joint_embedding + self.time_embedding  # (B*M, T, V, D)
        h = self.norm(self.blocks(h)).mean((1, 2))  # (B*M, D)
        return pool_persons(h, persons)  # (B, D)


@register
def pose_transformer(*, num_classes: int, clip_len: int = 32, layout: str = "mediapipe33", dim: int = 64,
                     depth: int = 2, heads: int = 4, dropout: float = 0.1, persons: int = 2) -> PoseTransformer:
    """Factorised joint / time attention over each person's joint tokens, persons averaged."""
    return PoseTransformer(num_classes=num_classes, clip_len=clip_len, layout=get_layout(layout), dim=dim,
                           depth=depth, heads=heads, dropout=dropout, persons=persons)
