"""ONNX export of a run's streams; ``fusion.run.load_run`` opens the export again (``fusion.backends.OnnxBackend``).

``export_onnx(run_dir, out_dir)`` writes ``rgb.onnx`` and/or ``pose.onnx`` (input ``input`` with a dynamic batch
axis: ``video`` (B, T, 3, S, S) or ``keypoints`` (B, T, V, 4) → ``logits`` (B, C)) and ``export.json``::

    {"format_version": 1, "classes": [...],
     "streams": {"video": {"file": "rgb.onnx", "spec": {InputSpec fields},
                           "split": {"frames": "rgb_frames.onnx", "head": "rgb_head.onnx", "frame_context": 0|1}},
                 "keypoints": {"file": "pose.onnx", "spec": {...}}},
     "fusion": {"mode": "fixed", "params": {...}} | null, "max_abs_diff": {key: float}}

A frame-wise stream (``cnn_lstm``, ``resnet50_lstm``) is also split (``split``, absent for other streams): its
backbone ``frames`` (N, 3, S, S) [+ ``previous`` (N, 3, S, S), the clip's previous pick, with the motion channel]
→ ``features`` (N, D), and its temporal head ``features`` (B, T, D) → ``logits`` (B, C), so the live demo on an
export computes each frame's features once, as it does in torch. ``twostream live OUT_DIR`` runs on it.
"""

from __future__ import annotations

import contextlib
import json
import warnings
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch

from twostream.errors import CheckpointError, TwostreamError
from twostream.fusion.backends import OnnxBackend, onnx_session, require_onnx
from twostream.streams.base import InputSpec

FORMAT_VERSION = 1
FILES = {"video": "rgb.onnx", "keypoints": "pose.onnx"}
MIN_OPSET, MAX_OPSET = 9, 20  # torch.onnx's TorchScript exporter; the streams need 9+ (GRU, LSTM, Upsample)
STREAM_NAMES = {"video": "rgb", "keypoints": "pose"}  # the names fusion.late uses


class ExportResult(NamedTuple):
    out_dir: Path
    files: dict[str, Path]  # input key → .onnx file (the clip model)
    max_abs_diff: dict[str, float]  # input key → largest |onnxruntime - torch| logit on a random batch (both paths)


def example_input(spec: InputSpec, batch: int = 2, seed: int = 0) -> torch.Tensor:
    """A random batch in the stream's layout: video (B, T, 3, S, S) normalised pixels, keypoints (B, T, V, 4), or
    (B, T, M, V, 4) for a model of ``spec.persons`` M persons."""
    g = torch.Generator().manual_seed(seed)
    if spec.key == "video":
        return torch.randn(batch, spec.clip_len, 3, spec.size, spec.size, generator=g)
    from twostream.pose.skeleton import get_layout

    joints = get_layout(spec.layout or "mediapipe33").num_joints
    persons = () if spec.persons is None else (spec.persons,)
    return torch.rand(batch, spec.clip_len, *persons, joints, 4, generator=g)  # x, y in 0..1, z, visibility


class _FrameBackbone(torch.nn.Module):
    """A frame-wise stream's backbone as its own graph: (N, 3, S, S) [+ previous picks] → (N, D)."""

    def __init__(self, model: torch.nn.Module):
        super().__init__()
        self.model = model

    def forward(self, frames: torch.Tensor, previous: torch.Tensor | None = None) -> torch.Tensor:
        return self.model.frame_features(frames[:, None], previous=previous)[:, 0]  # (N, 1, D) -> (N, D)


class _TemporalHead(torch.nn.Module):
    """A frame-wise stream's temporal head as its own graph: (B, T, D) → (B, C)."""

    def __init__(self, model: torch.nn.Module):
        super().__init__()
        self.model = model

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.model.forward_head(self.model.forward_temporal(features))


def export_onnx(run_dir: str | Path, out_dir: str | Path, *, opset: int = 17) -> ExportResult:
    """Write each stream of ``run_dir`` as ONNX plus ``export.json`` into ``out_dir``; check onnxruntime agrees."""
    from twostream.fusion.run import load_run
    from twostream.streams.checkpoint import write_text

    if not MIN_OPSET <= opset <= MAX_OPSET:
        raise ValueError(f"--opset {opset} is outside what the exporter writes ({MIN_OPSET}..{MAX_OPSET}); the "
                         "default 17 suits onnxruntime")
    require_onnx()
    run_dir, out_dir = Path(run_dir), Path(out_dir)
    if not run_dir.exists():
        raise FileNotFoundError(f"run directory not found: {run_dir}")
    predictor = load_run(run_dir, device="cpu")
    out_dir.mkdir(parents=True, exist_ok=True)
    written, diffs, streams = [], {}, {}
    try:
        for role, backend in predictor.backends.items():
            key = backend.spec.key
            streams[key] = _export_stream(backend.model, out_dir, opset, written)
            diffs[key] = _max_abs_diff(backend.model, _open_stream(out_dir, streams[key]),
                                       example_input(backend.spec, batch=3, seed=1))
    except BaseException:
        for path in written:  # no half export: the .onnx files go with the failure (export.json never came)
            with contextlib.suppress(OSError):  # never hides the first error
                path.unlink(missing_ok=True)
        raise
    fusion = None if predictor.fusion is None else {"mode": predictor.fusion.name,
                                                    "params": predictor.fusion.to_dict()}
    manifest = {"format_version": FORMAT_VERSION, "source_run": str(run_dir), "classes": list(predictor.classes),
                "streams": streams, "fusion": fusion, "max_abs_diff": diffs}
    write_text(out_dir / "export.json", json.dumps(manifest, indent=2) + "\n")
    return ExportResult(out_dir, {key: out_dir / entry["file"] for key, entry in streams.items()}, diffs)


