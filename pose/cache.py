"""The versioned ``.pose.npz`` keypoint cache written beside each video (``clip.avi`` → ``clip.pose.npz``).

One ``np.savez_compressed`` archive, no pickles, keys = the fields of ``PoseCache`` (see the README section
"Keypoint cache format"). Written to a temporary file in the same folder and renamed into place, so a killed
run never leaves a half-written cache; a cache whose video changed is stale (``stamp_matches``: same size, and
same mtime or same content digest, so a dataset copied with ``cp -r`` keeps its caches fresh).
"""

from __future__ import annotations

import hashlib
import os
import uuid
import zipfile
from dataclasses import dataclass, fields
from functools import lru_cache
from pathlib import Path

import numpy as np

from twostream.errors import CacheError

FORMAT_VERSION = 1
SUFFIX = ".pose.npz"
_TMP_SUFFIX = ".tmp"


@dataclass(frozen=True)
class PoseCache:
    """MediaPipe keypoints of one video, for every processed frame (every ``every``-th frame)."""

    landmarks: np.ndarray
    """float32 (N, 33, 4): x, y normalised to the frame, z, visibility; zeros where ``detected`` is False."""
    world: np.ndarray
    """float32 (N, 33, 4): world landmarks in metres (x, y, z) and visibility; zeros where not detected."""
    frame_indices: np.ndarray
    """int64 (N,): the video frame each row comes from, increasing."""
    detected: np.ndarray
    """bool (N,): a person was found in that frame."""
    fps: float
    num_frames: int
    """Frames decoded from the video (may be fewer than its header claims when it is truncated)."""
    width: int
    height: int
    every: int
    """Every ``every``-th frame was processed."""
    model_complexity: int
    mediapipe_version: str
    video_size: int
    """Size in bytes of the source video when extracted (stale check)."""
    video_mtime_ns: int
    """Modification time of the source video in ns when extracted (stale check)."""
    extractor: str = "mediapipe.solutions.pose"
    layout: str = "mediapipe33"
    format_version: int = FORMAT_VERSION
    video_digest: str = ""
    """``video_digest`` of the source video (its content stamp; empty in caches written before it existed)."""

    @property
    def detected_fraction(self) -> float:
        return float(self.detected.mean()) if len(self.detected) else 0.0


_KEYS = tuple(f.name for f in fields(PoseCache))
_ARRAYS = {"landmarks", "world", "frame_indices", "detected"}
_OPTIONAL = {"video_digest": ""}  # added within format 1: older files read with the default


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
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return path


def load_cache(path: str | os.PathLike) -> PoseCache:
    """Read a cache; ``CacheError`` naming the file and the fix for corrupt, old or foreign files."""
    path = Path(path)
    fix = f"re-create it with `twostream extract {path.parent} --force`"
    if not path.is_file():
        raise CacheError(f"no keypoint cache at {path}; create it with `twostream extract {path.parent}`")
    try:
        with np.load(path, allow_pickle=False) as data:
            values = {key: data[key] for key in data.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise CacheError(f"keypoint cache {path} is unreadable ({exc}); {fix}") from exc
    version = int(values["format_version"]) if "format_version" in values else None
    if version != FORMAT_VERSION:
        raise CacheError(f"keypoint cache {path} has format_version {version}, this twostream reads "
                         f"{FORMAT_VERSION}; {fix}")
    missing = [key for key in _KEYS if key not in values and key not in _OPTIONAL]
    if missing:
        raise CacheError(f"keypoint cache {path} lacks {', '.join(missing)}; {fix}")
    kwargs = {key: values[key] if key in _ARRAYS else values[key].item() if key in values else _OPTIONAL[key]
              for key in _KEYS}
    cache = PoseCache(**kwargs)
    n = len(cache.frame_indices)
    if cache.landmarks.shape != (n, 33, 4) or cache.world.shape != (n, 33, 4) or cache.detected.shape != (n,):
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


def load_fresh(video: str | os.PathLike, *, model_complexity: int | None = None,
               every: int | None = None) -> PoseCache | None:
    """The cache of ``video`` when it is readable and made from this very file (same size and mtime), else None.

    Passing ``model_complexity`` / ``every`` also requires the cache to have been made with those settings.
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
    if model_complexity is not None and cache.model_complexity != model_complexity:
        return None
    if every is not None and cache.every != every:
        return None
    return cache


def is_fresh(video: str | os.PathLike, *, model_complexity: int | None = None, every: int | None = None) -> bool:
    """True when ``video`` has an up-to-date cache (see ``load_fresh``)."""
    return load_fresh(video, model_complexity=model_complexity, every=every) is not None


def keypoints_at(cache: PoseCache, frame_indices: np.ndarray) -> np.ndarray:
    """Keypoints for any video frame indices: float32 ``(T, 33, 4)`` from the nearest processed frame.

    With ``--every K`` only every K-th frame was processed; an index in between takes the closest one (ties
    go to the earlier frame). Frames where no person was detected are zeros.
    """
    wanted = np.asarray(frame_indices, dtype=np.int64).reshape(-1)  # (T,)
    processed = cache.frame_indices
    if len(processed) == 0:
        return np.zeros((len(wanted), 33, 4), np.float32)
    right = np.clip(np.searchsorted(processed, wanted), 0, len(processed) - 1)  # (T,)
    left = np.clip(right - 1, 0, len(processed) - 1)  # (T,)
    nearer_left = np.abs(wanted - processed[left]) <= np.abs(processed[right] - wanted)
    rows = np.where(nearer_left, left, right)  # (T,)
    out = cache.landmarks[rows].astype(np.float32, copy=True)  # (T, 33, 4)
    out[~cache.detected[rows]] = 0.0
    return out


def load_keypoints(video: str | os.PathLike, frame_indices: np.ndarray) -> np.ndarray:
    """``(T, 33, 4)`` keypoints of ``video`` at ``frame_indices`` from its fresh cache.

    The ``load_keypoints`` that ``ClipDataset`` takes. ``CacheError`` naming the fix when the cache is missing
    or stale.
    """
    cache = load_fresh(video)
    if cache is None:
        raise CacheError(f"no up-to-date keypoint cache for {video}; run `twostream extract {Path(video).parent}`")
    return keypoints_at(cache, frame_indices)
