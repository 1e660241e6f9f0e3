"""Slide a run's window over a whole video and score every window with every stream, in batches.

A stream's window is ``clip_len`` frames spread evenly (``uniform_indices``) over ``span`` seconds centred on
the window's time, which is the time scale the run was trained at: a clip of ``clip_len`` frames spread over a
whole training video. Windows are centred every ``hop`` seconds. The video is decoded once, front to back; each
frame a window needs is preprocessed once (``frames_to_tensor``) and shared by every window that uses it, and
dropped when no later window needs it, so memory stays flat on long videos. Keypoints come from the video's
fresh ``.pose.npz`` cache, else from MediaPipe over the whole video (``pose.extract.extract_video``).

A frame-wise RGB stream (``cnn_lstm``, ``resnet50_lstm``) runs its backbone once per frame, not once per window:
its windows start on a grid of its pick spacing, so that consecutive windows pick the same frames, and the live
demo's ``FrameFeatureCache`` keeps the features of the latest window's frames; only the temporal head runs per
window. Scores equal the clip path on the same windows within float error.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Mapping

import numpy as np
import torch
from scipy.special import softmax

from twostream.datasets.sampling import uniform_indices
from twostream.datasets.transforms import frames_to_tensor
from twostream.datasets.video import iter_frames, probe
from twostream.fusion.features import FrameFeatureCache
from twostream.fusion.run import RunPredictor, detected_fraction
from twostream.streams.keypoint_data import to_layout

MIN_PERSON = 0.5
"""A window whose keypoint frames show a person less often than this is background (runs with a pose stream)."""


@dataclass(frozen=True)
class Timeline:
    """Scores of one video's windows."""

    video: Path
    times: np.ndarray
    """(N,) window centres in seconds."""
    fused: np.ndarray
    """(N, C) the run's answer per window (zeros where nobody is in view, for runs with a pose stream)."""
    per_stream: dict[str, np.ndarray]
    """``"rgb"`` / ``"pose"`` → (N, C) softmax per window."""
    detected: np.ndarray | None
    """(N,) share of each window's keypoint frames with a person; None without a pose stream."""
    duration: float
    """Seconds."""
    fps: float
    hop: float
    spans: dict[str, float]
    """Window length in seconds per input key."""
    keypoints_from: str | None
    """``"cache"`` or ``"extracted"``; None without a pose stream."""


def training_span(run_dir: str | Path) -> float:
    """Median duration in seconds of the videos the run was trained on (its dataset recorded in
    ``config.json`` / ``fusion.json``): the time a training clip's frames were spread over."""
    from twostream.datasets.folder import scan_class_folders

    run_dir = Path(run_dir)
    record = run_dir / "fusion.json" if (run_dir / "fusion.json").is_file() else run_dir / "config.json"
    data = json.loads(record.read_text()) if record.is_file() else {}
    root = data.get("root") or (data.get("data") or {}).get("root")
    if not root or not Path(root).is_dir():
        raise ValueError(f"{run_dir} records no readable training dataset ({root!r}), so its time scale is "
                         "unknown; pass --window SECONDS (the typical length of a training clip)")
    durations = []
    for item in scan_class_folders(root)[1][:400]:
        info = probe(item.path)
        durations.append(info.num_frames / (info.fps or 25.0))
    return float(np.median(durations))


def stream_window(spec, fps: float, span: float | None) -> tuple[int, np.ndarray]:
    """(window length in frames, the ``clip_len`` picks inside it) for one stream at the video's ``fps``.

    ``span`` seconds: ``clip_len`` frames spread evenly over it (segment sampling's evaluation picks: the centre of
    each of ``clip_len`` equal parts, the span rounded to whole frames per part). ``None``: the run's own sampling
    record (``InputSpec.sampling``, as the live demo reads it) — ValueError when the run has none.
    """
    sampling = getattr(spec, "sampling", None)
    if span is None:
        if sampling is None or (sampling.mode != "dense" and getattr(sampling, "span_s", None) is None):
            raise ValueError("the run records no time scale; pass --window SECONDS (the length of its training clips)")
        window = sampling.live_window(spec.clip_len, fps)
        return int(window.length), np.asarray(window.offsets, dtype=np.int64)
    length = max(1, round(span * fps / spec.clip_len)) * spec.clip_len
    return length, uniform_indices(length, spec.clip_len)