def _export_stream(model: torch.nn.Module, out_dir: Path, opset: int, written: list[Path]) -> dict[str, Any]:
    """The stream's clip graph and, when frame-wise, its backbone and head graphs; its ``export.json`` entry."""
    spec = model.input_spec
    entry: dict[str, Any] = {"file": FILES[spec.key], "spec": spec.to_dict()}
    x = example_input(spec)  # (B, T, ...)
    graphs = [(model, entry["file"], (x,), ["input"], ["logits"])]
    if callable(getattr(model, "frame_features", None)):
        context = int(getattr(model, "frame_context", 0))
        stem = FILES[spec.key].removesuffix(".onnx")
        entry["split"] = {"frames": f"{stem}_frames.onnx", "head": f"{stem}_head.onnx", "frame_context": context}
        frames = x.flatten(0, 1)  # (B*T, 3, S, S)
        with torch.inference_mode():
            features = model.frame_features(x)  # (B, T, D)
        graphs += [(_FrameBackbone(model), entry["split"]["frames"], (frames, frames) if context else (frames,),
                    ["frames", "previous"][:1 + context], ["features"]),
                   (_TemporalHead(model), entry["split"]["head"], (features.clone(),), ["features"], ["logits"])]
    for module, name, args, inputs, outputs in graphs:
        written.append(out_dir / name)
        _export_graph(module, spec.key, written[-1], args, inputs, outputs, opset)
    return entry


def _open_stream(out_dir: Path, entry: dict[str, Any], threads: int | None = None) -> OnnxBackend:
    """One ``export.json`` stream entry as an onnxruntime backend; ``CheckpointError`` for a missing file."""
    def session(name: str):
        path = out_dir / name
        if not path.is_file():
            raise CheckpointError(f"{path} is missing from the export; re-run `twostream export`")
        return onnx_session(path, threads)

    split = entry.get("split")
    sessions = {} if split is None else {"frames": session(split["frames"]), "head": session(split["head"])}
    return OnnxBackend(InputSpec.from_dict(entry["spec"]), session(entry["file"]),
                       frame_context=0 if split is None else split["frame_context"], **sessions)


def _export_graph(module: torch.nn.Module, key: str, path: Path, args: tuple, inputs: list[str],
                  outputs: list[str], opset: int) -> None:
    """One graph as ONNX at ``path`` (atomically), every input and output with a dynamic batch axis; an opset the
    model cannot be expressed in is one line."""
    from twostream.streams.checkpoint import atomic_path

    axes = {name: {0: "batch"} for name in inputs + outputs}
    with atomic_path(path) as tmp, warnings.catch_warnings():
        # shape checks and GRU sizes trace as constants: fine, only the batch axis varies (tested)
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        warnings.filterwarnings("ignore", message=".*batch_size other than 1.*")
        try:
            torch.onnx.export(module.eval(), args, str(tmp), input_names=inputs, output_names=outputs,
                              dynamic_axes=axes, opset_version=opset, dynamo=False)
        except (RuntimeError, ValueError, torch.onnx.errors.OnnxExporterError) as exc:
            reason = " ".join(str(exc).split())[:200]
            raise TwostreamError(f"--opset {opset}: the {key} model cannot be exported at this "
                                 f"opset ({reason}); use the default, --opset 17") from exc


def _max_abs_diff(model: torch.nn.Module, backend: OnnxBackend, x: torch.Tensor) -> float:
    """Largest |onnxruntime - torch| logit on ``x``, over the clip path and (frame-wise) the split path."""
    with torch.inference_mode():
        expected = model(x).numpy()  # (B, C)
    diff = float(np.abs(backend.logits(x) - expected).max())
    if backend.frame_wise:
        b, t = x.shape[:2]
        frames, previous = x.flatten(0, 1), torch.cat([x[:, :1], x[:, :-1]], 1).flatten(0, 1)  # (B*T, 3, S, S)
        features = backend.frame_features(frames, previous if backend.frame_context else None)  # (B*T, D)
        if backend.frame_context:  # each clip's first frame has no previous one
            features[::t] = backend.frame_features(x[:, 0])
        split = backend.head_logits(features.reshape(b, t, -1))  # (B, C)
        diff = max(diff, float(np.abs(split - expected).max()))
    return diff


class Export(NamedTuple):
    classes: tuple[str, ...]
    backends: dict[str, OnnxBackend]  # role ("rgb" / "pose") → the stream's sessions
    fusion: dict[str, Any] | None  # {"mode", "params"}, None for one stream


def read_export(out_dir: str | Path, threads: int | None = None) -> Export:
    """An ``export_onnx`` folder's streams as onnxruntime backends (``threads``: intra-op threads, default all
    cores); ``CheckpointError`` naming the file if it is missing or of another format. ``fusion.run.load_run``
    opens an export through this."""
    out_dir = Path(out_dir)
    manifest_path = out_dir / "export.json"
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CheckpointError(f"cannot read {manifest_path} ({exc}); re-run `twostream export RUN --onnx "
                              f"{out_dir}`") from None
    if manifest.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(f"{manifest_path} has format_version {manifest.get('format_version')!r}, this "
                              f"twostream reads {FORMAT_VERSION}: re-export the run")
    backends = {STREAM_NAMES[key]: _open_stream(out_dir, entry, threads)
                for key, entry in manifest["streams"].items()}
    return Export(tuple(manifest["classes"]), backends, manifest.get("fusion"))
