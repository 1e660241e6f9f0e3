"""The MediaPipe Tasks ``pose_landmarker_*.task`` bundles, offline.

``full`` is built on first use from the two ``.tflite`` files the mediapipe 0.10.21 wheel ships (the detector
and the full landmark model): Tasks refuses them raw ("requires specifying NormalizationOptions metadata"), so
mediapipe's own ``MetadataWriter`` adds the input normalisation and one feature output per output tensor, and
the two results are zipped as ``pose_detector.tflite`` + ``pose_landmarks_detector.tflite``. The bundle goes to
the user cache, written atomically and named by the hash of its sources, and is reused afterwards.

``lite`` / ``heavy`` are Google's published bundles: used from the same cache folder when present, otherwise
``WeightsError`` in one line naming the file, the folder and where to get it. ``PATH.task`` is any
bundle (e.g. for a mediapipe release that ships no models in its wheel).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import zipfile
from pathlib import Path

from twostream.errors import WeightsError

NAMED_MODELS = ("full", "lite", "heavy")
PUBLISHED_URL = ("https://storage.googleapis.com/mediapipe-models/pose_landmarker/pose_landmarker_{name}/float16/"
                 "latest/pose_landmarker_{name}.task")
# (wheel file, its name inside the bundle, normalisation mean, std): detector in [-1, 1], landmarks in [0, 1].
_SOURCES = (("modules/pose_detection/pose_detection.tflite", "pose_detector.tflite", 127.5, 127.5, 2),
            ("modules/pose_landmark/pose_landmark_full.tflite", "pose_landmarks_detector.tflite", 0.0, 255.0, 5))


def cache_dir() -> Path:
    """Where bundles live: ``$TWOSTREAM_CACHE`` or ``$XDG_CACHE_HOME/twostream`` (``~/.cache/twostream``)."""
    root = os.environ.get("TWOSTREAM_CACHE")
    if root:
        return Path(root) / "pose"
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "twostream" / "pose"


def _wheel_root() -> Path:
    import mediapipe

    return Path(mediapipe.__file__).parent


def _with_metadata(model: bytes, mean: float, std: float, outputs: int) -> bytes:
    from mediapipe.tasks.python.metadata.metadata_writers import metadata_writer

    writer = metadata_writer.MetadataWriter.create(bytearray(model))
    writer.add_image_input(norm_mean=[mean], norm_std=[std])
    for _ in range(outputs):
        writer.add_feature_output()
    buffer, _metadata_json = writer.populate()
    return bytes(buffer)


def _atomic_write(data: bytes, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):  # cleanup never hides the first error
            tmp.unlink(missing_ok=True)
        raise


def full_bundle() -> Path:
    """``pose_landmarker_full-<hash>.task`` in ``cache_dir()``, built from the installed wheel the first time."""
    root = _wheel_root()
    sources = [root / rel for rel, *_ in _SOURCES]
    missing = [str(p) for p in sources if not p.is_file()]
    if missing:
        raise WeightsError(
            f"this mediapipe ({root}) ships no {missing[0]}; install mediapipe==0.10.21 or pass "
            f"--pose-model PATH.task (e.g. {PUBLISHED_URL.format(name='full')})")
    blobs = [p.read_bytes() for p in sources]
    digest = hashlib.sha256(b"".join(hashlib.sha256(b).digest() for b in blobs)).hexdigest()[:16]
    path = cache_dir() / f"pose_landmarker_full-{digest}.task"
    if path.is_file():
        return path
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as bundle:
        for blob, (_rel, name, mean, std, outputs) in zip(blobs, _SOURCES):
            bundle.writestr(name, _with_metadata(blob, mean, std, outputs))
    _atomic_write(out.getvalue(), path)
    return path


def resolve_model(model: str) -> Path:
    """``full`` | ``lite`` | ``heavy`` | ``PATH.task`` → the bundle file to load; one-line errors otherwise."""
    if model == "full":
        return full_bundle()
    if model in NAMED_MODELS:
        path = cache_dir() / f"pose_landmarker_{model}.task"
        if path.is_file():
            return path
        raise WeightsError(
            f"pose model {model!r} needs pose_landmarker_{model}.task in {path.parent} (offline, not found); "
            f"download it from {PUBLISHED_URL.format(name=model)} into that folder, or use --pose-model full")
    path = Path(model)
    if path.suffix != ".task":
        raise ValueError(f"--pose-model must be full, lite, heavy or a PATH.task bundle, got {model!r}")
    if not path.is_file() or not zipfile.is_zipfile(path):
        raise WeightsError(f"pose model bundle {path} is missing or not a .task (zip) file")
    return path
