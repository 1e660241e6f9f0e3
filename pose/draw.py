"""Draw skeletons on frames (``pose-show``, the live demo) and write an annotated copy of a video."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Iterator, Literal, Mapping

import cv2
import numpy as np

from twostream.datasets.video import iter_frames
from twostream.pose.cache import PoseCache, nearest_rows, temp_path_for
from twostream.pose.skeleton import JointLayout, get_layout

# BGR colours: the person's left side orange, right side blue, the middle (face, torso crossings) green.
_LEFT, _RIGHT, _MIDDLE = (0, 140, 255), (255, 120, 0), (80, 220, 80)
# One colour per person slot (BGR), so a tracked person keeps its colour from frame to frame.
PERSON_COLOURS = ((0, 200, 255), (255, 80, 200), (80, 255, 80), (255, 160, 0), (60, 60, 255), (200, 200, 200))


def _side(layout: JointLayout, joint: int) -> tuple[int, int, int]:
    name = layout.joints[joint].split("_")
    return _LEFT if "left" in name else _RIGHT if "right" in name else _MIDDLE


def draw_skeleton(frame: np.ndarray, keypoints: np.ndarray, layout: JointLayout | str, *,
                  threshold: float = 0.5, channel_order: Literal["bgr", "rgb"] = "bgr",
                  thickness: int | None = None, inplace: bool = False,
                  colour: tuple[int, int, int] | None = None) -> np.ndarray:
    """Draw one person's ``(V, 4)`` keypoints (x, y normalised to the frame, z, visibility) on ``frame``.

    ``frame`` is uint8 ``(H, W, 3)`` in ``channel_order``; joints with visibility below ``threshold`` (and
    frames with no person: all zeros) are not drawn, nor the bones touching them. Left limbs are orange,
    right limbs blue; with ``colour`` (in ``channel_order``) the bones take that colour and the joints keep
    their side's colour. Returns the drawn frame (``frame`` itself when ``inplace``).
    """
    layout = get_layout(layout) if isinstance(layout, str) else layout
    keypoints = np.asarray(keypoints)
    if keypoints.shape != (layout.num_joints, 4):
        raise ValueError(f"expected keypoints ({layout.num_joints}, 4) for layout {layout.name!r}, "
                         f"got {keypoints.shape}")
    out = frame if inplace else frame.copy()
    height, width = out.shape[:2]
    thickness = thickness or max(1, round(min(height, width) / 160))
    points = np.round(keypoints[:, :2] * (width, height)).astype(int)  # (V, 2) pixels
    visible = (keypoints[:, 3] >= threshold) & np.any(keypoints != 0, axis=1)  # (V,)

    def side(joint: int) -> tuple[int, int, int]:
        bgr = _side(layout, joint)
        return bgr[::-1] if channel_order == "rgb" else bgr

    for a, b in layout.edges:
        if visible[a] and visible[b]:
            bone = colour if colour is not None else side(a) if _side(layout, a) == _side(layout, b) else side(b)
            cv2.line(out, tuple(points[a]), tuple(points[b]), bone, thickness, cv2.LINE_AA)
    for joint in np.flatnonzero(visible):
        cv2.circle(out, tuple(points[joint]), thickness + 1, side(joint), -1, cv2.LINE_AA)
    return out


def draw_persons(frame: np.ndarray, keypoints: np.ndarray, track_ids: np.ndarray, layout: JointLayout | str, *,
                 threshold: float = 0.5, inplace: bool = False, labels: Mapping[int, str] | None = None) -> np.ndarray:
    """Draw every person of ``(M, V, 4)`` keypoints on a BGR ``frame``, slot s in ``PERSON_COLOURS[s]``.

    Each drawn person is labelled ``P<slot> #<track id>`` (then ``labels[slot]``, e.g. the predicted action,
    when given) above their highest visible joint; empty slots (``track_ids`` -1) are skipped.
    """
    labels = labels or {}
    out = frame if inplace else frame.copy()
    height, width = out.shape[:2]
    scale = max(0.35, min(height, width) / 600)
    for slot, (person, track) in enumerate(zip(np.asarray(keypoints), np.asarray(track_ids))):
        if track < 0:
            continue
        bgr = PERSON_COLOURS[slot % len(PERSON_COLOURS)]
        draw_skeleton(out, person, layout, threshold=threshold, inplace=True, colour=bgr)
        seen = person[person[:, 3] >= threshold] if (person[:, 3] >= threshold).any() else person
        x, y = int(seen[:, 0].min() * width), int(seen[:, 1].min() * height)
        origin = (max(0, x), max(int(14 * scale), y - 4))
        text = " ".join(filter(None, (f"P{slot} #{int(track)}", labels.get(slot, ""))))
        cv2.putText(out, text, origin, cv2.FONT_HERSHEY_SIMPLEX, scale, bgr,
                    max(1, round(scale * 2)), cv2.LINE_AA)
    return out


def iter_annotated(video: str | os.PathLike, cache: PoseCache, *, threshold: float = 0.5,
                   labels: Mapping[int, str] | None = None) -> Iterator[np.ndarray]:
    """Frames of ``video`` as BGR uint8 with the cached skeletons drawn (the nearest processed frame's), each
    slot's ``labels`` entry beside it."""
    layout = get_layout(cache.layout)
    for index, frame in enumerate(iter_frames(video)):
        bgr = cv2.cvtColor(frame, cv2.COLOR_RGB2BGR)
        if len(cache.frame_indices) == 0:
            yield bgr
            continue
        row = int(nearest_rows(cache, [index])[0])
        yield draw_persons(bgr, cache.keypoints[row], cache.track_ids[row], layout, threshold=threshold, inplace=True,
                           labels=labels)


def write_annotated(video: str | os.PathLike, cache: PoseCache, output: str | os.PathLike, *,
                    threshold: float = 0.5, labels: Mapping[int, str] | None = None) -> Path:
    """Write ``video`` with its skeletons (and each slot's ``labels`` entry) drawn to ``output`` (mp4v; written
    to a temp file, then renamed)."""
    output = Path(output)
    tmp = temp_path_for(output).with_suffix(".tmp" + (output.suffix or ".mp4"))
    fps = cache.fps if cache.fps > 0 else 25.0
    writer = None
    try:
        for frame in iter_annotated(video, cache, threshold=threshold, labels=labels):
            if writer is None:
                height, width = frame.shape[:2]
                writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter_fourcc(*"mp4v"), fps, (width, height))
                if not writer.isOpened():
                    raise OSError(f"OpenCV cannot write {output}; try an .mp4 or .avi output path")
            writer.write(frame)
        if writer is None:
            raise OSError(f"no frame to write from {video}")
        writer.release()
        os.replace(tmp, output)
    finally:
        if writer is not None:
            writer.release()
        with contextlib.suppress(OSError):  # cleanup never hides the first error
            tmp.unlink(missing_ok=True)
    return output
