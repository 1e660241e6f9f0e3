"""torchvision's Kinetics-400 video transformers and S3D: ``mvit_v1_b``, ``mvit_v2_s``, ``swin3d_t`` / ``_s`` / ``_b``,
``s3d``, built by torchvision's own builders, their classifier replaced by ``head``.

Each reads ``video`` (B, T, C, H, W) float32 and takes its size and mean/std from its weights enum's transforms
(``weights.transforms()``), so clips are prepared as the weights were trained. What each accepts:

* MViT (v1 B, v2 S): exactly 16 frames of 224×224 — torchvision builds its positional layout for that size;
* Swin3D (T, S, B): any clip length and size (attention in padded 8×7×7 windows); weights evaluated on 32 frames;
* S3D: at least 7 frames of at least 24×24 (its first temporal convolution spans 7 frames; a shorter clip
  crashed PyTorch's CPU backward pass with a batch of 2); the classifier's fixed 2×7×7 pool becomes a global
  average, which is the same at 16×224².

``freeze``: ``"backbone"`` trains only ``head``, ``"last_block"`` also the backbone's last block (MViT: the last
attention block, Swin3D: the last stage, S3D: the last inception block).
"""

from __future__ import annotations

from typing import Any

import torch
import torchvision
from torch import nn

from twostream.streams.base import InputSpec, Stream
from twostream.streams.registry import register
from twostream.streams.rgb import Freeze, _Backboned

_V = torchvision.models.video


class KineticsVideo(_Backboned):
    """A torchvision video network whose classifier became ``nn.Identity``: ``backbone`` (B, C, T, H, W) → (B, F)."""

    def __init__(self, backbone: nn.Module, last_block: nn.Module, num_features: int, *, num_classes: int,
                 spec: InputSpec, pretrained_weights: Any, pretrained: bool, weights_file: str | None,
                 freeze: Freeze) -> None:
        super().__init__()
        self.input_spec, self.num_features, self.num_classes = spec, num_features, num_classes
        self.backbone, self.last_block = backbone, last_block
        self.head = nn.Linear(num_features, num_classes)
        self._finish(pretrained_weights=pretrained_weights, pretrained=pretrained, weights_file=weights_file,
                     freeze=freeze)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.backbone(x.transpose(1, 2))  # (B, T, C, H, W) -> (B, C, T, H, W) -> (B, F)


def _spec(weights: Any, clip_len: int, size: int) -> InputSpec:
    transform = weights.transforms()  # torchvision's VideoClassification preset of these weights
    return InputSpec("video", clip_len, size, tuple(transform.mean), tuple(transform.std))


def _mvit(factory, weights: Any, *, num_classes: int, clip_len: int, size: int, pretrained: bool,
          weights_file: str | None, freeze: Freeze) -> Stream:
    if (clip_len, size) != (16, 224):
        raise ValueError(f"{factory.__name__} takes exactly 16 frames of 224×224 (torchvision builds it for that "
                         f"size), got clip_len={clip_len}, size={size}; drop --clip-len")
    backbone = factory()
    num_features = backbone.head[-1].in_features  # head = Dropout, Linear(768, 400)
    backbone.head = nn.Identity()  # the class token after the last norm: (B, 768)
    return KineticsVideo(backbone, backbone.blocks[-1], num_features, num_classes=num_classes,
                         spec=_spec(weights, clip_len, size), pretrained_weights=weights, pretrained=pretrained,
                         weights_file=weights_file, freeze=freeze)


def _swin3d(factory, weights: Any, *, num_classes: int, clip_len: int, size: int, pretrained: bool,
            weights_file: str | None, freeze: Freeze) -> Stream:
    backbone = factory()
    backbone.head = nn.Identity()  # after the norm and the global average: (B, num_features)
    return KineticsVideo(backbone, backbone.features[-1], backbone.num_features, num_classes=num_classes,
                         spec=_spec(weights, clip_len, size), pretrained_weights=weights, pretrained=pretrained,
                         weights_file=weights_file, freeze=freeze)


