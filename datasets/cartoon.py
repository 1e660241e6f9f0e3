"""Draw a cartoon person from a pose (2D forward kinematics over a jointed skeleton, then filled shapes) and the
calm scene behind it.

Coordinates are image pixels, x to the right, y down. The figure faces the camera, so its LEFT side (``left_wrist``)
is on the viewer's RIGHT (larger x), as in MediaPipe's landmark names. Lengths are in *body units*: 1.0 is the
standing height from the top of the head to the soles; ``scale`` (pixels per body unit) maps them to the frame.

Angles are radians. A limb angle is measured from "hanging straight down" and grows *outward* (away from the body's
mid-line): an arm at ``pi / 2`` points sideways, at ``pi`` straight up. The distal joint (elbow, knee) adds its own
angle to the proximal one, positive bending the segment further outward / upward, negative back across the body.
``*_fwd`` angles swing a thigh forward out of the image plane (a marching knee), which foreshortens it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

Colour = tuple[int, int, int]  # BGR, as OpenCV draws

# Ground-truth joints, in MediaPipe's names (a subset of its 33 landmarks).
JOINTS: tuple[str, ...] = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear",
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
    "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
    "left_heel", "right_heel", "left_foot_index", "right_foot_index",
)
_SIDES = (("left", 1.0), ("right", -1.0))  # +1: the figure's left is towards +x
_SHIFT = 4  # sub-pixel bits for cv2 drawing: smooth motion instead of whole-pixel jumps
_ONE = 1 << _SHIFT

_SKIN_TONES: tuple[Colour, ...] = ((189, 224, 255), (160, 200, 240), (125, 170, 225), (90, 135, 198),
                                   (60, 100, 160), (45, 70, 120))


@dataclass(frozen=True)
class Look:
    """An actor's appearance: proportions (body units) and colours (BGR). Constant within a UCF101 group."""

    head_r: float
    neck: float
    torso: float
    shoulder_w: float
    hip_w: float
    upper_arm: float
    forearm: float
    thigh: float
    shin: float
    limb_w: float
    skin: Colour
    hair: Colour
    shirt: Colour
    trousers: Colour
    shoes: Colour


@dataclass(frozen=True)
class Pose:
    """Joint angles of one frame (radians, see the module docstring) and a jump ``lift`` in body units."""

    r_shoulder: float = 0.15
    r_elbow: float = 0.05
    l_shoulder: float = 0.15
    l_elbow: float = 0.05
    r_hip: float = 0.06
    r_knee: float = 0.0
    l_hip: float = 0.06
    l_knee: float = 0.0
    r_fwd: float = 0.0
    l_fwd: float = 0.0
    torso_tilt: float = 0.0
    lift: float = 0.0


def random_look(rng: np.random.Generator) -> Look:
    """Realistic human proportions with some spread, a skin tone and clothes that contrast with it."""
    u = lambda lo, hi: float(rng.uniform(lo, hi))  # noqa: E731 - local shorthand
    skin = np.clip(np.array(_SKIN_TONES[rng.integers(len(_SKIN_TONES))]) + rng.integers(-12, 13, 3), 0, 255)
    shirt, trousers = (_saturated(rng), _muted(rng))
    return Look(
        head_r=u(0.060, 0.070), neck=u(0.025, 0.035), torso=u(0.28, 0.32), shoulder_w=u(0.20, 0.25),
        hip_w=u(0.14, 0.17), upper_arm=u(0.16, 0.18), forearm=u(0.14, 0.16), thigh=u(0.23, 0.26),
        shin=u(0.22, 0.25), limb_w=u(0.050, 0.062), skin=_bgr(skin), hair=_bgr(rng.integers(10, 90, 3)),
        shirt=shirt, trousers=trousers, shoes=_bgr(rng.integers(20, 70, 3)),
    )


def _bgr(values) -> Colour:
    return tuple(int(v) for v in values)  # type: ignore[return-value]


def _saturated(rng: np.random.Generator) -> Colour:
    hsv = np.uint8([[[rng.integers(0, 180), rng.integers(150, 256), rng.integers(130, 230)]]])
    return _bgr(cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)[0, 0])


def _muted(rng: np.random.Generator) -> Colour:
    hsv = np.uint8([[[rng.integers(0, 180), rng.integers(40, 160), rng.integers(40, 120)]]])
    return _bgr(cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)[0, 0])