def window_indices(centres: np.ndarray, *, length: int, offsets: np.ndarray, fps: float,
                   num_frames: int, grid: int = 1) -> np.ndarray:
    """(N, clip_len) frame indices: the picks ``offsets`` of a ``length``-frame window centred on each centre
    (seconds), clamped to the video. ``grid`` > 1 moves each window's start to the nearest multiple of ``grid``
    frames (by at most half of it), so that windows whose picks are ``grid`` apart share their frames."""
    starts = np.round(np.asarray(centres) * fps - length / 2).astype(np.int64)  # (N,)
    if grid > 1:
        starts = np.round(starts / grid).astype(np.int64) * grid
    return np.clip(starts[:, None] + np.asarray(offsets)[None, :], 0, num_frames - 1)  # (N, T)


def _grid(predictor: RunPredictor, key: str, length: int) -> int:
    """The pick spacing of a frame-wise stream's window (its features are reused across windows), else 1."""
    spec = predictor.specs[key]
    frame_wise = any(b.frame_wise for b in predictor.backends.values() if b.spec.key == key)
    return length // spec.clip_len if frame_wise else 1


def _keypoints(predictor: RunPredictor, path: Path, indices: np.ndarray) -> tuple[np.ndarray, str]:
    """(N, T, [M,] V, 4) raw keypoints of the windows in the pose stream's layout and person slots (as
    ``RunPredictor.predict_window`` gives them), and where they came from."""
    from twostream.pose.cache import keypoints_at, load_fresh, select_persons
    from twostream.pose.extract import extract_video

    cache = load_fresh(path)
    source = "cache"
    if cache is None:
        cache, source = extract_video(path), "extracted"
    spec = predictor.specs["keypoints"]
    kp = keypoints_at(cache, indices.reshape(-1))  # (N*T, M, V, 4)
    kp = select_persons(to_layout(kp, spec.layout), getattr(spec, "persons", None))  # (N*T, [M,] V, 4)
    return kp.reshape(*indices.shape, *kp.shape[1:]), source


def _video_batches(path: Path, indices: np.ndarray, spec, batch_size: int,
                   on_frame: Callable[[int], None] | None) -> Iterator[tuple[int, torch.Tensor]]:
    """Decode ``path`` once; yield (first window, (B, T, 3, S, S)) as soon as each batch's frames are decoded."""
    needed = set(np.unique(indices).tolist())
    last_needed = int(indices.max())
    frames: dict[int, torch.Tensor] = {}
    pending: dict[int, np.ndarray] = {}  # decoded, not yet preprocessed: converted together, one call per batch
    start, decoded, frame = 0, 0, None

    def take(rows: np.ndarray) -> torch.Tensor:
        if pending:
            ready = frames_to_tensor(np.stack(list(pending.values())), spec.size, spec.mean, spec.std)  # (P, 3, S, S)
            frames.update(zip(pending, ready))
            pending.clear()
        return torch.stack([torch.stack([frames[j] for j in row]) for row in rows])  # (B, T, 3, S, S)

    for i, frame in enumerate(iter_frames(path)):
        decoded = i + 1
        if i in needed:
            pending[i] = frame
        if on_frame is not None:
            on_frame(decoded)
        while start < len(indices) and indices[min(start + batch_size, len(indices)) - 1].max() <= i:
            stop = min(start + batch_size, len(indices))
            yield start, take(indices[start:stop])
            start = stop
            if start < len(indices):
                for j in [j for j in frames if j < indices[start].min()]:
                    del frames[j]  # no later window needs it
        if i >= last_needed:
            return
    if start < len(indices):  # the container over-counted its frames: clamp to the last one decoded
        if decoded - 1 not in frames:
            pending[decoded - 1] = frame
        rows = np.minimum(indices[start:], decoded - 1)
        for first in range(0, len(rows), batch_size):
            yield start + first, take(rows[first:first + batch_size])


