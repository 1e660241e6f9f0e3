"""The cartoon-actor generator: determinism, layout and split files, joint motion per action, MediaPipe sees it."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from twostream.cli.main import main
from twostream.datasets.cartoon import JOINTS, random_look, skeleton_points
from twostream.datasets.synth import ACTIONS, PIXEL_PAIRS, SKELETON_PAIRS, generate, render_people, render_video
from twostream.pose.backends import PoseConfig
from twostream.pose.skeleton import MEDIAPIPE_33
from twostream.pose.tracking import PoseStream

J = {name: i for i, name in enumerate(JOINTS)}
SMALL = (64, 48)


def _decode(path: Path) -> list[np.ndarray]:
    capture = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(frame)
    capture.release()
    return frames


def _trajectory(action: str, steps: int = 48) -> np.ndarray:
    """(steps, J, 2) joints over one cycle in body units (scale 1, feet at the origin), no camera effects."""
    look = random_look(np.random.default_rng(0))
    poses = [ACTIONS[action].pose(t / steps, 1.0) for t in range(steps)]
    return np.stack([np.stack([skeleton_points(look, p, (0.0, 0.0), 1.0)[n] for n in JOINTS]) for p in poses])


def _range(traj: np.ndarray, joint: str, axis: int) -> float:
    values = traj[:, J[joint], axis]
    return float(values.max() - values.min())


# --- determinism -------------------------------------------------------------------------------------------------

def test_same_seed_same_video_and_joints(tmp_path):
    a = render_video("clap", tmp_path / "a.avi", seed=7, frames=6, size=SMALL)
    b = render_video("clap", tmp_path / "b.avi", seed=7, frames=6, size=SMALL)
    c = render_video("clap", tmp_path / "c.avi", seed=8, frames=6, size=SMALL)
    assert a.dtype == np.float32 and a.shape == (6, len(JOINTS), 2)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(_decode(tmp_path / "a.avi")[0], _decode(tmp_path / "b.avi")[0])
    assert not np.allclose(a, c)
    assert not np.array_equal(_decode(tmp_path / "a.avi")[0], _decode(tmp_path / "c.avi")[0])


def test_class_subset_reproduces_the_same_clips(tmp_path):
    generate(tmp_path / "all", videos_per_class=2, seed=3, frames=4, size=SMALL, classes=["squat", "jump"])
    generate(tmp_path / "one", videos_per_class=2, seed=3, frames=4, size=SMALL, classes=["jump"])
    rel = "jump/v_jump_g02_c01.joints.npy"
    np.testing.assert_array_equal(np.load(tmp_path / "all" / rel), np.load(tmp_path / "one" / rel))


# --- layout and split files --------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("synth")
    calls = []
    summary = generate(root, videos_per_class=5, seed=1, frames=7, size=SMALL, classes=["wave_right", "kick", "bend"],
                       progress=lambda done, total: calls.append((done, total)))
    assert summary.num_videos == 15 and summary.classes == ("wave_right", "kick", "bend")
    assert calls[-1] == (15, 15)
    return root


def test_split_files_parse_and_keep_groups_apart(dataset):
    classes = [line.split() for line in (dataset / "classInd.txt").read_text().splitlines()]
    assert classes == [["1", "wave_right"], ["2", "kick"], ["3", "bend"]]
    train = [line.split() for line in (dataset / "trainlist01.txt").read_text().splitlines()]
    test = [line.split() for line in (dataset / "testlist01.txt").read_text().splitlines()]
    assert all(len(row) == 2 for row in train) and all(len(row) == 1 for row in test)
    for rel, label in train:
        assert rel.split("/")[0] == classes[int(label) - 1][1]
    group = lambda rel: rel.rsplit("_c", 1)[0]  # noqa: E731 - "kick/v_kick_g03"
    assert not {group(r[0]) for r in train} & {group(r[0]) for r in test}
    for _, name in classes:
        assert any(r[0].startswith(f"{name}/") for r in train) and any(r[0].startswith(f"{name}/") for r in test)
    listed = {r[0] for r in train + test}
    on_disk = {p.relative_to(dataset).as_posix() for p in dataset.glob("*/*.avi")}
    assert listed == on_disk and len(listed) == 15
    for rel in listed:
        assert Path(rel).name.startswith(f"v_{rel.split('/')[0]}_g") and rel.endswith(".avi")


def test_videos_and_joints_match(dataset):
    for video in dataset.glob("*/*.avi"):
        frames = _decode(video)
        joints = np.load(video.with_suffix(".joints.npy"))
        assert len(frames) == 7 and frames[0].shape == (SMALL[1], SMALL[0], 3)
        assert joints.shape == (7, len(JOINTS), 2) and joints.dtype == np.float32
    names = json.loads((dataset / "joints.json").read_text())["joints"]
    assert names == list(JOINTS)
    for needed in ("nose", "left_shoulder", "right_elbow", "left_wrist", "right_hip", "left_knee", "right_ankle"):
        assert needed in names
    meta = json.loads((dataset / "synth.json").read_text())
    assert meta["seed"] == 1 and meta["classes"] == ["wave_right", "kick", "bend"] and meta["size"] == list(SMALL)


def test_figure_left_is_on_the_viewers_right(dataset):
    joints = np.load(next(dataset.glob("bend/*.joints.npy")))
    for part in ("shoulder", "hip", "eye"):
        assert (joints[:, J[f"left_{part}"], 0] > joints[:, J[f"right_{part}"], 0]).all()


def test_bad_arguments_name_the_value(tmp_path):
    with pytest.raises(ValueError, match="dance"):
        generate(tmp_path, classes=["dance"])
    with pytest.raises(ValueError, match="videos_per_class=1"):
        generate(tmp_path, videos_per_class=1)
    with pytest.raises(ValueError, match="too small"):
        render_video("jump", tmp_path / "x.avi", seed=0, size=(16, 12))
    with pytest.raises(ValueError, match="clips_per_group=3"):
        generate(tmp_path, videos_per_class=4, clips_per_group=3)


def test_one_clip_per_group_gives_one_actor_per_clip(tmp_path):
    summary = generate(tmp_path / "d", videos_per_class=4, frames=2, size=SMALL, classes=["jump"], clips_per_group=1)
    names = sorted(Path(rel).stem for rel in summary.train + summary.test)
    assert names == [f"v_jump_g{g:02d}_c01" for g in (1, 2, 3, 4)]  # 4 actors, not 2 actors x 2 clips
    assert [Path(rel).stem for rel in summary.test] == ["v_jump_g04_c01"]
    assert json.loads((tmp_path / "d" / "synth.json").read_text())["clips_per_group"] == 1


# --- each action moves the way its name says ---------------------------------------------------------------------

@pytest.mark.parametrize("mover,still", [("right", "left"), ("left", "right")])
def test_wave_moves_one_forearm_only(mover, still):
    traj = _trajectory(f"wave_{mover}")
    assert _range(traj, f"{mover}_wrist", 0) > 0.1
    assert _range(traj, f"{still}_wrist", 0) < 1e-6 and _range(traj, f"{still}_wrist", 1) < 1e-6
    assert (traj[:, J[f"{mover}_wrist"], 1] < traj[:, J[f"{mover}_shoulder"], 1]).all()  # hand held up


def test_rendered_wave_right_oscillates_the_right_wrist(tmp_path):
    joints = render_video("wave_right", tmp_path / "w.avi", seed=2, frames=40, size=(160, 120))
    right_x, left_x = joints[:, J["right_wrist"], 0], joints[:, J["left_wrist"], 0]
    crossings = np.count_nonzero(np.diff(np.sign(right_x - right_x.mean())))
    assert crossings >= 3 and right_x.std() > 3 * left_x.std()


def test_jump_lifts_the_ankles():
    traj = _trajectory("jump")
    assert traj[:, J["left_ankle"], 1].min() < traj[0, J["left_ankle"], 1] - 0.08
    assert traj[:, J["right_ankle"], 1].min() < -0.1  # the floor is y = 0; ankles rest 0.035 above it


def test_squat_lowers_the_hips_with_feet_on_the_floor():
    traj = _trajectory("squat")
    assert _range(traj, "left_hip", 1) > 0.1
    assert _range(traj, "left_ankle", 1) < 0.01


def test_bend_sways_the_head_over_still_hips():
    traj = _trajectory("bend")
    assert _range(traj, "nose", 0) > 0.15
    assert _range(traj, "left_hip", 0) < 1e-6 and _range(traj, "left_ankle", 1) < 1e-6


def test_kick_raises_one_leg_sideways():
    traj = _trajectory("kick")
    assert _range(traj, "right_ankle", 1) > 0.1
    assert traj[:, J["right_ankle"], 0].min() < traj[0, J["right_hip"], 0] - 0.2  # outward: the right is -x
    assert _range(traj, "left_ankle", 1) < 1e-6


def test_march_lifts_the_knees_in_turn():
    traj = _trajectory("march")
    left_up = traj[:, J["left_knee"], 1] < traj[:, J["left_knee"], 1].max() - 0.08
    right_up = traj[:, J["right_knee"], 1] < traj[:, J["right_knee"], 1].max() - 0.08
    assert left_up.any() and right_up.any() and not (left_up & right_up).any()


def test_clap_brings_the_hands_together_and_apart():
    traj = _trajectory("clap")
    gap = np.linalg.norm(traj[:, J["left_wrist"]] - traj[:, J["right_wrist"]], axis=1)
    assert gap.min() < 0.06 and gap.max() > 0.2


def test_raise_arms_lifts_the_wrists_above_the_head():
    traj = _trajectory("raise_arms")
    assert (traj[:, J["left_wrist"], 1] < traj[:, J["nose"], 1]).any()
    assert (traj[:, J["right_wrist"], 1] > traj[:, J["right_hip"], 1] - 0.1).any()  # and back down


def test_fusion_pairs_differ_in_the_right_stream():
    for a, b in PIXEL_PAIRS:  # same motion, different look
        np.testing.assert_array_equal(_trajectory(a), _trajectory(b))
        assert ACTIONS[a].flag != ACTIONS[b].flag
    for a, b in SKELETON_PAIRS:  # same look, different motion
        assert ACTIONS[a].flag == ACTIONS[b].flag
        assert np.abs(_trajectory(a) - _trajectory(b)).max() > 0.1


# --- MediaPipe finds the figure ----------------------------------------------------------------------------------

def test_mediapipe_finds_the_wave_right_figure(tmp_path):
    size = (128, 96)
    joints = render_video("wave_right", tmp_path / "w.avi", seed=0, frames=24, size=size)
    detected, errors = 0, []
    with PoseStream(PoseConfig(persons=1)) as stream:
        for t, frame in enumerate(_decode(tmp_path / "w.avi")):
            tracked = stream.process(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB), t * 40)
            if tracked.track_ids[0] >= 0:
                detected += 1
                wrist = tracked.keypoints[0, MEDIAPIPE_33.index("right_wrist")]  # (4,)
                errors.append(np.hypot(wrist[0] * size[0] - joints[t, J["right_wrist"], 0],
                                       wrist[1] * size[1] - joints[t, J["right_wrist"], 1]))
    assert detected >= 0.9 * 24
    assert np.median(errors) < 0.1 * 0.64 * size[1]  # under a tenth of the figure's height


def test_interactions_differ_only_in_the_partner_and_are_not_default_classes(tmp_path):
    from twostream.datasets.actions import INTERACTIONS, get_action

    pairs = [get_action(name) for name in ("handshake", "push", "hug")]
    assert len({a.pose for a in pairs}) == 1 and len({a.partner for a in pairs}) == 3  # same main actor
    assert not set(INTERACTIONS) & set(ACTIONS) and get_action("point").bystander
    people = render_people("push", tmp_path / "p.avi", seed=1, frames=5, size=SMALL)
    assert people.shape == (5, 2, len(J), 2)
    main_actor, partner = people[:, 0, J["nose"], 0], people[:, 1, J["nose"], 0]
    assert (partner > main_actor).all()  # the partner stands on the main actor's left (the viewer's right)
    out = tmp_path / "ds"
    generate(out, videos_per_class=2, frames=3, size=SMALL, classes=["hug", "point"])
    assert np.load(next(out.glob("hug/*.people.npy"))).shape == (3, 2, len(J), 2)
    assert np.load(next(out.glob("hug/*.joints.npy"))).shape == (3, len(J), 2)


# --- command line ------------------------------------------------------------------------------------------------

def test_cli_writes_a_dataset_and_reports_bad_classes(tmp_path, capsys):
    out = tmp_path / "ds"
    assert main(["synth", str(out), "--videos-per-class", "2", "--frames", "3", "--size", "64x48",
                 "--classes", "jump,clap", "--seed", "5"]) == 0
    assert len(list(out.glob("*/*.avi"))) == 4 and (out / "trainlist01.txt").is_file()
    assert json.loads((out / "synth.json").read_text())["seed"] == 5
    assert main(["synth", str(tmp_path / "bad"), "--classes", "jump,moonwalk"]) == 2
    assert "moonwalk" in capsys.readouterr().err