def draw_background(rng: np.random.Generator, size: tuple[int, int], floor_y: float) -> np.ndarray:
    """A calm scene: a pale, unsaturated wall (so the saturated shirts stand out) with soft blotches or panels,
    and a darker floor from ``floor_y`` down. (H, W, 3) uint8 BGR."""
    width, height = size
    hsv = np.uint8([[[rng.integers(0, 180), rng.integers(10, 80), rng.integers(120, 235)]]])
    wall = cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)[0, 0].astype(np.float32)
    floor = wall * rng.uniform(0.5, 0.8)
    if rng.random() < 0.5:
        texture = cv2.resize(rng.normal(0, 1, (6, 8)).astype(np.float32), (width, height),
                             interpolation=cv2.INTER_CUBIC)  # (H, W) soft blotches
    else:
        period = width / rng.integers(3, 9)
        texture = np.broadcast_to(np.sign(np.sin(np.arange(width) * math.pi / period)), (height, width))  # panels
    img = np.empty((height, width, 3), np.float32)
    img[:] = wall
    img[int(floor_y):] = floor
    img += texture[..., None] * rng.uniform(3, 10)  # (H, W, 3)
    return np.clip(img, 0, 255).astype(np.uint8)


def _dir(angle: float, side: float) -> np.ndarray:
    """Unit vector ``angle`` away from straight down, turned outward for ``side`` (+1 left/+x, -1 right/-x)."""
    return np.array([side * np.sin(angle), np.cos(angle)])


def _leg(look: Look, pose: Pose, name: str, side: float) -> tuple[np.ndarray, np.ndarray]:
    """Knee and ankle offsets from the hip joint (body units)."""
    p = name[0]
    hip, knee, fwd = getattr(pose, f"{p}_hip"), getattr(pose, f"{p}_knee"), getattr(pose, f"{p}_fwd")
    knee_off = look.thigh * np.cos(fwd) * _dir(hip, side)
    return knee_off, knee_off + look.shin * _dir(hip + knee, side)


def skeleton_points(look: Look, pose: Pose, ground: tuple[float, float], scale: float) -> dict[str, np.ndarray]:
    """Forward kinematics: every joint (and the drawing's helper points) in pixels.

    ``ground`` is the pixel point between the feet on the floor; the hips sit as high as the longer leg reaches,
    so squats lower the body and ``lift`` raises it off the floor.
    """
    legs = {name: _leg(look, pose, name, side) for name, side in _SIDES}
    reach = max(ankle[1] for _, ankle in legs.values()) + 0.035  # ankle above the sole
    hip_c = np.array([0.0, -reach - pose.lift])
    up = np.array([np.sin(pose.torso_tilt), -np.cos(pose.torso_tilt)])
    across = np.array([-up[1], up[0]])  # towards the figure's left (+x) when upright
    neck_c = hip_c + look.torso * up
    pts = {"hip_c": hip_c, "neck_c": neck_c, "head": neck_c + (look.neck + look.head_r) * up}
    torso_down = -up
    for name, side in _SIDES:
        p = name[0]
        hip = hip_c + np.array([side * look.hip_w / 2, 0.0])
        knee_off, ankle_off = legs[name]
        shoulder = neck_c + side * look.shoulder_w / 2 * across
        sh, el = getattr(pose, f"{p}_shoulder"), getattr(pose, f"{p}_elbow")
        upper = _rotate(torso_down, -side * sh)
        fore = _rotate(upper, -side * el)
        toe = np.array([side * 0.035, 0.03])
        pts |= {
            f"{name}_shoulder": shoulder, f"{name}_elbow": shoulder + look.upper_arm * upper,
            f"{name}_wrist": shoulder + look.upper_arm * upper + look.forearm * fore,
            f"{name}_hand": shoulder + look.upper_arm * upper + (look.forearm + 0.03) * fore,
            f"{name}_hip": hip, f"{name}_knee": hip + knee_off, f"{name}_ankle": hip + ankle_off,
            f"{name}_heel": hip + ankle_off + np.array([0.0, 0.03]), f"{name}_foot_index": hip + ankle_off + toe,
        }
    _add_face(pts, look, up, across)
    origin = np.asarray(ground, dtype=float)
    return {k: origin + scale * v for k, v in pts.items()}


def _add_face(pts: dict[str, np.ndarray], look: Look, up: np.ndarray, across: np.ndarray) -> None:
    head, r = pts["head"], look.head_r
    pts["nose"] = head - 0.15 * r * up
    for name, side in _SIDES:
        pts[f"{name}_eye"] = head + 0.2 * r * up + side * 0.38 * r * across
        pts[f"{name}_ear"] = head + 0.05 * r * up + side * 0.95 * r * across