def _cached_probs(cache: FrameFeatureCache, frames: np.ndarray, batch: dict[str, torch.Tensor]) -> np.ndarray:
    """(B, C) softmax of a frame-wise stream over a batch's windows, in order, through ``cache``; takes the
    batch's ``"video"`` out so that the clip path skips it."""
    video = batch.pop("video").numpy()  # (B, T, 3, S, S); the cache's backend puts it on the run's device
    logits = np.concatenate([cache.logits(f, clip) for f, clip in zip(frames, video)])  # (B, C)
    return softmax(logits, axis=1)


def score_video(predictor: RunPredictor, path: str | Path, *, spans: Mapping[str, float | None], hop: float = 0.5,
                batch_size: int = 16, on_frame: Callable[[int, int], None] | None = None,
                reuse_features: bool = True) -> Timeline:
    """Every window of ``path``, every ``hop`` seconds, scored by every stream of ``predictor``.

    ``spans``: window length in seconds per input key (``"video"``, ``"keypoints"``), None for the run's own
    sampling record (``stream_window``). ``on_frame(done, total)``
    reports decoded frames. ``reuse_features=False`` scores a frame-wise stream by the clip path (for the bench's
    before/after and the tests). ``VideoReadError`` when the video cannot be read.
    """
    path = Path(path)
    if hop <= 0:
        raise ValueError(f"hop must be > 0 seconds, got {hop}")
    info = probe(path)
    fps = info.fps if info.fps > 0 else 25.0
    duration = info.num_frames / fps
    centres = (np.arange(max(1, math.ceil(duration / hop))) + 0.5) * hop  # (N,)
    centres = np.minimum(centres, duration)
    windows = {key: stream_window(spec, fps, spans.get(key)) for key, spec in predictor.specs.items()}
    indices = {key: window_indices(centres, length=length, offsets=offsets, fps=fps, num_frames=info.num_frames,
                                   grid=_grid(predictor, key, length))
               for key, (length, offsets) in windows.items()}
    caches = {role: FrameFeatureCache(b) for role, b in predictor.backends.items()
              if reuse_features and b.frame_wise}  # fresh per video: bounded to the latest window
    probs: dict[str, list[np.ndarray]] = {role: [] for role in predictor.backends}
    detected, source = None, None
    if "keypoints" in indices:
        kp, source = _keypoints(predictor, path, indices["keypoints"])
        kp_t = torch.from_numpy(np.ascontiguousarray(kp, dtype=np.float32))  # (N, T, [M,] V, 4)
        detected = detected_fraction(kp_t).numpy()  # (N,)
    progress = (lambda done: on_frame(done, info.num_frames)) if on_frame is not None else None
    batches = (_video_batches(path, indices["video"], predictor.specs["video"], batch_size, progress)
               if "video" in indices else ((s, None) for s in range(0, len(centres), batch_size)))
    for first, video in batches:
        stop = first + (len(video) if video is not None else min(batch_size, len(centres) - first))
        batch = {} if video is None else {"video": video}
        if "keypoints" in indices:
            batch["keypoints"] = kp_t[first:stop]
        for role, cache in caches.items():
            probs[role].append(_cached_probs(cache, indices["video"][first:stop], batch))
        for role, p in predictor.stream_probs(batch).items():
            probs[role].append(p)
    if progress is not None and "video" not in indices:
        progress(info.num_frames)
    per_stream = {role: np.concatenate(p) for role, p in probs.items()}  # (N, C) each
    fused = predictor.combine(per_stream, detected).astype(np.float64)  # (N, C)
    if detected is not None:
        fused[detected < MIN_PERSON] = 0.0
    return Timeline(path, centres, fused, per_stream, detected, duration, fps, hop,
                    {key: length / fps for key, (length, _) in windows.items()}, source)
