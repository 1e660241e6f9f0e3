"""ONNX export of a run's streams, and an onnxruntime-backed predictor with ``RunPredictor``'s interface.

``export_onnx(run_dir, out_dir)`` writes ``rgb.onnx`` and/or ``pose.onnx`` (input ``input`` with a dynamic batch
axis: ``video`` (B, T, 3, S, S) or ``keypoints`` (B, T, V, 4) → ``logits`` (B, C)) and ``export.json``::

    {"format_version": 1, "classes": [...],
     "streams": {"video": {"file": "rgb.onnx", "spec": {InputSpec fields}}, "keypoints": {...}},
     "fusion": {"mode": "fixed", "params": {...}} | null}

``load_onnx_run(out_dir)`` opens it again without torch models: ``twostream live OUT_DIR`` runs on it.
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
from twostream.streams.base import InputSpec

FORMAT_VERSION = 1
FILES = {"video": "rgb.onnx", "keypoints": "pose.onnx"}
MIN_OPSET, MAX_OPSET = 9, 20  # torch.onnx's TorchScript exporter; the streams need 9+ (GRU, LSTM, Upsample)
STREAM_NAMES = {"video": "rgb", "keypoints": "pose"}  # the names fusion.late uses


class ExportResult(NamedTuple):
    out_dir: Path
    files: dict[str, Path]  # input key → .onnx file
    max_abs_diff: dict[str, float]  # input key → largest |onnxruntime - torch| logit on a random batch


def example_input(spec: InputSpec, batch: int = 2, seed: int = 0) -> torch.Tensor:
    """A random batch in the stream's layout: video (B, T, 3, S, S) normalised pixels, keypoints (B, T, V, 4)."""
    g = torch.Generator().manual_seed(seed)
    if spec.key == "video":
        return torch.randn(batch, spec.clip_len, 3, spec.size, spec.size, generator=g)
    from twostream.pose.skeleton import get_layout

    joints = get_layout(spec.layout or "mediapipe33").num_joints
    return torch.rand(batch, spec.clip_len, joints, 4, generator=g)  # x, y in 0..1, z, visibility


def _load_streams(run_dir: Path):
    """The run's classes, torch models by input key, and fusion ``{"mode", "params"}`` (``None`` for one stream)."""
    from twostream.fusion.run import load_run

    if not run_dir.exists():
        raise FileNotFoundError(f"run directory not found: {run_dir}")
    predictor = load_run(run_dir, device="cpu")
    models = {model.input_spec.key: model for model in predictor.models.values()}
    fusion = None if predictor.fusion is None else {"mode": predictor.fusion.name,
                                                    "params": predictor.fusion.to_dict()}
    return list(predictor.classes), models, fusion


def export_onnx(run_dir: str | Path, out_dir: str | Path, *, opset: int = 17) -> ExportResult:
    """Write each stream of ``run_dir`` as ONNX plus ``export.json`` into ``out_dir``; check onnxruntime agrees."""
    from twostream.streams.checkpoint import write_text

    if not MIN_OPSET <= opset <= MAX_OPSET:
        raise ValueError(f"--opset {opset} is outside what the exporter writes ({MIN_OPSET}..{MAX_OPSET}); the "
                         "default 17 suits onnxruntime")
    _require_onnx()
    run_dir, out_dir = Path(run_dir), Path(out_dir)
    classes, models, fusion = _load_streams(run_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    files, diffs, streams = {}, {}, {}
    try:
        for key, model in models.items():
            files[key] = out_dir / FILES[key]
            _export_stream(model, files[key], opset)
            diffs[key] = _max_abs_diff(model, files[key], example_input(model.input_spec, batch=3, seed=1))
            streams[key] = {"file": FILES[key], "spec": model.input_spec.to_dict()}
    except BaseException:
        for path in files.values():  # no half export: the .onnx files go with the failure (export.json never came)
            with contextlib.suppress(OSError):  # never hides the first error
                path.unlink(missing_ok=True)
        raise
    manifest = {"format_version": FORMAT_VERSION, "source_run": str(run_dir), "classes": classes,
                "streams": streams, "fusion": fusion, "max_abs_diff": diffs}
    write_text(out_dir / "export.json", json.dumps(manifest, indent=2) + "\n")
    return ExportResult(out_dir, files, diffs)


def _export_stream(model: torch.nn.Module, path: Path, opset: int) -> None:
    """One stream as ONNX at ``path`` (atomically); an opset the model cannot be expressed in is one line."""
    from twostream.streams.checkpoint import atomic_path

    with atomic_path(path) as tmp, warnings.catch_warnings():
        # shape checks and GRU sizes trace as constants: fine, only the batch axis varies (tested)
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        warnings.filterwarnings("ignore", message=".*batch_size other than 1.*")
        try:
            torch.onnx.export(
                model.eval(), (example_input(model.input_spec),), str(tmp), input_names=["input"],
                output_names=["logits"], dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}},
                opset_version=opset, dynamo=False,
            )
        except (RuntimeError, ValueError, torch.onnx.errors.OnnxExporterError) as exc:
            reason = " ".join(str(exc).split())[:200]
            raise TwostreamError(f"--opset {opset}: the {model.input_spec.key} model cannot be exported at this "
                                 f"opset ({reason}); use the default, --opset 17") from exc