def _rotate(v: np.ndarray, angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    return np.array([c * v[0] - s * v[1], s * v[0] + c * v[1]])


def joint_array(points: dict[str, np.ndarray]) -> np.ndarray:
    """The ground-truth joints in ``JOINTS`` order: float32 (J, 2) pixels."""
    return np.stack([points[name] for name in JOINTS]).astype(np.float32)  # (J, 2)


def _p(point: np.ndarray) -> tuple[int, int]:
    return int(round(point[0] * _ONE)), int(round(point[1] * _ONE))


def _line(img: np.ndarray, a: np.ndarray, b: np.ndarray, colour: Colour, width: float) -> None:
    cv2.line(img, _p(a), _p(b), colour, max(1, int(round(width))), cv2.LINE_AA, _SHIFT)


def _disc(img: np.ndarray, centre: np.ndarray, radius: float, colour: Colour) -> None:
    cv2.circle(img, _p(centre), max(_ONE, int(round(radius * _ONE))), colour, -1, cv2.LINE_AA, _SHIFT)


def _shade(colour: Colour, factor: float) -> Colour:
    return _bgr(np.clip(np.array(colour) * factor, 0, 255))


def draw_figure(img: np.ndarray, pts: dict[str, np.ndarray], look: Look, scale: float) -> None:
    """Paint the figure onto ``img`` (H, W, 3) uint8 BGR in place, back to front."""
    w = look.limb_w * scale
    for name, _ in _SIDES:  # legs: trousers, then shoes
        _line(img, pts[f"{name}_hip"], pts[f"{name}_knee"], look.trousers, w * 1.25)
        _line(img, pts[f"{name}_knee"], pts[f"{name}_ankle"], look.trousers, w * 1.1)
        _line(img, pts[f"{name}_heel"], pts[f"{name}_foot_index"], look.shoes, w * 0.9)
    torso = np.array([pts["left_shoulder"], pts["right_shoulder"], pts["right_hip"], pts["left_hip"]])
    cv2.fillPoly(img, [np.round(torso * _ONE).astype(np.int32)], look.shirt, cv2.LINE_AA, _SHIFT)
    _line(img, pts["left_shoulder"], pts["right_shoulder"], look.shirt, w * 1.1)
    _line(img, pts["left_hip"], pts["right_hip"], look.trousers, w * 0.9)
    _line(img, pts["neck_c"], pts["head"], look.skin, w * 0.9)
    _draw_head(img, pts, look, scale)
    for name, _ in _SIDES:  # arms in front of the torso: sleeve, bare forearm, hand
        _line(img, pts[f"{name}_shoulder"], pts[f"{name}_elbow"], _shade(look.shirt, 0.85), w * 1.05)
        _line(img, pts[f"{name}_elbow"], pts[f"{name}_wrist"], look.skin, w * 0.85)
        _disc(img, pts[f"{name}_hand"], w * 0.62, _shade(look.skin, 0.95))


def _draw_head(img: np.ndarray, pts: dict[str, np.ndarray], look: Look, scale: float) -> None:
    head, r = pts["head"], look.head_r * scale
    _disc(img, pts["left_ear"], r * 0.22, _shade(look.skin, 0.9))
    _disc(img, pts["right_ear"], r * 0.22, _shade(look.skin, 0.9))
    cv2.ellipse(img, _p(head), (int(r * 0.92 * _ONE), int(r * 1.08 * _ONE)), 0, 0, 360, look.skin, -1,
                cv2.LINE_AA, _SHIFT)
    cv2.ellipse(img, _p(head + np.array([0, -0.25 * r])), (int(r * 0.98 * _ONE), int(r * 0.9 * _ONE)), 0, 180, 360,
                look.hair, -1, cv2.LINE_AA, _SHIFT)
    for name, _ in _SIDES:
        _disc(img, pts[f"{name}_eye"], r * 0.2, (245, 245, 245))
        _disc(img, pts[f"{name}_eye"], r * 0.11, (40, 25, 20))
    _line(img, pts["nose"] + np.array([0, -0.2 * r]), pts["nose"], _shade(look.skin, 0.7), max(1.0, r * 0.12))
    mouth = head + np.array([0, 0.5 * r])
    cv2.ellipse(img, _p(mouth), (int(r * 0.32 * _ONE), int(r * 0.14 * _ONE)), 0, 0, 180, (60, 50, 150),
                max(1, int(r * 0.12)), cv2.LINE_AA, _SHIFT)


def draw_flag(img: np.ndarray, pts: dict[str, np.ndarray], side: str, colour: Colour, scale: float) -> None:
    """A flag on a pole held upright in the ``side`` ("left"/"right") hand; the cloth flies outward."""
    hand = pts[f"{side}_hand"]
    out = 1.0 if side == "left" else -1.0
    top = hand + scale * np.array([0.0, -0.26])
    _line(img, hand + scale * np.array([0.0, 0.03]), top, (40, 60, 90), max(1.0, 0.012 * scale))
    cloth = np.array([top, top + scale * np.array([out * 0.17, 0.02]), top + scale * np.array([out * 0.16, 0.12]),
                      top + scale * np.array([0.0, 0.11])])
    cv2.fillPoly(img, [np.round(cloth * _ONE).astype(np.int32)], colour, cv2.LINE_AA, _SHIFT)
