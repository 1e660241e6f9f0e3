"""RGB stream models: a pixel MLP baseline, CNN+LSTM, ResNet50+LSTM and torchvision's 3D ResNets.

All read ``video`` (B, T, C, H, W) float32, normalised with their own ``input_spec`` mean/std.
``freeze``: ``"none"`` trains everything, ``"backbone"`` trains only what sits on top of the per-frame / 3D
backbone, ``"last_block"`` also trains the backbone's last block.
"""

from __future__ import annotations

from typing import Any, Callable, Literal

import torch
import torchvision
from torch import nn

from twostream.streams import weights as W
from twostream.streams.base import IMAGENET_MEAN, IMAGENET_STD, KINETICS_MEAN, KINETICS_STD, InputSpec, Stream
from twostream.streams.registry import register

Freeze = Literal["none", "backbone", "last_block"]
FREEZE_CHOICES = ("none", "backbone", "last_block")


class _Backboned(Stream):
    """A stream with ``self.backbone`` and a ``self.last_block`` inside it: freezing and weight loading."""

    backbone: nn.Module
    last_block: nn.Module

    def _finish(self, *, pretrained_weights: Any, pretrained: bool, weights_file: str | None,
                freeze: Freeze) -> None:
        if freeze not in FREEZE_CHOICES:
            raise ValueError(f"freeze must be one of {', '.join(FREEZE_CHOICES)}, got {freeze!r}")
        if weights_file is not None:
            W.load_into(self, W.load_weights_file(weights_file), source=str(weights_file))
        elif pretrained:
            if pretrained_weights is None:
                raise ValueError(f"{type(self).__name__} has no pretrained weights; pass --no-pretrained")
            W.load_into(self.backbone, W.load_pretrained(pretrained_weights), source=str(pretrained_weights))
        self.freeze = freeze
        if freeze != "none":
            self.backbone.requires_grad_(False)
        if freeze == "last_block":
            self.last_block.requires_grad_(True)

    def train(self, mode: bool = True) -> "_Backboned":
        super().train(mode)
        if getattr(self, "freeze", "none") == "backbone":
            self.backbone.eval()  # a frozen backbone keeps its BatchNorm statistics too
        return self


class PixelMLP(Stream):
    """The seed's baseline: flattened pixels → 256 hidden units → classes."""

    def __init__(self, *, num_classes: int, clip_len: int, size: int, hidden: int = 256) -> None:
        super().__init__()
        self.input_spec = InputSpec("video", clip_len, size, IMAGENET_MEAN, IMAGENET_STD)
        self.num_features, self.num_classes = hidden, num_classes
        self.hidden = nn.Sequential(nn.Flatten(1), nn.Linear(clip_len * 3 * size * size, hidden), nn.ReLU())
        self.head = nn.Linear(hidden, num_classes)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.hidden(x)  # (B, T, C, H, W) -> (B, hidden)


