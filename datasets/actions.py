"""The cartoon actions: each a pure function ``phase -> Pose`` registered by name in ``ACTIONS``.

``phase`` is in cycles, so ``sin(2 * pi * phase)`` runs once per cycle. Classes are chosen so that late fusion has
something to do:

* **easy for pixels, hard for skeletons** — ``wave_red_flag`` vs ``wave_blue_flag``: the very same arm motion, the
  only difference is the colour of the flag in the hand, which no keypoint sees.
* **easy for skeletons, hard for pixels** — ``wave_right`` vs ``wave_left`` (mirror motions of one small forearm,
  same look) and ``squat`` vs ``bend`` (vertical vs sideways motion of the same body, same colours): the appearance
  distribution is identical across classes, only the joint trajectories tell them apart.
* the rest (``wave_both``, ``raise_arms``, ``clap``, ``jump``, ``kick``, ``march``) are distinct for both streams.

``twostream.datasets.synth`` renders them; ``PIXEL_PAIRS`` and ``SKELETON_PAIRS`` name the pairs above.

Interactions (``INTERACTIONS``, not in the default class list; ask for them with ``--classes``) have a second
person. In ``handshake``, ``push`` and ``hug`` the main actor (on the left, larger) does the very same thing — it
reaches out towards its partner — and only the partner's answer tells the class: shakes the hand, is pushed
back, hugs. A keypoint model that reads one person sees three identical classes. ``point`` has one actor and a
smaller bystander walking through the background, so a model that reads the bystander is misled.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

from twostream.datasets.cartoon import Pose

_TAU = 2.0 * math.pi

ActionFn = Callable[[float, float], Pose]  # (phase in cycles, amplitude ~1) -> Pose


@dataclass(frozen=True)
class Action:
    """A registered action: its pose function, cycles per second and an optional held flag colour (BGR)."""

    name: str
    pose: ActionFn
    hz: float
    flag: tuple[int, int, int] | None = None
    partner: ActionFn | None = None
    """The second actor's pose (two-actor classes); it stands on the main actor's left (larger x)."""
    gap: Callable[[float, float], float] | None = None
    """(phase, amp) -> distance between the two actors' feet in body units."""
    bystander: bool = False
    """A smaller person walks through the background."""

    @property
    def people(self) -> int:
        return 1 + (self.partner is not None) + self.bystander


ACTIONS: dict[str, Action] = {}
INTERACTIONS: dict[str, Action] = {}


def _action(hz: float, flag: tuple[int, int, int] | None = None, name: str | None = None, *,
            partner: ActionFn | None = None, gap: Callable[[float, float], float] | None = None,
            bystander: bool = False):
    def register(fn: ActionFn) -> ActionFn:
        key = name or fn.__name__
        if key in ACTIONS or key in INTERACTIONS:
            raise ValueError(f"action {key!r} is already registered")
        action = Action(key, fn, hz, flag, partner, gap, bystander)
        (INTERACTIONS if partner is not None or bystander else ACTIONS)[key] = action
        return fn
    return register


def _s(phase: float) -> float:
    return math.sin(_TAU * phase)


def _closing(phase: float) -> float:
    """0 → 1 → 0 once per cycle (smooth)."""
    return 0.5 - 0.5 * math.cos(_TAU * phase)


@_action(hz=2.0)
def wave_right(phase: float, amp: float) -> Pose:
    return Pose(r_shoulder=1.9, r_elbow=0.75 + 0.55 * amp * _s(phase))


@_action(hz=2.0)
def wave_left(phase: float, amp: float) -> Pose:
    return Pose(l_shoulder=1.9, l_elbow=0.75 + 0.55 * amp * _s(phase))


@_action(hz=2.0)
def wave_both(phase: float, amp: float) -> Pose:
    swing = 0.55 * amp * _s(phase)
    return Pose(r_shoulder=1.9, r_elbow=0.75 + swing, l_shoulder=1.9, l_elbow=0.75 - swing)


def _flag_wave(phase: float, amp: float) -> Pose:
    return Pose(r_shoulder=2.35 + 0.45 * amp * _s(phase), r_elbow=0.15)


_action(hz=1.2, flag=(30, 30, 215), name="wave_red_flag")(_flag_wave)
_action(hz=1.2, flag=(200, 70, 20), name="wave_blue_flag")(_flag_wave)


@_action(hz=0.8)
def raise_arms(phase: float, amp: float) -> Pose:
    up = 0.2 + 2.5 * amp * _closing(phase)
    return Pose(r_shoulder=up, r_elbow=0.1, l_shoulder=up, l_elbow=0.1)


@_action(hz=1.8)
def clap(phase: float, amp: float) -> Pose:
    c = _closing(phase)
    return Pose(r_shoulder=0.6 - 0.4 * c, r_elbow=-0.9 - 0.8 * c, l_shoulder=0.6 - 0.4 * c, l_elbow=-0.9 - 0.8 * c)


