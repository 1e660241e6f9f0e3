"""``pose_stgcnpp``: ST-GCN++ as PYSKL defines it (Duan et al., "PYSKL", 2022), at a width a CPU can train.

PYSKL's ST-GCN++ (``configs/stgcn++``: ``gcn_adaptive='init'``, ``gcn_with_res=True``, ``tcn_type='mstcn'``,
``graph_cfg=dict(mode='spatial')``) differs from ST-GCN in two places, both kept here:

* the graph convolution mixes joints with THREE adjacency matrices of the spatial partition — the joint itself,
  its neighbours nearer the body's centre (inward) and farther from it (outward), each column-normalised — that
  are initialised from the bone graph and then learned outright (``adaptive='init'``), with a residual 1×1;
* the temporal convolution is multi-scale: six branches of ``out / 6`` channels — kernel-3 convolutions with
  dilations 1, 2, 3, 4, a max-pool over 3 frames and a plain 1×1 — concatenated, then BN, ReLU, 1×1, BN.

PYSKL trains one model per input — joint, bone, joint motion, bone motion — and sums their scores.
``stream`` picks that input out of ``SkeletonFeatures`` (``"all"``: every channel at once, the default;
``build("pose_stgcnpp", stream="bone", ...)``: one PYSKL stream, to be ensembled by averaging softmaxes).
Widths: PYSKL stacks ten blocks of 64 → 256 channels for 100-frame clips on GPUs; the default here is six
blocks of 32 → 128 (``channels``), stride 2 where the width grows.
"""

from __future__ import annotations

import torch
from torch import nn

from twostream.pose.skeleton import JointLayout, get_layout, parents
from twostream.streams.base import Stream
from twostream.streams.keypoint import keypoint_spec
from twostream.streams.keypoint_features import SkeletonFeatures, pool_persons
from twostream.streams.registry import register

STREAMS = {
    "all": tuple(range(14)),
    "joint": (0, 1, 2, 3, 10, 11, 12, 13),  # position, trajectory, confidence, masks, torso change
    "bone": (4, 5, 10, 11, 12),  # bone vector, confidence, masks
    "joint_motion": (6, 7, 8, 9, 11, 12),  # velocity over 1 and SLOW frames, masks
    "bone_motion": (4, 5, 11, 12),  # bone vector, differenced over one frame in ``forward``, masks
}
"""Channels of ``SkeletonFeatures`` each PYSKL stream reads (see ``streams.keypoint_features``)."""


def spatial_partition(layout: JointLayout) -> torch.Tensor:
    """PYSKL's ``mode='spatial'`` graph: (3, V, V) — identity, inward and outward links, column-normalised.

    A bone is inward from the joint farther from the centre (hops along the bones) to the nearer one; a bone
    between two joints equally far is both."""
    v, parent = layout.num_joints, parents(layout)
    depth = [0] * v
    for j in range(v):  # hops to the root along the breadth-first tree
        k = j
        while parent[k] != k:
            k, depth[j] = parent[k], depth[j] + 1
    inward = torch.zeros(v, v)
    for i, j in layout.edges:
        if depth[i] >= depth[j]:
            inward[j, i] = 1.0  # PYSKL's edge2mat: A[to, from]
        if depth[j] >= depth[i]:
            inward[i, j] = 1.0
    outward = inward.t().clone()
    norm = lambda a: a / a.sum(0, keepdim=True).clamp(min=1.0)  # noqa: E731  (normalize_digraph: A · D^-1)
    return torch.stack([torch.eye(v), norm(inward), norm(outward)])


def _conv_bn(c_in: int, c_out: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, 1, (stride, 1)), nn.BatchNorm2d(c_out))


class AdaptiveGCN(nn.Module):
    """PYSKL's ``unit_gcn(adaptive='init', with_res=True)``: 1×1 conv to K × C_out, mix joints by the K learned
    adjacencies, BN, plus a residual, ReLU."""

    def __init__(self, c_in: int, c_out: int, adjacency: torch.Tensor) -> None:
        super().__init__()
        self.adjacency = nn.Parameter(adjacency.clone())  # (K, V, V), learned from its bone-graph start
        self.conv = nn.Conv2d(c_in, c_out * adjacency.shape[0], 1)
        self.bn = nn.BatchNorm2d(c_out)
        self.residual = nn.Identity() if c_in == c_out else _conv_bn(c_in, c_out)
        self.relu = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, _, t, v = x.shape
        k = self.adjacency.shape[0]
        y = self.conv(x).view(n, k, -1, t, v)  # (N, K, C_out, T, V)
        y = torch.einsum("nkctv,kvw->nctw", y, self.adjacency)
        return self.relu(self.bn(y) + self.residual(x))


