"""Open a run directory — one stream (``best.pt``), a fused run (``fusion.json``) or an ONNX export
(``export.json``, ``fusion.export``) — with ``load_run``, and predict with it.

A fused run ``FUSED_RUN/`` is one self-contained artefact::

    fusion.json   {"format_version", "mode", "params": {mode: fitted parameters, for every mode}, "classes",
                   "root", "split": {...}, "streams": {"rgb": {"run", "arch", "file"}, "pose": {...}},
                   "validation": {mode: accuracy on the validation videos}}
    rgb.pt        copy of the RGB run's best.pt
    pose.pt       copy of the pose run's best.pt

``RunPredictor`` is the one predictor: each stream on its backend (``fusion.backends``: a torch module or
onnxruntime sessions), the fusion done once over either. ``RunPredictor.stream_probs`` is the one function from
raw batched inputs to per-stream softmax; evaluation, ``predict``, ``fuse``, the timeline and the live demo all go
through it.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import torch
from scipy.special import softmax

from twostream.errors import CheckpointError
from twostream.fusion.backends import StreamBackend, TorchBackend, resolve_precision
from twostream.fusion.features import FrameFeatureCache
from twostream.fusion.late import mode_from_dict
from twostream.pose.backends import PoseConfig
from twostream.pose.cache import PoseCache, select_persons
from twostream.streams.base import InputSpec, Stream
from twostream.streams.checkpoint import atomic_path, load_model, write_text
from twostream.streams.inference import open_run
from twostream.streams.keypoint_data import to_layout

FUSION_FILE = "fusion.json"
EXPORT_FILE = "export.json"  # an ONNX export (fusion.export)
FORMAT_VERSION = 1
STREAM_FILES = {"rgb": "rgb.pt", "pose": "pose.pt"}


@dataclass(frozen=True)
class Prediction:
    """Class probabilities of one window or video."""

    fused: np.ndarray
    """(C,) the run's answer (the only stream's softmax for a single-stream run)."""
    per_stream: dict[str, np.ndarray]
    """``"rgb"`` / ``"pose"`` → (C,) softmax of each stream."""
    pose_detected_fraction: float | None
    """Share of the keypoint window's frames in which a person was found; None without a pose stream."""


def stream_role(model: Stream) -> str:
    """``"pose"`` for a stream that reads keypoints, ``"rgb"`` for one that reads video."""
    return "pose" if model.input_spec.key == "keypoints" else "rgb"


def detected_fraction(keypoints: torch.Tensor) -> torch.Tensor:
    """(B, T, [M,] V, 4) raw keypoints → (B,) share of frames with any non-zero joint (a person found)."""
    return (keypoints.abs().flatten(2).sum(-1) > 0).float().mean(1)


