"""The versioned ``.pose.npz`` keypoint cache written beside each video (``clip.avi`` → ``clip.pose.npz``).

One ``np.savez_compressed`` archive, no pickles, keys = the fields of ``PoseCache`` (see the README section
"Keypoint cache format"). Written to a temporary file in the same folder and renamed into place, so a killed
run never leaves a half-written cache; a cache whose video changed is stale (``stamp_matches``: same size, and
same mtime or same content digest, so a dataset copied with ``cp -r`` keeps its caches fresh). Version 1 (one
person from the legacy ``mp.solutions`` API) still loads, as M = 1, with an ``OldCacheWarning``.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import uuid
import warnings
import zipfile
from dataclasses import dataclass, fields
from functools import lru_cache
from pathlib import Path

import numpy as np

from twostream.datasets.persons import fit_persons

from twostream.errors import CacheError

FORMAT_VERSION = 2
SUFFIX = ".pose.npz"
_TMP_SUFFIX = ".tmp"
_V1_MODELS = {0: "lite", 1: "full", 2: "heavy"}  # v1's model_complexity → the model name


class OldCacheWarning(UserWarning):
    """A version-1 cache was read (as M = 1)."""


@dataclass(frozen=True)
class PoseCache:
    """Tracked keypoints of up to M persons of one video, for every processed frame (every ``every``-th)."""

    keypoints: np.ndarray
    """float32 (N, M, V, 4): x, y normalised to the frame, z, visibility; an empty slot is zeros. Slot 0 is the
    main actor (the track present longest and largest)."""
    world: np.ndarray
    """float32 (N, M, V, 4): world landmarks in metres (x, y, z) and visibility; zeros for an empty slot."""
    scores: np.ndarray
    """float32 (N, M): the backend's score of each person; 0 for an empty slot."""
    track_ids: np.ndarray
    """int64 (N, M): the track each slot holds (stable across frames), -1 for an empty slot."""
    frame_indices: np.ndarray
    """int64 (N,): the video frame each row comes from, increasing."""
    fps: float
    num_frames: int
    """Frames decoded from the video (may be fewer than its header claims when it is truncated)."""
    width: int
    height: int
    every: int
    """Every ``every``-th frame was processed."""
    backend: str
    """The pose backend that produced it (``mediapipe``; ``mediapipe.solutions.pose`` for a v1 cache)."""
    model: str
    """``full`` | ``lite`` | ``heavy`` | the ``.task`` file name."""
    mediapipe_version: str
    video_size: int
    """Size in bytes of the source video when extracted (stale check)."""
    video_mtime_ns: int
    """Modification time of the source video in ns when extracted (stale check)."""
    layout: str = "mediapipe33"
    format_version: int = FORMAT_VERSION
    video_digest: str = ""
    """``video_digest`` of the source video (its content stamp; empty in caches written before it existed)."""

    @classmethod
    def from_single(cls, landmarks: np.ndarray, world: np.ndarray, detected: np.ndarray, *,
                    backend: str = "mediapipe", model: str = "full", **fields) -> PoseCache:
        """One person per frame, ``landmarks`` / ``world`` (N, V, 4) and ``detected`` (N,), as M = 1."""
        detected = np.asarray(detected, bool)  # (N,)
        return cls(keypoints=np.asarray(landmarks, np.float32)[:, None], world=np.asarray(world, np.float32)[:, None],
                   scores=detected[:, None].astype(np.float32), track_ids=np.where(detected, 0, -1)[:, None],
                   backend=backend, model=model, **fields)

    @property
    def persons(self) -> int:
        """M, the person slots per frame."""
        return self.keypoints.shape[1]

    @property
    def detected(self) -> np.ndarray:
        """bool (N,): at least one person in that frame."""
        return (self.track_ids >= 0).any(axis=1)

    @property
    def person_counts(self) -> np.ndarray:
        """int (N,): persons found in each frame."""
        return (self.track_ids >= 0).sum(axis=1)

    @property
    def detected_fraction(self) -> float:
        return float(self.detected.mean()) if len(self.frame_indices) else 0.0


_KEYS = tuple(f.name for f in fields(PoseCache))
_ARRAYS = {"keypoints", "world", "scores", "track_ids", "frame_indices"}
_OPTIONAL = {"video_digest": ""}  # added within format 2: older files read with the default


def cache_path_for(video: str | os.PathLike) -> Path:
    """``clip.avi`` → ``clip.pose.npz`` in the same folder."""
    video = Path(video)
    return video.with_name(video.stem + SUFFIX)


def _temp_glob(path: Path) -> str:
    return f".{path.name}.*{_TMP_SUFFIX}"