@_action(hz=0.8)
def squat(phase: float, amp: float) -> Pose:
    c = amp * _closing(phase)
    return Pose(r_hip=0.06 + 0.7 * c, r_knee=-1.4 * c, l_hip=0.06 + 0.7 * c, l_knee=-1.4 * c,
                r_shoulder=0.2 + 1.0 * c, l_shoulder=0.2 + 1.0 * c)


@_action(hz=0.7)
def bend(phase: float, amp: float) -> Pose:
    tilt = 0.45 * amp * _s(phase)
    return Pose(torso_tilt=tilt, r_shoulder=0.15 - tilt, l_shoulder=0.15 + tilt)


@_action(hz=1.3)
def jump(phase: float, amp: float) -> Pose:
    air, crouch = max(0.0, _s(phase)), max(0.0, -_s(phase))
    arms = 0.3 + 1.8 * air
    return Pose(lift=0.13 * amp * air, r_hip=0.06 + 0.35 * crouch, l_hip=0.06 + 0.35 * crouch,
                r_knee=-0.7 * crouch, l_knee=-0.7 * crouch, r_shoulder=arms, l_shoulder=arms)


@_action(hz=1.0)
def kick(phase: float, amp: float) -> Pose:
    k = max(0.0, _s(phase)) ** 1.5
    return Pose(r_hip=0.06 + 1.15 * amp * k, r_knee=-0.5 * (1 - k) * k, r_shoulder=0.5 + 0.3 * k,
                l_shoulder=0.5 + 0.3 * k, torso_tilt=0.12 * k)


@_action(hz=1.4)
def march(phase: float, amp: float) -> Pose:
    s = _s(phase)
    return Pose(r_fwd=1.25 * amp * max(0.0, s), l_fwd=1.25 * amp * max(0.0, -s), r_shoulder=0.15 + 0.2 * max(0, -s),
                l_shoulder=0.15 + 0.2 * max(0, s), r_elbow=0.5 * max(0, -s), l_elbow=0.5 * max(0, s))


def _reach(phase: float, amp: float) -> Pose:
    """The main actor of every interaction: the near (left, +x) arm reaches out to the partner and back."""
    c = amp * _closing(phase)
    return Pose(l_shoulder=0.3 + 1.15 * c, l_elbow=0.35 * (1 - c))


def _shake_back(phase: float, amp: float) -> Pose:
    c = amp * _closing(phase)
    pump = 0.35 * c * math.sin(3 * _TAU * phase)
    return Pose(r_shoulder=0.3 + 1.15 * c + pump, r_elbow=0.35 * (1 - c) - pump)


def _pushed(phase: float, amp: float) -> Pose:
    c = amp * _closing(phase)
    return Pose(torso_tilt=0.4 * c, r_shoulder=0.15 + 0.9 * c, l_shoulder=0.15 + 1.4 * c, l_elbow=0.6 * c,
                r_hip=0.06 + 0.25 * c, r_knee=-0.3 * c)


def _hug_back(phase: float, amp: float) -> Pose:
    c = amp * _closing(phase)
    return Pose(r_shoulder=0.2 + 1.4 * c, r_elbow=-0.9 * c, l_shoulder=0.2 + 2.2 * c, l_elbow=-1.2 * c)


_action(hz=0.9, name="handshake", partner=_shake_back, gap=lambda phase, amp: 0.85)(_reach)
_action(hz=0.9, name="push", partner=_pushed, gap=lambda phase, amp: 0.85 + 0.3 * amp * _closing(phase))(_reach)
_action(hz=0.9, name="hug", partner=_hug_back, gap=lambda phase, amp: 0.85 - 0.1 * amp * _closing(phase))(_reach)


@_action(hz=0.8, bystander=True)
def point(phase: float, amp: float) -> Pose:
    c = amp * _closing(phase)
    return Pose(r_shoulder=0.2 + 1.35 * c, r_elbow=0.1)


def get_action(name: str) -> Action:
    """The registered action (or interaction) called ``name``; ValueError naming the available ones otherwise."""
    found = ACTIONS.get(name) or INTERACTIONS.get(name)
    if found is None:
        raise ValueError(f"unknown action {name!r}; available: {', '.join([*ACTIONS, *INTERACTIONS])}")
    return found


# Class pairs that make fusion worth having (see the module docstring); ``synth`` records them in synth.json.
PIXEL_PAIRS: tuple[tuple[str, str], ...] = (("wave_red_flag", "wave_blue_flag"),)
SKELETON_PAIRS: tuple[tuple[str, str], ...] = (("wave_right", "wave_left"), ("squat", "bend"))
