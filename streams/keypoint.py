"""Keypoint-sequence streams: ``pose_gru`` and ``pose_stgcn``, over raw ``(B, T, V, 4)`` keypoints.

Both normalise INSIDE ``forward`` (pure torch, ONNX-exportable), so training, ``predict``, the live demo and an
exported model all see the same function of the raw keypoints (x, y normalised to the frame, z, visibility):

* centre each frame on its mid-hip, scale the sequence by its mean torso length over the frames with a person
  (guarded against zero) — the torch twin of ``pose.skeleton.normalise``;
* velocities: the frame-to-frame change of the scaled (not centred) positions, zero across missing joints;
* the detected mask: a joint that is all zeros is "not found"; its features are zeroed and the mask itself is
  a channel, so a window with nobody in it gives finite features that say so.

Per joint and frame the model sees ``FEATURES`` = 7 channels: x, y, z (normalised), vx, vy, visibility, mask.
"""

from __future__ import annotations

import torch
from torch import nn

from twostream.pose.skeleton import JointLayout, get_layout
from twostream.streams.base import InputSpec, Stream
from twostream.streams.registry import register

FEATURES = 7
EPS = 1e-6


class SkeletonFeatures(nn.Module):
    """Raw ``(B, T, V, 4)`` keypoints → ``(B, T, V, 7)`` translation- and scale-invariant joint features."""

    def __init__(self, layout: JointLayout) -> None:
        super().__init__()
        self.register_buffer("centre", torch.tensor(layout.centre), persistent=False)
        self.register_buffer("shoulders", torch.tensor(layout.torso[0]), persistent=False)
        self.register_buffer("hips", torch.tensor(layout.torso[1]), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mask = (x.abs().sum(-1) > 0).to(x.dtype)  # (B, T, V): joint found
        frame = (mask.sum(-1) > 0).to(x.dtype)  # (B, T): person found
        xyz = x[..., :3]  # (B, T, V, 3)
        centre = xyz.index_select(2, self.centre).mean(2, keepdim=True)  # (B, T, 1, 3)
        shoulders = xyz[..., :2].index_select(2, self.shoulders).mean(2)  # (B, T, 2)
        hips = xyz[..., :2].index_select(2, self.hips).mean(2)  # (B, T, 2)
        torso = (shoulders - hips).pow(2).sum(-1).sqrt()  # (B, T)
        count = frame.sum(1, keepdim=True).clamp(min=1.0)  # (B, 1)
        scale = ((torso * frame).sum(1, keepdim=True) / count).clamp(min=EPS)  # (B, 1)
        scale = scale[:, :, None, None]  # (B, 1, 1, 1)
        position = (xyz - centre) / scale * mask[..., None]  # (B, T, V, 3)
        scaled = xyz[..., :2] / scale  # (B, T, V, 2): keeps whole-body motion for the velocity
        both = mask[:, 1:] * mask[:, :-1]  # (B, T-1, V)
        velocity = (scaled[:, 1:] - scaled[:, :-1]) * both[..., None]  # (B, T-1, V, 2)
        velocity = torch.cat([torch.zeros_like(velocity[:, :1]), velocity], dim=1)  # (B, T, V, 2)
        visibility = x[..., 3:4] * mask[..., None]  # (B, T, V, 1)
        return torch.cat([position, velocity, visibility, mask[..., None]], dim=-1)  # (B, T, V, 7)


def _check_input(x: torch.Tensor, num_joints: int) -> None:
    if x.dim() != 4 or x.shape[-2:] != (num_joints, 4):
        raise ValueError(f"keypoint stream expects (B, T, {num_joints}, 4) keypoints, got {tuple(x.shape)}")


class PoseGRU(Stream):
    """Per-frame joint features → linear embedding → bidirectional GRU → mean over time."""

    def __init__(self, *, num_classes: int, clip_len: int, layout: JointLayout, hidden: int, dropout: float):
        super().__init__()
        self.input_spec = InputSpec(key="keypoints", clip_len=clip_len, layout=layout.name)
        self.num_classes = num_classes
        self.num_features = 2 * hidden
        self.num_joints = layout.num_joints
        self.features = SkeletonFeatures(layout)
        self.embed = nn.Sequential(nn.Linear(layout.num_joints * FEATURES, hidden), nn.LayerNorm(hidden), nn.ReLU())
        self.gru = nn.GRU(hidden, hidden, batch_first=True, bidirectional=True)
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(self.num_features, num_classes))

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        _check_input(x, self.num_joints)
        f = self.features(x).flatten(2)  # (B, T, V*7)
        h, _ = self.gru(self.embed(f))  # (B, T, 2H)
        return h.mean(1)  # (B, 2H)


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
                 dropout: float):
        super().__init__()
        self.input_spec = InputSpec(key="keypoints", clip_len=clip_len, layout=layout.name)
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
        _check_input(x, self.num_joints)
        f = self.features(x)  # (B, T, V, 7)
        b, t, v, c = f.shape
        f = self.data_bn(f.permute(0, 2, 3, 1).reshape(b, v * c, t))  # (B, V*7, T)
        f = f.reshape(b, v, c, t).permute(0, 2, 3, 1)  # (B, 7, T, V)
        return self.blocks(f).mean((2, 3))  # (B, C_last)


@register
def pose_gru(*, num_classes: int, clip_len: int = 32, layout: str = "mediapipe33", hidden: int = 128,
             dropout: float = 0.2) -> PoseGRU:
    """Bidirectional GRU over per-frame joint features (positions, velocities, visibility, mask)."""
    return PoseGRU(num_classes=num_classes, clip_len=clip_len, layout=get_layout(layout), hidden=hidden,
                   dropout=dropout)


@register
def pose_stgcn(*, num_classes: int, clip_len: int = 32, layout: str = "mediapipe33",
               channels: tuple[int, ...] = (32, 64, 128), dropout: float = 0.2) -> PoseSTGCN:
    """Compact ST-GCN on the layout's bone graph (normalised adjacency, learnable edge importance)."""
    return PoseSTGCN(num_classes=num_classes, clip_len=clip_len, layout=get_layout(layout),
                     channels=tuple(channels), dropout=dropout)
