"""Per-stream inference backends under ``fusion.run.RunPredictor``: a torch module (``TorchBackend``) or
onnxruntime sessions of an ONNX export (``OnnxBackend``). The predictor does the fusion once, over either.

A backend scores one stream: ``logits(x)`` is the clip path, (B, T, ...) → (B, C) float32. A frame-wise backend
(``frame_wise``: ``cnn_lstm``, ``resnet50_lstm``) also splits into ``frame_features`` (one backbone pass per frame)
and ``head_logits`` (the temporal head over a window's features), which ``fusion.features.FrameFeatureCache``
drives. Arrays in and out are NumPy (a torch tensor is taken too), so the caller never cares which it is.

Precision (``resolve_precision``, the one place that decides it): an RGB stream runs in float32 or bfloat16 —
weights and inputs cast, convolution weights in channels-last order — and always answers float32. ``"auto"`` is
bf16 where the hardware computes it natively (a CPU with AMX or AVX512-BF16 through oneDNN, a CUDA GPU with bf16),
fp32 elsewhere. Keypoint streams stay float32: their small graph convolutions gain nothing from bf16 and their
inputs are coordinates that bf16 would round to three digits.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch

from twostream.errors import TwostreamError
from twostream.streams.base import InputSpec, to_channels_last


class StreamBackend(Protocol):
    spec: InputSpec
    precision: str
    """``"fp32"`` or ``"bf16"``: what the stream computes in (its answers are float32 either way)."""
    frame_wise: bool
    frame_context: int
    """Earlier clip frames one frame's features depend on (1: the motion channel of ``cnn_lstm``), else 0."""

    def logits(self, x: Any) -> np.ndarray: ...

    def frame_features(self, frames: Any, previous: Any | None = None) -> np.ndarray: ...

    def head_logits(self, features: np.ndarray) -> np.ndarray: ...


def is_frame_wise(model: torch.nn.Module) -> bool:
    """Whether ``model`` splits into per-frame ``frame_features`` and a ``forward_temporal`` head."""
    return callable(getattr(model, "frame_features", None)) and callable(getattr(model, "forward_temporal", None))


PRECISIONS = ("auto", "fp32", "bf16")
_DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16}


def native_bf16(device: str | torch.device) -> bool:
    """Whether ``device`` computes bfloat16 natively: a CUDA GPU with bf16, or a CPU with AMX tiles or AVX512-BF16
    (oneDNN runs bf16 convolutions there several times faster than fp32; elsewhere bf16 is emulated, no faster)."""
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    if device.type == "cpu":
        return any(getattr(torch.cpu, probe, lambda: False)()
                   for probe in ("_is_amx_tile_supported", "_is_avx512_bf16_supported"))
    return False


def resolve_precision(precision: str, device: str | torch.device, key: str = "video") -> str:
    """``"fp32"`` or ``"bf16"``: the precision a stream reading ``key`` runs in on ``device`` when ``precision``
    (``"auto"``, ``"fp32"`` or ``"bf16"``) is asked. Keypoint streams are always fp32; ``"auto"`` is bf16 where
    ``native_bf16``."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision {precision!r} is not one of {', '.join(PRECISIONS)}; pass --precision auto "
                         "(bf16 where the hardware has it), fp32 or bf16")
    if key != "video" or precision == "fp32":
        return "fp32"
    return "bf16" if precision == "bf16" or native_bf16(device) else "fp32"


class TorchBackend:
    """A stream's torch module (eval mode) on ``device``, in the precision ``resolve_precision`` gives (a bf16
    backend casts the module it is given in place: it owns it)."""

    def __init__(self, model: torch.nn.Module, device: str | torch.device = "cpu", precision: str = "fp32"):
        self.model, self.device, self.spec = model.eval(), torch.device(device), model.input_spec
        self.precision = resolve_precision(precision, self.device, self.spec.key)
        self.dtype = _DTYPES[self.precision]
        if self.spec.key == "video":
            to_channels_last(model)
        model.to(self.dtype)
        self.frame_wise = is_frame_wise(model)
        self.frame_context = int(getattr(model, "frame_context", 0))

    def _tensor(self, x: Any) -> torch.Tensor:
        return torch.as_tensor(x).to(self.device, self.dtype)

    @torch.inference_mode()
    def logits(self, x: Any) -> np.ndarray:
        return self.model(self._tensor(x)).float().cpu().numpy()  # (B, C)

    @torch.inference_mode()
    def frame_features(self, frames: Any, previous: Any | None = None) -> np.ndarray:
        """(N, 3, S, S) frames, each with its clip's previous pick (N, 3, S, S) or none (a clip's start) → (N, D)."""
        prev = None if previous is None else self._tensor(previous)
        return self.model.frame_features(self._tensor(frames)[:, None], previous=prev)[:, 0].float().cpu().numpy()

    @torch.inference_mode()
    def head_logits(self, features: np.ndarray) -> np.ndarray:
        """(B, T, D) per-frame features of a window → (B, C) logits."""
        return self.model.forward_head(self.model.forward_temporal(self._tensor(features))).float().cpu().numpy()


class OnnxBackend:
    """A stream of an ONNX export: the clip model and, for a frame-wise stream, its backbone and head split."""

    precision = "fp32"  # onnxruntime's CPU sessions run the export's float32 graph

    def __init__(self, spec: InputSpec, clip: Any, frames: Any | None = None, head: Any | None = None,
                 frame_context: int = 0):
        self.spec, self._clip, self._frames, self._head = spec, clip, frames, head
        self.frame_wise = frames is not None and head is not None
        self.frame_context = frame_context

    def logits(self, x: Any) -> np.ndarray:
        return self._clip.run(None, {"input": _array(x)})[0]  # (B, C)

    def frame_features(self, frames: Any, previous: Any | None = None) -> np.ndarray:
        frames = _array(frames)  # (N, 3, S, S)
        inputs = {"frames": frames}
        if self.frame_context:  # a clip's start has no previous frame: its motion channel is zero, as frame - frame
            inputs["previous"] = frames if previous is None else _array(previous)
        return self._frames.run(None, inputs)[0]  # (N, D)

    def head_logits(self, features: np.ndarray) -> np.ndarray:
        return self._head.run(None, {"features": _array(features)})[0]  # (B, C)


def _array(x: Any) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    return np.ascontiguousarray(x, dtype=np.float32)


def require_onnx() -> None:
    """onnx and onnxruntime are the optional `export` extra: say how to get them instead of a traceback."""
    missing = [name for name in ("onnx", "onnxruntime") if importlib.util.find_spec(name) is None]
    if missing:
        raise TwostreamError(f"ONNX export and ONNX runs need {' and '.join(missing)}: "
                             "pip install 'twostream[export]' (from a checkout: pip install -e '.[export]')")


def onnx_session(path: str | Path, threads: int | None = None):
    """An onnxruntime CPU session on ``path`` (``threads``: intra-op threads, default all cores)."""
    require_onnx()
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    if threads is not None:
        options.intra_op_num_threads = threads
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