def _require_onnx() -> None:
    """onnx and onnxruntime are the optional `export` extra: say how to get them instead of a traceback."""
    import importlib.util

    missing = [name for name in ("onnx", "onnxruntime") if importlib.util.find_spec(name) is None]
    if missing:
        raise TwostreamError(f"ONNX export and ONNX runs need {' and '.join(missing)}: "
                             "pip install 'twostream[export]' (from a checkout: pip install -e '.[export]')")


def _session(path: Path, threads: int | None = None):
    _require_onnx()
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    if threads is not None:
        options.intra_op_num_threads = threads
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def _max_abs_diff(model: torch.nn.Module, path: Path, x: torch.Tensor) -> float:
    with torch.inference_mode():
        expected = model(x).numpy()  # (B, C)
    got = _session(path).run(None, {"input": x.numpy()})[0]  # (B, C)
    return float(np.abs(got - expected).max())


def _softmax(logits: np.ndarray) -> np.ndarray:
    z = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return z / z.sum(axis=-1, keepdims=True)


class OnnxRunPredictor:
    """``RunPredictor``'s interface (``classes``, ``specs``, ``predict_window``) over onnxruntime sessions."""

    def __init__(self, classes: list[str], specs: dict[str, InputSpec], sessions: dict[str, Any],
                 fusion: dict[str, Any] | None):
        self.classes, self.specs, self._sessions = classes, specs, sessions
        self._fusion = None
        if fusion is not None:
            from twostream.fusion.late import mode_from_dict

            self._fusion = mode_from_dict(fusion["mode"], fusion.get("params", {}))

    def predict_window(self, video=None, keypoints=None):
        """One window, as ``RunPredictor.predict_window``: ``video`` (T, 3, S, S), ``keypoints`` raw (T, V, 4)
        (MediaPipe-33 is reduced to COCO-17 for a pose stream trained on that) → ``fusion.run.Prediction``."""
        from twostream.fusion.run import Prediction
        from twostream.streams.keypoint_data import to_layout

        inputs = {"video": video, "keypoints": keypoints}
        per_stream, detected = {}, None
        for key, session in self._sessions.items():
            if inputs[key] is None:
                raise ValueError(f"this run needs {key}=: its streams are {sorted(self._sessions)}")
            x = np.asarray(inputs[key], np.float32)  # (T, ...)
            if key == "keypoints":
                x = to_layout(x, self.specs[key].layout)  # (T, V, 4)
                detected = float((np.abs(x).sum(axis=(1, 2)) > 0).mean())
            logits = session.run(None, {"input": np.ascontiguousarray(x)[None]})[0]  # (1, C)
            per_stream[STREAM_NAMES[key]] = _softmax(logits)[0]  # (C,)
        if self._fusion is None:
            fused = next(iter(per_stream.values()))
        else:
            probs = {name: p[None] for name, p in per_stream.items()}  # (1, C) each
            fused = self._fusion.fuse(probs, {"detected_fraction": np.array([detected])})[0]
        return Prediction(fused, per_stream, detected)


def load_onnx_run(out_dir: str | Path, threads: int | None = None) -> OnnxRunPredictor:
    """Open an ``export_onnx`` folder (``threads``: onnxruntime intra-op threads, default all cores);
    ``CheckpointError`` naming the file if it is missing or of another format."""
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
    specs, sessions = {}, {}
    for key, entry in manifest["streams"].items():
        specs[key] = InputSpec.from_dict(entry["spec"])
        path = out_dir / entry["file"]
        if not path.is_file():
            raise CheckpointError(f"{path} is missing from the export; re-run `twostream export`")
        sessions[key] = _session(path, threads)
    return OnnxRunPredictor(list(manifest["classes"]), specs, sessions, manifest.get("fusion"))