def temp_path_for(path: Path) -> Path:
    """A fresh hidden temp name beside ``path`` (``.clip.pose.npz.<pid>-<random>.tmp``); honours the umask."""
    return path.with_name(f".{path.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}{_TMP_SUFFIX}")


def remove_stale_temps(path: Path) -> int:
    """Delete temporary files a killed ``save_cache`` left for ``path``; returns how many were removed."""
    removed = 0
    for tmp in path.parent.glob(_temp_glob(path)):
        tmp.unlink(missing_ok=True)
        removed += 1
    return removed


def save_cache(cache: PoseCache, path: str | os.PathLike) -> Path:
    """Write ``cache`` atomically: a temp file in the same folder, fsync, then ``os.replace``."""
    path = Path(path)
    tmp_name = temp_path_for(path)
    try:
        with open(tmp_name, "xb") as f:
            np.savez_compressed(f, **{key: np.asarray(getattr(cache, key)) for key in _KEYS})
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        with contextlib.suppress(OSError):  # cleanup never hides the first error
            Path(tmp_name).unlink(missing_ok=True)
        raise
    return path


def _from_v1(values: dict) -> PoseCache:
    """A version-1 cache (one person, ``landmarks`` (N, 33, 4) + ``detected``) as M = 1."""
    scalars = {key: values[key].item() for key in _KEYS if key in values and key not in _ARRAYS}
    scalars.pop("format_version", None)
    return PoseCache.from_single(
        values["landmarks"], values["world"], values["detected"], frame_indices=values["frame_indices"],
        backend=str(values["extractor"]), model=_V1_MODELS.get(int(values["model_complexity"]), "full"), **scalars)


def load_cache(path: str | os.PathLike) -> PoseCache:
    """Read a cache (version 1 loads as M = 1); ``CacheError`` naming the file and the fix for bad files."""
    path = Path(path)
    fix = f"re-create it with `twostream extract {path.parent} --force`"
    if not path.is_file():
        raise CacheError(f"no keypoint cache at {path}; create it with `twostream extract {path.parent}`")
    try:
        with np.load(path, allow_pickle=False) as data:
            values = {key: data[key] for key in data.files}
        version = int(values["format_version"]) if "format_version" in values else None
        if version == 1:
            cache = _from_v1(values)
            warnings.warn(f"keypoint cache {path} is format 1 (one person, legacy MediaPipe): read as M = 1; "
                          f"`twostream extract {path.parent} --force` upgrades it", OldCacheWarning, stacklevel=2)
    except (OSError, ValueError, KeyError, TypeError, zipfile.BadZipFile, EOFError) as exc:
        raise CacheError(f"keypoint cache {path} is unreadable ({exc}); {fix}") from exc
    if version == 1:
        return _checked(cache, path, fix)
    if version != FORMAT_VERSION:
        raise CacheError(f"keypoint cache {path} has format_version {version}, this twostream reads "
                         f"1 and {FORMAT_VERSION}; {fix}")
    missing = [key for key in _KEYS if key not in values and key not in _OPTIONAL]
    if missing:
        raise CacheError(f"keypoint cache {path} lacks {', '.join(missing)}; {fix}")
    kwargs = {key: values[key] if key in _ARRAYS else values[key].item() if key in values else _OPTIONAL[key]
              for key in _KEYS}
    return _checked(PoseCache(**kwargs), path, fix)


def _checked(cache: PoseCache, path: Path, fix: str) -> PoseCache:
    n, m = len(cache.frame_indices), cache.track_ids.shape[-1] if cache.track_ids.ndim == 2 else -1
    v = cache.keypoints.shape[2] if cache.keypoints.ndim == 4 else -1
    if (m < 1 or v < 1 or cache.keypoints.shape != (n, m, v, 4) or cache.world.shape != (n, m, v, 4)
            or cache.scores.shape != (n, m) or cache.track_ids.shape != (n, m)):
        raise CacheError(f"keypoint cache {path} has inconsistent shapes; {fix}")
    return cache


def video_stamp(video: str | os.PathLike) -> tuple[int, int]:
    """(size in bytes, mtime in ns) of a video: what a cache remembers to detect that the video changed."""
    st = os.stat(video)
    return st.st_size, st.st_mtime_ns


def video_digest(video: str | os.PathLike) -> str:
    """The content stamp of a video: BLAKE2b of its size and its first and last MiB (cheap on any dataset,
    unchanged by a copy)."""
    size, mtime_ns = video_stamp(video)
    return _digest(str(Path(video).resolve()), size, mtime_ns)


@lru_cache(maxsize=65536)
def _digest(path: str, size: int, mtime_ns: int) -> str:
    h = hashlib.blake2b(str(size).encode(), digest_size=16)
    with open(path, "rb") as f:
        h.update(f.read(1 << 20))
        if size > 2 << 20:
            f.seek(-(1 << 20), os.SEEK_END)
            h.update(f.read(1 << 20))
    return h.hexdigest()