class FrameLSTM(_Backboned):
    """A per-frame 2D CNN (``backbone``: (N, 3, H, W) → (N, D)) followed by an LSTM over time."""

    def __init__(self, backbone: nn.Module, last_block: nn.Module, frame_features: int, *, num_classes: int,
                 spec: InputSpec, hidden: int, pretrained_weights: Any, pretrained: bool,
                 weights_file: str | None, freeze: Freeze, frame_input: nn.Module | None = None) -> None:
        super().__init__()
        self.input_spec, self.num_features, self.num_classes = spec, hidden, num_classes
        self.frame_input = frame_input if frame_input is not None else nn.Identity()
        self.backbone, self.last_block = backbone, last_block
        self.lstm = nn.LSTM(frame_features, hidden, batch_first=True)
        self.head = nn.Linear(hidden, num_classes)
        self._finish(pretrained_weights=pretrained_weights, pretrained=pretrained, weights_file=weights_file,
                     freeze=freeze)

    @property
    def frame_context(self) -> int:
        """Earlier clip frames one frame's features depend on: 1 with the motion channel (the difference to the
        clip's previous frame; the clip's first frame gets a zero difference), else 0."""
        return 1 if isinstance(self.frame_input, _WithMotion) else 0

    def frame_features(self, x: torch.Tensor, previous: torch.Tensor | None = None) -> torch.Tensor:
        """Per-frame backbone features (B, T, D) of ``x`` (B, T, C, H, W); ``previous`` (B, C, H, W) is the clip
        frame before ``x[:, 0]`` (``None``: ``x`` starts the clip). Features of a frame never change once computed,
        so a live buffer computes them once per sampled frame (``forward_temporal`` over the ring)."""
        b, t = x.shape[:2]
        if previous is not None:
            x = torch.cat([previous[:, None], x], dim=1)  # (B, 1 + T, C, H, W)
        x = self.frame_input(x)[:, -t:]  # (B, T, C', H, W)
        return self.backbone(x.flatten(0, 1)).reshape(b, t, -1)  # (B*T, D) -> (B, T, D)

    def forward_temporal(self, f: torch.Tensor) -> torch.Tensor:
        """The LSTM over per-frame features (B, T, D) → (B, hidden): the part that runs on every prediction."""
        out, _ = self.lstm(f)  # (B, T, hidden)
        return out[:, -1]  # (B, hidden)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_temporal(self.frame_features(x))  # (B, T, C, H, W) -> (B, hidden)


class Video3D(_Backboned):
    """A torchvision video ResNet (R3D / R(2+1)D / MC3) with its classifier replaced by ``head``."""

    def __init__(self, factory: Callable[[], nn.Module], *, num_classes: int, spec: InputSpec,
                 pretrained_weights: Any, pretrained: bool, weights_file: str | None, freeze: Freeze) -> None:
        super().__init__()
        self.input_spec, self.num_classes = spec, num_classes
        self.backbone = factory()
        self.num_features = self.backbone.fc.in_features
        self.backbone.fc = nn.Identity()
        self.last_block = self.backbone.layer4
        self.head = nn.Linear(self.num_features, num_classes)
        self._finish(pretrained_weights=pretrained_weights, pretrained=pretrained, weights_file=weights_file,
                     freeze=freeze)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.backbone(x.transpose(1, 2))  # (B, T, C, H, W) -> (B, C, T, H, W) -> (B, 512)