class MultiScaleTCN(nn.Module):
    """PYSKL's ``mstcn``: kernel-3 branches with dilations 1-4, a 3-frame max-pool and a 1×1, concatenated,
    then BN, ReLU, 1×1 conv, BN."""

    def __init__(self, channels: int, stride: int = 1, dilations: tuple[int, ...] = (1, 2, 3, 4)) -> None:
        super().__init__()
        count = len(dilations) + 2
        mid = channels // count
        widths = [channels - mid * (count - 1)] + [mid] * (count - 1)  # the remainder goes to the first branch

        def entry(c: int) -> list[nn.Module]:
            return [nn.Conv2d(channels, c, 1, bias=False), nn.BatchNorm2d(c), nn.ReLU()]  # BN follows

        branches = [nn.Sequential(*entry(c), nn.Conv2d(c, c, (3, 1), (stride, 1), (d, 0), (d, 1)))
                    for c, d in zip(widths, dilations)]
        branches.append(nn.Sequential(*entry(widths[-2]), nn.MaxPool2d((3, 1), (stride, 1), (1, 0))))
        branches.append(nn.Conv2d(channels, widths[-1], 1, (stride, 1)))
        self.branches = nn.ModuleList(branches)
        self.transform = nn.Sequential(nn.BatchNorm2d(channels), nn.ReLU(), nn.Conv2d(channels, channels, 1))
        self.bn = nn.BatchNorm2d(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn(self.transform(torch.cat([b(x) for b in self.branches], dim=1)))


class STGCNppBlock(nn.Module):
    """Adaptive graph conv → multi-scale temporal conv, plus the block's residual (none in the first block)."""

    def __init__(self, c_in: int, c_out: int, adjacency: torch.Tensor, *, stride: int, residual: bool) -> None:
        super().__init__()
        self.gcn = AdaptiveGCN(c_in, c_out, adjacency)
        self.tcn = MultiScaleTCN(c_out, stride)
        if not residual:
            self.residual = None
        else:
            self.residual = nn.Identity() if c_in == c_out and stride == 1 else _conv_bn(c_in, c_out, stride)
        self.relu = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.tcn(self.gcn(x))
        return self.relu(y if self.residual is None else y + self.residual(x))


class PoseSTGCNpp(Stream):
    """ST-GCN++ over one PYSKL stream (or all channels) of each person: data BN, blocks, mean over time and
    joints, persons pooled."""

    def __init__(self, *, num_classes: int, clip_len: int, layout: JointLayout, channels: tuple[int, ...],
                 stream: str, dropout: float, persons: int) -> None:
        super().__init__()
        if stream not in STREAMS:
            raise ValueError(f"stream must be one of {', '.join(STREAMS)}, got {stream!r}")
        self.input_spec = keypoint_spec(clip_len, layout, persons)
        self.num_classes, self.num_features, self.num_joints = num_classes, channels[-1], layout.num_joints
        self.stream = stream
        self.register_buffer("channels_in", torch.tensor(STREAMS[stream]), persistent=False)
        self.features = SkeletonFeatures(layout)
        c = len(STREAMS[stream])
        self.data_bn = nn.BatchNorm1d(c * layout.num_joints)
        adjacency = spatial_partition(layout)
        widths = (c, *channels)
        self.blocks = nn.Sequential(*(
            STGCNppBlock(a, b, adjacency, stride=2 if i > 0 and b > a else 1, residual=i > 0)
            for i, (a, b) in enumerate(zip(widths[:-1], widths[1:]))))
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(self.num_features, num_classes))

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        f, persons = self.features(x)  # (B, M, T, V, 14), (B, M)
        f = f.index_select(-1, self.channels_in)
        if self.stream == "bone_motion":
            bone, masks = f[..., :2], f[..., 2:]
            both = masks[:, :, 1:, :, :1] * masks[:, :, :-1, :, :1]  # joint found in both frames
            motion = torch.cat([torch.zeros_like(bone[:, :, :1]), (bone[:, :, 1:] - bone[:, :, :-1]) * both], 2)
            f = torch.cat([motion, masks], -1)
        b, m, t, v, c = f.shape
        f = self.data_bn(f.permute(0, 1, 3, 4, 2).reshape(b * m, v * c, t))  # (B*M, V*C, T)
        f = f.reshape(b * m, v, c, t).permute(0, 2, 3, 1)  # (B*M, C, T, V)
        return pool_persons(self.blocks(f).mean((2, 3)), persons)  # (B, C_last)


@register
def pose_stgcnpp(*, num_classes: int, clip_len: int = 32, layout: str = "mediapipe33",
                 channels: tuple[int, ...] = (32, 32, 64, 64, 128, 128), stream: str = "all", dropout: float = 0.2,
                 persons: int = 2) -> PoseSTGCNpp:
    """ST-GCN++ (PYSKL: learned 3-subset adjacency, multi-scale TCN) on one PYSKL stream or every feature."""
    return PoseSTGCNpp(num_classes=num_classes, clip_len=clip_len, layout=get_layout(layout),
                       channels=tuple(channels), stream=stream, dropout=dropout, persons=persons)