class RunPredictor:
    """One or two streams, each on its backend (``fusion.backends``: a torch module or an ONNX export's sessions),
    with their classes and, for a fused run, the fitted fusion mode. ``load_run`` opens any run as one."""

    def __init__(self, backends: Mapping[str, StreamBackend | Stream], classes: Sequence[str], fusion: Any = None,
                 device: str | torch.device = "cpu", precision: str = "fp32") -> None:
        """``backends``: role (``"rgb"`` / ``"pose"``) → backend, or a torch ``Stream`` (run on ``device`` in
        ``precision``: ``"auto"``, ``"fp32"`` or ``"bf16"``, see ``fusion.backends.resolve_precision``)."""
        self.backends: dict[str, StreamBackend] = {
            role: TorchBackend(b, device, precision) if isinstance(b, torch.nn.Module) else b
            for role, b in backends.items()}
        self.classes, self.fusion, self.device = tuple(classes), fusion, torch.device(device)
        self.specs: dict[str, InputSpec] = {b.spec.key: b.spec for b in self.backends.values()}
        self._caches = {role: FrameFeatureCache(b) for role, b in self.backends.items() if b.frame_wise}
        self.frame_wise = frozenset(self.backends[role].spec.key for role in self._caches)
        """Input keys whose stream computes features per frame: ``predict_window(..., frames=)`` reuses them."""

    def reset(self) -> None:
        """Forget the per-frame features of the frames seen so far: a new source starts (its frame indices would
        otherwise name another video's frames)."""
        self._caches = {role: FrameFeatureCache(self.backends[role]) for role in self._caches}

    @property
    def models(self) -> dict[str, Stream]:
        """Role → torch module of the streams that run in torch (none for an ONNX export)."""
        return {role: b.model for role, b in self.backends.items() if isinstance(b, TorchBackend)}

    def stream_probs(self, batch: Mapping[str, Any]) -> dict[str, np.ndarray]:
        """Per-stream softmax ``(B, C)`` of the streams whose input key ``batch`` holds."""
        return {role: softmax(b.logits(batch[b.spec.key]), axis=1)
                for role, b in self.backends.items() if b.spec.key in batch}

    def combine(self, probs: Mapping[str, np.ndarray], detected: np.ndarray | None) -> np.ndarray:
        """(B, C) answer of the run from per-stream probabilities and the pose detected fractions (B,)."""
        if self.fusion is None:
            if len(probs) != 1:
                raise ValueError(f"streams {sorted(probs)} need a fusion mode to give one answer")
            return next(iter(probs.values()))
        return self.fusion.fuse(probs, {"detected_fraction": detected})

    def predict_window(self, video: Any = None, keypoints: np.ndarray | None = None,
                       frames: Mapping[str, np.ndarray] | None = None) -> Prediction:
        """One window: ``video`` float (T, 3, S, S) from ``frames_to_tensor``; ``keypoints`` raw (T, M, V, 4) or
        (T, V, 4).

        MediaPipe-33 keypoints are reduced to COCO-17 when the pose stream was trained on that layout.
        ``frames`` (input key → (T,) source frame indices of the window, as the live buffers give them) lets a
        frame-wise stream (``frame_wise``) reuse the features of frames it has seen: only new frames go through
        its backbone (equal to the clip path within float error).
        """
        batch = None if keypoints is None else np.asarray(keypoints, dtype=np.float32)[None]  # (1, T, [M,] V, 4)
        return self._predict(video, batch, frames)[0]

    def predict_persons(self, video: Any, keypoints: np.ndarray,
                        frames: Mapping[str, np.ndarray] | None = None) -> list[Prediction]:
        """One window, one answer per person slot: ``keypoints`` raw (T, M, V, 4), slot ``m`` one tracked person.

        The RGB stream scores the scene once — it was trained on whole frames, so a crop around one person would
        be a picture it never saw — and every person shares that answer; the pose stream runs on each slot's
        skeleton as on a single person (all slots in one batch), and the fusion combines the two per slot. Slot
        ``m`` alone equals ``predict_window(video, keypoints[:, m])``.
        """
        kp = np.asarray(keypoints, dtype=np.float32)
        if kp.ndim != 4:
            raise ValueError(f"predict_persons takes keypoints (T, M, V, 4), got shape {kp.shape}")
        if "keypoints" not in self.specs:
            return [self.predict_window(video, None, frames)]
        return self._predict(video, np.moveaxis(kp, 1, 0), frames)  # (M, T, V, 4): each person alone

    def _predict(self, video: Any, keypoints: np.ndarray | None,
                 frames: Mapping[str, np.ndarray] | None) -> list[Prediction]:
        """``B`` answers for one video window (T, 3, S, S) shared by ``B`` raw keypoint windows (B, T, [M,] V, 4)."""
        batch: dict[str, np.ndarray] = {}
        if "video" in self.specs:
            if video is None:
                raise ValueError("this run has an RGB stream: pass video (T, 3, S, S)")
            batch["video"] = np.asarray(video, dtype=np.float32)[None]  # (1, T, 3, S, S)
        detected = None
        if "keypoints" in self.specs:
            if keypoints is None:
                raise ValueError("this run has a pose stream: pass keypoints (T, M, V, 4)")
            spec = self.specs["keypoints"]
            batch["keypoints"] = np.stack([select_persons(to_layout(k, spec.layout), getattr(spec, "persons", None))
                                           for k in keypoints])  # (B, T, [M,] V, 4) as the model takes it
            detected = detected_fraction(torch.from_numpy(batch["keypoints"])).numpy()  # (B,)
        probs = {}
        for role, cache in self._caches.items():
            key = self.backends[role].spec.key
            if frames is not None and key in frames:
                probs[role] = softmax(cache.logits(frames[key], batch.pop(key)[0]), axis=1)  # (1, C)
        probs.update(self.stream_probs(batch))  # the clip path for the rest
        n = 1 if detected is None else len(detected)
        probs = {role: np.repeat(p, n // len(p), axis=0) for role, p in probs.items()}  # the scene's RGB: shared
        fused = self.combine(probs, detected)  # (B, C)
        return [Prediction(fused[i], {role: p[i] for role, p in probs.items()},
                           None if detected is None else float(detected[i])) for i in range(n)]

    def predict_video(self, path: str | Path, *, pose: PoseConfig = PoseConfig()) -> Prediction:
        """The whole video: each stream's evaluation clip (its run's ``Sampling``, segment or dense); keypoints
        from a fresh cache, else pose + tracking (``pose``) on those frames now."""
        from twostream.datasets.video import probe

        num_frames = probe(path).num_frames
        keypoints = None
        if "keypoints" in self.specs:
            spec = self.specs["keypoints"]
            indices = spec.sampling.indices(num_frames, spec.clip_len)
            keypoints = _keypoints_of(path, indices, pose)  # (T, M, V, 4)
        return self.predict_window(self._video_clip(path, num_frames), keypoints)

    def predict_video_persons(self, path: str | Path, cache: PoseCache) -> list[Prediction]:
        """The whole video, one answer per person slot of ``cache`` (its tracked keypoints), as
        ``predict_persons``; a run without a keypoint stream gives its one scene answer."""
        from twostream.datasets.video import probe
        from twostream.pose.cache import keypoints_at

        num_frames = probe(path).num_frames
        video = self._video_clip(path, num_frames)
        if "keypoints" not in self.specs:
            return [self.predict_window(video)]
        spec = self.specs["keypoints"]
        return self.predict_persons(video, keypoints_at(cache, spec.sampling.indices(num_frames, spec.clip_len)))

    def _video_clip(self, path: str | Path, num_frames: int) -> torch.Tensor | None:
        """(T, 3, S, S): the RGB stream's evaluation clip of the video; None when the run has no RGB stream."""
        from twostream.datasets.transforms import frames_to_tensor
        from twostream.datasets.video import read_clip

        if "video" not in self.specs:
            return None
        spec = self.specs["video"]
        clip = read_clip(path, spec.sampling.indices(num_frames, spec.clip_len))
        return frames_to_tensor(clip.frames, spec.size, spec.mean, spec.std)


def _keypoints_of(path: str | Path, indices: np.ndarray, pose: PoseConfig) -> np.ndarray:
    """(T, M, V, 4) from the video's fresh cache, else pose + tracking on just those frames."""
    from twostream.datasets.video import read_clip
    from twostream.pose.cache import keypoints_at, load_fresh
    from twostream.pose.extract import track_video
    from twostream.pose.tracking import PoseStream

    cache = load_fresh(path)
    if cache is not None:
        return keypoints_at(cache, indices)
    clip = read_clip(path, indices)
    with PoseStream(pose) as stream:
        _, tracked = track_video(stream, clip.frames, fps=1000 / 40)  # frames 40 ms apart: Tasks needs a clock
    return np.stack([t.keypoints for t in tracked])  # (T, M, V, 4)


def top_classes(probs: np.ndarray, classes: tuple[str, ...], k: int = 5) -> list[tuple[str, float]]:
    """The ``k`` most probable ``(class, probability)`` of one (C,) answer, most probable first."""
    order = np.argsort(-probs, kind="stable")[:k]
    return [(classes[i], float(probs[i])) for i in order]


def read_fusion(run_dir: str | Path) -> dict[str, Any]:
    """The ``fusion.json`` record of a fused run; ``CheckpointError`` naming the file when it is not one."""
    path = Path(run_dir) / FUSION_FILE
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"{path} is not a readable fusion record ({exc}); re-create it with "
                              "`twostream fuse RGB_RUN POSE_RUN --out FUSED_RUN`") from exc
    if record.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(f"{path} has format_version {record.get('format_version')!r}, this twostream reads "
                              f"{FORMAT_VERSION}; re-create it with `twostream fuse`")
    return record


def load_run(run_dir: str | Path, device: str | torch.device = "cpu", mode: str | None = None, *,
             threads: int | None = None, precision: str = "fp32") -> RunPredictor:
    """Open any run, reading each checkpoint once: a single-stream training run (a directory with ``best.pt``, or
    a ``.pt`` file), a fused run (``fusion.json``) or an ONNX export (``export.json``, run by onnxruntime with
    ``threads`` intra-op threads, default all cores). ``mode`` overrides a fused run's chosen fusion mode.

    ``precision`` (``"auto"``, ``"fp32"``, ``"bf16"``): what a torch RGB stream computes in
    (``fusion.backends.resolve_precision``); fp32, the default, gives the scores evaluation reports. An ONNX
    export runs in fp32: ``"bf16"`` is refused there."""
    run_dir = Path(run_dir)
    resolve_precision(precision, device)  # a bad value fails before any checkpoint is read
    if (run_dir / EXPORT_FILE).is_file():
        from twostream.fusion.export import read_export

        if precision == "bf16":
            raise ValueError(f"{run_dir} is an ONNX export, which onnxruntime runs in fp32; drop --precision bf16 "
                             "(or open the training or fused run it was exported from)")
        export = read_export(run_dir, threads)
        fusion = None if export.fusion is None else _fusion_mode(run_dir, mode or export.fusion["mode"],
                                                                {export.fusion["mode"]: export.fusion["params"]})
        return RunPredictor(export.backends, export.classes, fusion, device)
    if (run_dir / FUSION_FILE).is_file():
        record = read_fusion(run_dir)
        classes = tuple(record["classes"])
        for name in STREAM_FILES.values():
            if not (run_dir / name).is_file():
                raise CheckpointError(f"fused run {run_dir} lacks {name}; fuse it again: twostream fuse RGB_RUN "
                                      f"POSE_RUN --out {run_dir} --overwrite")
        models = {role: load_model(run_dir / STREAM_FILES[role], expect_classes=classes, device=device)
                  for role in STREAM_FILES}
        return RunPredictor(models, classes, _fusion_mode(run_dir, mode or record["mode"], record["params"]), device,
                            precision)
    run = open_run(run_dir, device=device)
    return RunPredictor({stream_role(run.model): run.model}, run.classes, None, device, precision)


def _fusion_mode(run_dir: Path, name: str, params: Mapping[str, Any]):
    if name not in params:
        raise ValueError(f"fused run {run_dir} has no fitted mode {name!r}; it has {', '.join(params)}")
    return mode_from_dict(name, params[name])


def write_fused_run(out: str | Path, record: Mapping[str, Any], checkpoints: Mapping[str, Path]) -> Path:
    """Write ``out/fusion.json`` and copy each stream's checkpoint to ``out/rgb.pt`` / ``out/pose.pt``
    (each file atomically). Returns ``out``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    for role, source in checkpoints.items():
        with atomic_path(out / STREAM_FILES[role]) as tmp:
            shutil.copyfile(source, tmp)
    write_text(out / FUSION_FILE, json.dumps({"format_version": FORMAT_VERSION, **record}, indent=2))
    return out