def stamp_matches(cache: PoseCache, video: str | os.PathLike) -> bool:
    """True when ``cache`` was made from this very video: same size and mtime, or (a copied dataset, new
    mtimes) same size and content digest."""
    size, mtime_ns = video_stamp(video)
    if cache.video_size != size:
        return False
    return cache.video_mtime_ns == mtime_ns or (bool(cache.video_digest) and cache.video_digest == video_digest(video))


def load_fresh(video: str | os.PathLike, *, model: str | None = None, every: int | None = None,
               persons: int | None = None) -> PoseCache | None:
    """The cache of ``video`` when it is readable and made from this very file (``stamp_matches``), else None.

    Passing ``model`` / ``every`` / ``persons`` also requires the cache to have been made with those settings
    (a v1 cache, one person from the legacy API, never matches a ``model``: extracting again upgrades it).
    """
    path = cache_path_for(video)
    if not path.is_file():
        return None
    try:
        cache = load_cache(path)
    except CacheError:
        return None
    if not stamp_matches(cache, video):
        return None
    if model is not None and (cache.model != model_name(model) or cache.backend == "mediapipe.solutions.pose"):
        return None
    if every is not None and cache.every != every:
        return None
    if persons is not None and cache.persons != persons:
        return None
    return cache


def model_name(model: str) -> str:
    """What a cache records for ``--pose-model``: the name, or a bundle's file name."""
    return model if "/" not in model and not model.endswith(".task") else Path(model).name


def is_fresh(video: str | os.PathLike, *, model: str | None = None, every: int | None = None,
             persons: int | None = None) -> bool:
    """True when ``video`` has an up-to-date cache (see ``load_fresh``)."""
    return load_fresh(video, model=model, every=every, persons=persons) is not None


def nearest_rows(cache: PoseCache, frame_indices: np.ndarray) -> np.ndarray:
    """int (T,): the processed row nearest to each video frame index (ties: the earlier); needs a row."""
    wanted = np.asarray(frame_indices, dtype=np.int64).reshape(-1)  # (T,)
    processed = cache.frame_indices
    right = np.clip(np.searchsorted(processed, wanted), 0, len(processed) - 1)  # (T,)
    left = np.clip(right - 1, 0, len(processed) - 1)  # (T,)
    nearer_left = np.abs(wanted - processed[left]) <= np.abs(processed[right] - wanted)
    return np.where(nearer_left, left, right)


def keypoints_at(cache: PoseCache, frame_indices: np.ndarray) -> np.ndarray:
    """Keypoints for any video frame indices: float32 ``(T, M, V, 4)`` from the nearest processed frame.

    With ``--every K`` only every K-th frame was processed; an index in between takes the closest one (ties
    go to the earlier frame). Empty person slots are zeros.
    """
    wanted = np.asarray(frame_indices, dtype=np.int64).reshape(-1)  # (T,)
    if len(cache.frame_indices) == 0:
        return np.zeros((len(wanted), *cache.keypoints.shape[1:]), np.float32)
    rows = nearest_rows(cache, wanted)  # (T,)
    out = cache.keypoints[rows].astype(np.float32, copy=True)  # (T, M, V, 4)
    out[cache.track_ids[rows] < 0] = 0.0
    return out


def load_keypoints(video: str | os.PathLike, frame_indices: np.ndarray) -> np.ndarray:
    """``(T, M, V, 4)`` keypoints of ``video`` at ``frame_indices`` from its fresh cache.

    The ``load_keypoints`` that ``ClipDataset`` takes. ``CacheError`` naming the fix when the cache is missing
    or stale.
    """
    cache = load_fresh(video)
    if cache is None:
        raise CacheError(f"no up-to-date keypoint cache for {video}; run `twostream extract {Path(video).parent}`")
    return keypoints_at(cache, frame_indices)


def select_persons(keypoints: np.ndarray, persons: int | None) -> np.ndarray:
    """``(T, M, V, 4)`` (or a single-person ``(T, V, 4)``) → what a model takes.

    ``persons=None``: the main actor only, ``(T, V, 4)`` (slot 0; single-person models). An int: ``(T, persons,
    V, 4)``, extra slots cut, missing ones zeros.
    """
    keypoints = np.asarray(keypoints, np.float32)
    if keypoints.ndim == 3:
        keypoints = keypoints[:, None]  # (T, 1, V, 4)
    if keypoints.ndim != 4:
        raise ValueError(f"keypoints must be (T, M, V, 4) or (T, V, 4), got shape {keypoints.shape}")
    if persons is None:
        return keypoints[:, 0]
    return fit_persons(keypoints, persons)  # (T, persons, V, 4)
