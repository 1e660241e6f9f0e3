"""Keypoint-sequence streams: ``pose_gru`` and ``pose_stgcn``, over raw ``(B, T, M, V, 4)`` keypoints.

Every keypoint model follows one pattern (PYSKL's): ``streams.keypoint_features.SkeletonFeatures`` normalises
each person INSIDE ``forward`` (pure torch, ONNX-exportable), one encoder shared by the persons turns each into
a feature vector, and ``pool_persons`` averages the persons present (an all-zero slot is absent and adds
nothing). A 4-D ``(B, T, V, 4)`` input is one person. ``InputSpec.persons`` (M) is how many slots the data
path fills for the model.
"""

from __future__ import annotations

import torch
from torch import nn

from twostream.datasets.sampling import Sampling
from twostream.pose.skeleton import JointLayout, get_layout
from twostream.streams.base import InputSpec, Stream
from twostream.streams.keypoint_features import FEATURES, SkeletonFeatures, pool_persons
from twostream.streams.registry import register


def keypoint_spec(clip_len: int, layout: JointLayout, persons: int) -> InputSpec:
    """The ``InputSpec`` of a keypoint model (``persons`` >= 1 slots per clip). Its default sampling is dense
    with an automatic K (fitted on the training data): the features' velocities then mean the same real speed in
    every clip, which segment sampling of videos of different lengths would not give."""
    if persons < 1:
        raise ValueError(f"persons must be >= 1, got {persons}")
    return InputSpec(key="keypoints", clip_len=clip_len, layout=layout.name, persons=persons,
                     sampling=Sampling("dense", frame_interval=None))


class PoseGRU(Stream):
    """Per-frame joint features → linear embedding → bidirectional GRU → mean over time."""

    def __init__(self, *, num_classes: int, clip_len: int, layout: JointLayout, hidden: int, dropout: float,
                 persons: int = 1):
        super().__init__()
        self.input_spec = keypoint_spec(clip_len, layout, persons)
        self.num_classes = num_classes
        self.num_features = 2 * hidden
        self.num_joints = layout.num_joints
        self.features = SkeletonFeatures(layout)
        self.embed = nn.Sequential(nn.Linear(layout.num_joints * FEATURES, hidden), nn.LayerNorm(hidden), nn.ReLU())
        self.gru = nn.GRU(hidden, hidden, batch_first=True, bidirectional=True)
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(self.num_features, num_classes))

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        f, persons = self.features(x)  # (B, M, T, V, C), (B, M)
        h, _ = self.gru(self.embed(f.flatten(3).flatten(0, 1)))  # (B*M, T, 2H)
        return pool_persons(h.mean(1), persons)  # (B, 2H)


def normalised_adjacency(layout: JointLayout) -> torch.Tensor:
    """``D^-1/2 (A + I) D^-1/2`` of the layout's bone graph, ``(V, V)`` float32."""
    v = layout.num_joints
    adjacency = torch.eye(v)
    for i, j in layout.edges:
        adjacency[i, j] = adjacency[j, i] = 1.0
    inv_sqrt = adjacency.sum(1).pow(-0.5)  # (V,)
    return inv_sqrt[:, None] * adjacency * inv_sqrt[None, :]


class STGCNBlock(nn.Module):
    """Graph conv (1×1 conv, then mixing joints by the adjacency with learnable edge importance) + temporal conv."""

    def __init__(self, c_in: int, c_out: int, adjacency: torch.Tensor, *, stride: int = 1, kernel: int = 9):
        super().__init__()
        self.register_buffer("adjacency", adjacency, persistent=False)
        self.importance = nn.Parameter(torch.ones_like(adjacency))
        self.spatial = nn.Conv2d(c_in, c_out, 1)
        self.temporal = nn.Sequential(
            nn.BatchNorm2d(c_out), nn.ReLU(),
            nn.Conv2d(c_out, c_out, (kernel, 1), (stride, 1), (kernel // 2, 0)), nn.BatchNorm2d(c_out),
        )
        same = c_in == c_out and stride == 1
        self.residual = nn.Identity() if same else nn.Sequential(
            nn.Conv2d(c_in, c_out, 1, (stride, 1)), nn.BatchNorm2d(c_out))
        self.relu = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.matmul(self.spatial(x), self.adjacency * self.importance)  # (B, C_out, T, V)
        return self.relu(self.temporal(y) + self.residual(x))  # (B, C_out, T/stride, V)


class PoseSTGCN(Stream):
    """A compact ST-GCN: input batch norm, graph-conv + temporal-conv blocks, mean over time and joints."""

    def __init__(self, *, num_classes: int, clip_len: int, layout: JointLayout, channels: tuple[int, ...],
                 dropout: float, persons: int = 1):
        super().__init__()
        self.input_spec = keypoint_spec(clip_len, layout, persons)
        self.num_classes = num_classes
        self.num_features = channels[-1]
        self.num_joints = layout.num_joints
        self.features = SkeletonFeatures(layout)
        self.data_bn = nn.BatchNorm1d(FEATURES * layout.num_joints)
        adjacency = normalised_adjacency(layout)
        widths = (FEATURES, *channels)
        self.blocks = nn.Sequential(*(
            STGCNBlock(c_in, c_out, adjacency, stride=1 if i == 0 else 2)
            for i, (c_in, c_out) in enumerate(zip(widths[:-1], widths[1:]))
        ))
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(self.num_features, num_classes))

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        f, persons = self.features(x)  # (B, M, T, V, C), (B, M)
        b, m, t, v, c = f.shape
        f = self.data_bn(f.permute(0, 1, 3, 4, 2).reshape(b * m, v * c, t))  # (B*M, V*C, T)
        f = f.reshape(b * m, v, c, t).permute(0, 2, 3, 1)  # (B*M, C, T, V)
        return pool_persons(self.blocks(f).mean((2, 3)), persons)  # (B, C_last)


@register
def pose_gru(*, num_classes: int, clip_len: int = 32, layout: str = "mediapipe33", hidden: int = 128,
             dropout: float = 0.2, persons: int = 2) -> PoseGRU:
    """Bidirectional GRU over each person's per-frame joint features, persons averaged."""
    return PoseGRU(num_classes=num_classes, clip_len=clip_len, layout=get_layout(layout), hidden=hidden,
                   dropout=dropout, persons=persons)


@register
def pose_stgcn(*, num_classes: int, clip_len: int = 32, layout: str = "mediapipe33",
               channels: tuple[int, ...] = (32, 64, 128), dropout: float = 0.2, persons: int = 2) -> PoseSTGCN:
    """Compact ST-GCN on the layout's bone graph (normalised adjacency, learnable edge importance), per person."""
    return PoseSTGCN(num_classes=num_classes, clip_len=clip_len, layout=get_layout(layout),
                     channels=tuple(channels), dropout=dropout, persons=persons)