class _WithMotion(nn.Module):
    """Per-frame input plus its difference to the previous frame: (B, T, 3, H, W) -> (B, T, 6, H, W).

    The difference is a cheap motion channel that hides the static scene and the actor's clothes, so a small CNN
    trained from scratch on a few actors learns the movement instead of memorising who performs it.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        diff = torch.cat([torch.zeros_like(x[:, :1]), x[:, 1:] - x[:, :-1]], dim=1)  # (B, T, 3, H, W)
        return torch.cat([x, diff], dim=2)  # (B, T, 6, H, W)


def _small_cnn() -> tuple[nn.Sequential, nn.Module]:
    def block(cin: int, cout: int) -> nn.Sequential:
        return nn.Sequential(nn.Conv2d(cin, cout, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(cout),
                             nn.ReLU(inplace=True))

    last = block(128, 128)
    cnn = nn.Sequential(block(6, 32), block(32, 64), block(64, 128), last, nn.AdaptiveAvgPool2d(1),
                        nn.Flatten(1))  # (N, 6, H, W) -> (N, 128)
    return cnn, last


@register
def fc(*, num_classes: int, clip_len: int = 16, size: int = 64, hidden: int = 256,
       weights_file: str | None = None) -> Stream:
    """Flattened pixels → ``hidden`` → classes (the seed baseline). No pretrained weights, no backbone."""
    model = PixelMLP(num_classes=num_classes, clip_len=clip_len, size=size, hidden=hidden)
    if weights_file is not None:
        W.load_into(model, W.load_weights_file(weights_file), source=str(weights_file))
    return model


@register
def cnn_lstm(*, num_classes: int, clip_len: int = 16, size: int = 64, hidden: int = 128,
             weights_file: str | None = None, freeze: Freeze = "none") -> Stream:
    """A small 4-block per-frame CNN over each frame and its difference to the previous one (no pretrained
    weights: trained from scratch) → LSTM(``hidden``)."""
    cnn, last = _small_cnn()
    spec = InputSpec("video", clip_len, size, IMAGENET_MEAN, IMAGENET_STD)
    return FrameLSTM(cnn, last, 128, num_classes=num_classes, spec=spec, hidden=hidden, pretrained_weights=None,
                     pretrained=False, weights_file=weights_file, freeze=freeze, frame_input=_WithMotion())


@register
def resnet50_lstm(*, num_classes: int, clip_len: int = 16, size: int = 224, hidden: int = 512,
                  pretrained: bool = False, weights_file: str | None = None, freeze: Freeze = "none") -> Stream:
    """torchvision ResNet50 per frame (ImageNet ``IMAGENET1K_V2`` when ``pretrained``) → LSTM(``hidden``)."""
    resnet = torchvision.models.resnet50()
    resnet.fc = nn.Identity()  # (N, 2048)
    spec = InputSpec("video", clip_len, size, IMAGENET_MEAN, IMAGENET_STD)
    return FrameLSTM(resnet, resnet.layer4, 2048, num_classes=num_classes, spec=spec, hidden=hidden,
                     pretrained_weights=torchvision.models.ResNet50_Weights.IMAGENET1K_V2, pretrained=pretrained,
                     weights_file=weights_file, freeze=freeze)


def _video3d(factory: Callable[[], nn.Module], weights: Any, *, num_classes: int, clip_len: int, size: int,
             pretrained: bool, weights_file: str | None, freeze: Freeze) -> Stream:
    spec = InputSpec("video", clip_len, size, KINETICS_MEAN, KINETICS_STD)
    return Video3D(factory, num_classes=num_classes, spec=spec, pretrained_weights=weights, pretrained=pretrained,
                   weights_file=weights_file, freeze=freeze)


@register
def r3d_18(*, num_classes: int, clip_len: int = 16, size: int = 112, pretrained: bool = False,
           weights_file: str | None = None, freeze: Freeze = "none") -> Stream:
    """torchvision R3D-18 (3D convolutions throughout); Kinetics-400 weights when ``pretrained``."""
    v = torchvision.models.video
    return _video3d(v.r3d_18, v.R3D_18_Weights.KINETICS400_V1, num_classes=num_classes, clip_len=clip_len,
                    size=size, pretrained=pretrained, weights_file=weights_file, freeze=freeze)


@register
def r2plus1d_18(*, num_classes: int, clip_len: int = 16, size: int = 112, pretrained: bool = False,
                weights_file: str | None = None, freeze: Freeze = "none") -> Stream:
    """torchvision R(2+1)D-18 (spatial then temporal convolutions); Kinetics-400 weights when ``pretrained``."""
    v = torchvision.models.video
    return _video3d(v.r2plus1d_18, v.R2Plus1D_18_Weights.KINETICS400_V1, num_classes=num_classes,
                    clip_len=clip_len, size=size, pretrained=pretrained, weights_file=weights_file, freeze=freeze)


@register
def mc3_18(*, num_classes: int, clip_len: int = 16, size: int = 112, pretrained: bool = False,
           weights_file: str | None = None, freeze: Freeze = "none") -> Stream:
    """torchvision MC3-18 (3D convolutions early, 2D late); Kinetics-400 weights when ``pretrained``."""
    v = torchvision.models.video
    return _video3d(v.mc3_18, v.MC3_18_Weights.KINETICS400_V1, num_classes=num_classes, clip_len=clip_len,
                    size=size, pretrained=pretrained, weights_file=weights_file, freeze=freeze)