@register
def mvit_v1_b(*, num_classes: int, clip_len: int = 16, size: int = 224, pretrained: bool = False,
              weights_file: str | None = None, freeze: Freeze = "none") -> Stream:
    """torchvision MViT v1 B (multiscale attention, absolute positions); exactly 16×224²; Kinetics-400 weights."""
    return _mvit(_V.mvit_v1_b, _V.MViT_V1_B_Weights.KINETICS400_V1, num_classes=num_classes, clip_len=clip_len,
                 size=size, pretrained=pretrained, weights_file=weights_file, freeze=freeze)


@register
def mvit_v2_s(*, num_classes: int, clip_len: int = 16, size: int = 224, pretrained: bool = False,
              weights_file: str | None = None, freeze: Freeze = "none") -> Stream:
    """torchvision MViT v2 S (pooled attention, relative positions); exactly 16×224²; Kinetics-400 weights."""
    return _mvit(_V.mvit_v2_s, _V.MViT_V2_S_Weights.KINETICS400_V1, num_classes=num_classes, clip_len=clip_len,
                 size=size, pretrained=pretrained, weights_file=weights_file, freeze=freeze)


@register
def swin3d_t(*, num_classes: int, clip_len: int = 16, size: int = 224, pretrained: bool = False,
             weights_file: str | None = None, freeze: Freeze = "none") -> Stream:
    """torchvision Video Swin T (shifted 3D windows); any T and size; Kinetics-400 weights."""
    return _swin3d(_V.swin3d_t, _V.Swin3D_T_Weights.KINETICS400_V1, num_classes=num_classes, clip_len=clip_len,
                   size=size, pretrained=pretrained, weights_file=weights_file, freeze=freeze)


@register
def swin3d_s(*, num_classes: int, clip_len: int = 16, size: int = 224, pretrained: bool = False,
             weights_file: str | None = None, freeze: Freeze = "none") -> Stream:
    """torchvision Video Swin S; any T and size; Kinetics-400 weights."""
    return _swin3d(_V.swin3d_s, _V.Swin3D_S_Weights.KINETICS400_V1, num_classes=num_classes, clip_len=clip_len,
                   size=size, pretrained=pretrained, weights_file=weights_file, freeze=freeze)


@register
def swin3d_b(*, num_classes: int, clip_len: int = 16, size: int = 224, pretrained: bool = False,
             weights_file: str | None = None, freeze: Freeze = "none") -> Stream:
    """torchvision Video Swin B; any T and size; Kinetics-400 weights (the ImageNet-22k-pretrained ones)."""
    return _swin3d(_V.swin3d_b, _V.Swin3D_B_Weights.KINETICS400_IMAGENET22K_V1, num_classes=num_classes,
                   clip_len=clip_len, size=size, pretrained=pretrained, weights_file=weights_file, freeze=freeze)


@register
def s3d(*, num_classes: int, clip_len: int = 16, size: int = 224, pretrained: bool = False,
        weights_file: str | None = None, freeze: Freeze = "none") -> Stream:
    """torchvision S3D (separable 3D inception); at least 7 frames of 24×24; Kinetics-400 weights."""
    if clip_len < 7 or size < 24:
        raise ValueError(f"s3d needs at least 7 frames of 24×24 (its first temporal convolution spans 7 frames), "
                         f"got clip_len={clip_len}, size={size}; pass --clip-len 7 or more")
    backbone = _V.s3d()
    num_features = backbone.classifier[-1].in_channels  # classifier = Dropout, Conv3d(1024, 400, 1)
    backbone.avgpool = nn.AdaptiveAvgPool3d(1)  # (B, 1024, 1, 1, 1); equals the fixed 2×7×7 pool at 16×224²
    backbone.classifier = nn.Identity()  # forward then averages (T, H, W): (B, 1024)
    weights = _V.S3D_Weights.KINETICS400_V1
    return KineticsVideo(backbone, backbone.features[-1], num_features, num_classes=num_classes,
                         spec=_spec(weights, clip_len, size), pretrained_weights=weights, pretrained=pretrained,
                         weights_file=weights_file, freeze=freeze)
