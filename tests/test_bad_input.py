"""The bad-input sweep: every kind of bad input and fault a user met, fed through the CLI.

Each case asserts the exit code, no "Traceback", the file or value named in the output, and that nothing the
user already had changed: every file of the shared world (datasets, runs, metrics) is checksummed before and
after. One parametrised test per command family; the world (two tiny cartoon datasets, a 1-epoch ``fc`` run
and a fused run) is made once per module.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pytest
import torch

from twostream.cli.main import main
from twostream.datasets.synth import generate
from twostream.fusion.late import build_mode
from twostream.fusion.run import write_fused_run
from twostream.streams.checkpoint import save_checkpoint
from twostream.streams.registry import build


_HELD: list = []  # lock files held open by the "another extract is running" case


@dataclass(frozen=True)
class World:
    root: Path
    data: Path  # classes jump, wave_right; split files from synth
    other: Path  # classes jump, squat: another class list
    run: Path  # fc, 1 epoch, evaluated (metrics.json)
    fused: Path  # fc + untrained pose_gru, fixed fusion
    video: Path  # a video of `data`

    def fill(self, text: str, tmp: Path) -> str:
        return text.format(data=self.data, other=self.other, run=self.run, fused=self.fused, video=self.video,
                           tmp=tmp, root=self.root)


@dataclass(frozen=True)
class Case:
    id: str
    argv: str
    code: int
    named: tuple[str, ...]
    setup: Callable | None = None
    """``setup(world, tmp, monkeypatch)`` before the command (fault injection, scratch copies)."""
    check: Callable | None = None
    """``check(world, tmp, output)`` after it, for effects in the scratch folder."""
    extra: dict = field(default_factory=dict)


def _cli(argv: list[str], capsys) -> tuple[int, str]:
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse rejects a flag
        code = exc.code
    out = capsys.readouterr()
    return code, out.out + out.err


def _checksums(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha1(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module", autouse=True)
def _release_locks():
    yield
    while _HELD:
        _HELD.pop().close()


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> World:
    root = tmp_path_factory.mktemp("world")
    data, other = root / "data", root / "other"
    tiny = dict(videos_per_class=4, frames=8, size=(64, 48), seed=0)
    generate(data, classes=["jump", "wave_right"], **tiny)
    generate(other, classes=["jump", "squat"], **tiny)
    run = root / "runs" / "fc"
    assert main(["train", str(data), "--model", "fc", "--epochs", "1", "--clip-len", "2", "--workers", "0",
                 "--batch-size", "4", "--out", str(run)]) == 0
    assert main(["evaluate", str(run), "--workers", "0"]) == 0
    pose_kwargs = {"num_classes": 2, "clip_len": 2, "layout": "mediapipe33", "hidden": 8}
    pose_ckpt = root / "pose-best.pt"
    save_checkpoint(pose_ckpt, {"model": build("pose_gru", **pose_kwargs).state_dict(), "arch": "pose_gru",
                                "arch_kwargs": pose_kwargs, "classes": ["jump", "wave_right"], "config": {},
                                "epoch": 1, "metrics": {}})
    record = {"mode": "fixed", "params": {"fixed": build_mode("fixed", weight=0.5).to_dict()},
              "classes": ["jump", "wave_right"], "root": str(data),
              "split": {"split": 1, "split_dir": None, "val_fraction": 0.1, "seed": 0},
              "streams": {"rgb": {"run": str(run), "arch": "fc", "file": "rgb.pt"},
                          "pose": {"run": "pose", "arch": "pose_gru", "file": "pose.pt"}}, "validation": {}}
    fused = write_fused_run(root / "runs" / "fused", record, {"rgb": run / "best.pt", "pose": pose_ckpt})
    video = sorted((data / "jump").glob("*.avi"))[0]
    return World(root, data, other, run, fused, video)


def _sweep(world: World, case: Case, tmp_path: Path, monkeypatch, capsys) -> str:
    if "cuda" in case.id and torch.cuda.is_available():
        pytest.skip("a GPU is visible: --device cuda is valid here")
    if case.setup is not None:
        case.setup(world, tmp_path, monkeypatch)
    before = _checksums(world.root)
    code, output = _cli(world.fill(case.argv, tmp_path).split(), capsys)
    assert "Traceback" not in output, output
    assert code == case.code, output
    for name in case.named:
        assert world.fill(name, tmp_path) in output, f"{name!r} not named in: {output}"
    assert _checksums(world.root) == before, "an input or an earlier output changed"
    if case.check is not None:
        case.check(world, tmp_path, output)
    return output


# ---------------------------------------------------------------------------------------------- fault helpers
def _copy(name: str):
    """setup: a scratch copy of the world's ``name`` (data, runs) under tmp."""
    def setup(world: World, tmp: Path, monkeypatch) -> None:
        shutil.copytree(world.root / name, tmp / name)
    return setup


def _read_only(folder: str):
    """setup: ``folder`` (under tmp) exists and reads as read-only (root ignores chmod, so os.access says so)."""
    def setup(world: World, tmp: Path, monkeypatch) -> None:
        (tmp / folder).mkdir(parents=True, exist_ok=True)
        real = os.access
        monkeypatch.setattr(os, "access", lambda p, mode, **kw: False if Path(p) == tmp / folder and mode & os.W_OK
                            else real(p, mode, **kw))
    return setup


def _disk_full(world: World, tmp: Path, monkeypatch) -> None:
    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(tmp / "full" / "last.pt"))
    monkeypatch.setattr(torch, "save", full)


def _split_edit(kind: str):
    """setup: a scratch copy of the dataset whose split files list a video twice or on both sides."""
    def setup(world: World, tmp: Path, monkeypatch) -> None:
        shutil.copytree(world.data, tmp / "data")
        train = (tmp / "data" / "trainlist01.txt").read_text().splitlines()
        if kind == "twice":
            (tmp / "data" / "trainlist01.txt").write_text("\n".join(train + [train[0]]) + "\n")
        else:
            test = (tmp / "data" / "testlist01.txt").read_text().splitlines()
            (tmp / "data" / "testlist01.txt").write_text("\n".join(test + [train[0].split()[0]]) + "\n")
    return setup


def _file(name: str, text: str = "x"):
    def setup(world: World, tmp: Path, monkeypatch) -> None:
        (tmp / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp / name).write_text(text)
    return setup


def _short_video(world: World, tmp: Path, monkeypatch) -> None:
    import cv2
    import numpy as np

    writer = cv2.VideoWriter(str(tmp / "short.avi"), cv2.VideoWriter_fourcc(*"MJPG"), 25.0, (64, 48))
    writer.write(np.zeros((48, 64, 3), np.uint8))  # one frame: shorter than any run's clip
    writer.release()


def _link_to_video(world: World, tmp: Path, monkeypatch) -> None:
    (tmp / "link.avi").symlink_to(world.video)


def _fused_without_rgb(world: World, tmp: Path, monkeypatch) -> None:
    shutil.copytree(world.fused, tmp / "fused")
    (tmp / "fused" / "rgb.pt").unlink()


def _broken_metrics(world: World, tmp: Path, monkeypatch) -> None:
    shutil.copytree(world.run, tmp / "run")
    (tmp / "run" / "metrics.json").write_text("{ not json")


def _new_video(world: World, tmp: Path, monkeypatch) -> None:
    shutil.copytree(world.data, tmp / "data")
    shutil.copytree(world.run, tmp / "run")
    shutil.copyfile(world.video, tmp / "data" / "jump" / "v_jump_g09_c01.avi")
    config = json.loads((tmp / "run" / "config.json").read_text())
    config["data"]["root"] = str(tmp / "data")
    (tmp / "run" / "config.json").write_text(json.dumps(config))


def _num_test_videos_unchanged(world: World, tmp: Path, output: str) -> None:
    new = json.loads((tmp / "run" / "metrics.json").read_text())
    old = json.loads((world.run / "metrics.json").read_text())
    assert new["num_videos"] == old["num_videos"] and new["unlisted"] == ["jump/v_jump_g09_c01.avi"]


def _one_video(world: World, tmp: Path, monkeypatch) -> None:
    (tmp / "one").mkdir()
    shutil.copyfile(world.video, tmp / "one" / "a.avi")


def _hold_lock(world: World, tmp: Path, monkeypatch) -> None:
    """Another extract holds the folder's lock (an open file of this process: flock still refuses a second)."""
    import fcntl

    _one_video(world, tmp, monkeypatch)
    handle = open(tmp / "one" / ".twostream-extract.1-of-1.lock", "w")
    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    handle.write("4242")
    handle.flush()
    _HELD.append(handle)  # closed by _release_locks after the module


# ------------------------------------------------------------------------------------------------ the cases
DATA_CASES = [
    Case("synth-into-existing-dataset", "synth {data} --videos-per-class 2", 2, ("{data}", "--overwrite")),
    Case("synth-under-a-file", "synth {tmp}/f/data", 2, ("{tmp}/f",), setup=_file("f")),
    Case("synth-read-only", "synth {tmp}/ro/data", 2, ("{tmp}/ro", "read-only"), setup=_read_only("ro")),
    Case("extract-empty-folder", "extract {tmp}/empty", 2, ("no videos found", "{tmp}/empty"),
         setup=lambda w, t, m: (t / "empty").mkdir()),
    Case("extract-missing", "extract {tmp}/nope", 2, ("{tmp}/nope",)),
    Case("extract-read-only", "extract {tmp}/ro", 2, ("{tmp}/ro", "read-only"), setup=_read_only("ro")),
    Case("extract-second-writer", "extract {tmp}/one --workers 1", 2, ("already running", "{tmp}/one"),
         setup=lambda w, t, m: _hold_lock(w, t, m)),
    Case("extract-workers-0", "extract {tmp}/one --workers 0", 2, ("--workers",), setup=_one_video),
    Case("trim-out-is-input", "trim {tmp}/ann.json {tmp} {tmp}/ann.json", 2, ("{tmp}/ann.json",),
         setup=_file("ann.json", "{}")),
]


TRAIN_CASES = [
    Case("train-into-existing-run", "train {data} --model fc --epochs 1 --out {run}", 2, ("{run}", "--resume",
                                                                                          "--overwrite")),
    Case("train-out-is-dataset", "train {data} --model fc --epochs 1 --out {data}", 2, ("{data}",)),
    Case("train-out-non-run-folder", "train {data} --model fc --out {tmp}/stuff", 2, ("{tmp}/stuff", "not a run"),
         setup=_file("stuff/notes.txt")),
    Case("train-resume-and-overwrite", "train {data} --model fc --out {run} --resume --overwrite", 2,
         ("--resume", "--overwrite")),
    Case("train-resume-nothing", "train {data} --model fc --out {tmp}/new --resume", 2, ("{tmp}/new/last.pt",)),
    Case("train-resume-finished", "train {data} --model fc --epochs 1 --out {run} --resume", 0,
         ("already trained 1 epoch", "nothing to do")),
    Case("train-resume-finished-own-epochs", "train {data} --model fc --out {run} --resume", 0,
         ("already trained 1 epoch", "nothing to do")),  # no --epochs: the number the run chose is done
    Case("train-video-as-dataset", "train {video} --model fc --out {tmp}/r", 2, ("{video}", "one video")),
    Case("train-file-as-dataset", "train {tmp}/notes.txt --model fc --out {tmp}/r", 2, ("{tmp}/notes.txt",),
         setup=_file("notes.txt")),
    Case("train-missing-dataset", "train {tmp}/nope --model fc --out {tmp}/r", 2, ("{tmp}/nope",)),
    Case("train-unknown-model", "train {data} --model resnet9000 --out {tmp}/r", 2, ("resnet9000", "fc")),
    Case("train-device-gpu", "train {data} --model fc --device gpu --out {tmp}/r", 2, ("gpu",)),
    Case("train-device-cuda", "train {data} --model fc --device cuda --out {tmp}/r", 2, ("cuda", "--device cpu")),
    Case("train-read-only-out", "train {data} --model fc --out {tmp}/ro/run", 2, ("{tmp}/ro", "read-only"),
         setup=_read_only("ro")),
    Case("train-disk-full", "train {data} --model fc --epochs 1 --clip-len 2 --workers 0 --out {tmp}/full", 2,
         ("last.pt", "disk is full"), setup=_disk_full),
    Case("train-split-listed-twice", "train {tmp}/data --model fc --out {tmp}/r", 2,
         ("trainlist01.txt:5", "listed twice", "line 1"), setup=_split_edit("twice")),
    Case("train-split-train-and-test", "train {tmp}/data --model fc --out {tmp}/r", 2,
         ("both the train and the test list", "trainlist01.txt:1", "testlist01.txt:5"),
         setup=_split_edit("both")),
    Case("train-pose-without-caches", "train {data} --model pose_gru --epochs 1 --out {tmp}/pose", 2,
         ("8 of 8 keypoint caches are unusable", "{video}", "twostream extract {data}"),
         check=lambda w, t, o: not (t / "pose" / "last.pt").exists() or pytest.fail("trained anyway")),
    Case("train-on-bad-cache-bogus", "train {data} --model pose_gru --on-bad-cache ignore --out {tmp}/pose", 2,
         ("ignore",)),
    Case("train-workers-capped", "train {data} --model fc --epochs 1 --clip-len 2 --batch-size 8 --workers 1000 "
         "--out {tmp}/capped", 0, ("--workers 1000 capped",)),
    Case("train-no-validation", "train {data} --model fc --epochs 1 --clip-len 2 --workers 0 --val-fraction 0 "
         "--out {tmp}/noval", 0, ("no validation clips",)),
]

RUN_CASES = [
    Case("evaluate-other-classes", "evaluate {run} {other}", 2, ("{other}", "only in the run: wave_right",
                                                                 "only in the data: squat")),
    Case("evaluate-fused-other-classes", "evaluate {fused} {other}", 2, ("{other}", "only in the run: wave_right",
                                                                         "only in the data: squat")),
    Case("evaluate-device-cuda", "evaluate {run} --device cuda", 2, ("--device cpu",)),
    Case("evaluate-read-only-run", "evaluate {tmp}/ro", 2, ("{tmp}/ro", "read-only"), setup=_read_only("ro")),
    Case("evaluate-new-video-left-out", "evaluate {tmp}/run --workers 0", 0, ("v_jump_g09_c01.avi", "left out"),
         setup=_new_video, check=_num_test_videos_unchanged),
    Case("fused-run-missing-rgb", "predict {tmp}/fused {video}", 2, ("rgb.pt", "twostream fuse"),
         setup=_fused_without_rgb),
    Case("predict-device-cuda", "predict {run} {video} --device cuda", 2, ("--device cpu",)),
    Case("predict-device-gpu", "predict {run} {video} --device gpu", 2, ("gpu",)),
    Case("predict-folder-as-video", "predict {run} {data}", 2, ("{data} is a folder",)),
    Case("predict-markup-in-name", "predict {run} {tmp}/clip[1].avi", 2, ("{tmp}/clip[1].avi",)),
    Case("predict-missing-run", "predict {tmp}/norun {video}", 2, ("{tmp}/norun",)),
    Case("compare-out-is-metrics", "compare {run} --out {run}/metrics.json", 2, ("{run}/metrics.json",)),
    Case("compare-out-is-file", "compare {run} --out {tmp}/f", 2, ("{tmp}/f", "is a file"), setup=_file("f")),
    Case("compare-broken-metrics", "compare {tmp}/run --out {tmp}/cmp", 2, ("{tmp}/run/metrics.json",),
         setup=_broken_metrics),
    Case("compare-unevaluated", "compare {tmp}/r", 2, ("{tmp}/r/metrics.json", "twostream evaluate"),
         setup=lambda w, t, m: (t / "r").mkdir()),
    Case("fuse-out-is-a-run", "fuse {run} {run} --out {run}", 2, ("{run}",)),
    Case("fuse-into-existing-run", "fuse {run} {run} --out {fused}", 2, ("{fused}", "--overwrite")),
    Case("fuse-device-cuda", "fuse {run} {run} --out {tmp}/f --device cuda", 2, ("--device cpu",)),
    Case("timeline-out-is-video", "timeline {run} {video} --out {video}", 2, ("{video}",)),
    Case("timeline-out-is-run", "timeline {run} {video} --out {run}", 2, ("{run}",)),
    Case("detection-out-is-ground-truth", "evaluate-detection {tmp}/gt.json {tmp}/res.json --out {tmp}/gt.json", 2,
         ("{tmp}/gt.json", "input"), setup=lambda w, t, m: (_file("gt.json", "{}")(w, t, m),
                                                            _file("res.json", "{}")(w, t, m))),
    Case("export-opset-5", "export {run} --onnx {tmp}/onnx --opset 5", 2, ("--opset 5", "17"),
         check=lambda w, t, o: not (t / "onnx" / "rgb.onnx").exists() or pytest.fail("half export left")),
    Case("export-into-run", "export {run} --onnx {run}", 2, ("{run}",)),
    Case("export-onnx-is-file", "export {run} --onnx {tmp}/f", 2, ("{tmp}/f", "is a file"), setup=_file("f")),
]

LIVE_CASES = [
    Case("live-output-is-source", "live {run} --source {video} --no-window --output {video}", 2,
         ("--output {video}", "input")),
    Case("live-log-is-source", "live {run} --source {video} --no-window --log {video}", 2, ("--log {video}",)),
    Case("live-log-links-to-source", "live {run} --source {video} --no-window --log {tmp}/link.avi", 2,
         ("{tmp}/link.avi",), setup=_link_to_video),
    Case("live-log-is-output", "live {run} --source {video} --no-window --output {tmp}/a.mp4 --log {tmp}/a.mp4",
         2, ("{tmp}/a.mp4",)),
    Case("live-output-exists", "live {run} --source {video} --no-window --output {tmp}/old.mp4", 2,
         ("{tmp}/old.mp4", "--overwrite"), setup=_file("old.mp4")),
    Case("live-output-is-folder", "live {run} --source {video} --no-window --output {tmp}", 2,
         ("{tmp} is a folder",)),
    Case("live-device-cuda", "live {run} --source {video} --no-window --device cuda", 2, ("--device cpu",)),
    Case("live-short-video", "live {run} --source {tmp}/short.avi --no-window --log {tmp}/p.jsonl", 0,
         ("ended after 1 frame(s)", "window of", "1 predictions"), setup=_short_video),
    Case("pose-show-over-video", "pose-show {video} -o {video}", 2, ("{video}", "input")),
    Case("pose-show-output-folder", "pose-show {video} -o {tmp}", 2, ("{tmp} is a folder",)),
    Case("pose-show-folder-as-video", "pose-show {data}", 2, ("{data} is a folder",)),
    Case("pose-show-model-offline", "pose-show {video} -o {tmp}/x.mp4 --pose-model lite", 2,
         ("pose_landmarker_lite.task", "--pose-model full"),
         setup=lambda w, t, m: m.setenv("TWOSTREAM_CACHE", str(t / "empty-cache"))),
    Case("quickstart-bad-epochs", "quickstart --out {tmp}/qs --epochs 0", 2, ("--epochs",),
         check=lambda w, t, o: not (t / "qs").exists() or pytest.fail("quickstart started work")),
    Case("quickstart-unknown-class", "quickstart --out {tmp}/qs --classes jump,fly", 2, ("fly",)),
]


@pytest.mark.parametrize("case", DATA_CASES, ids=lambda c: c.id)
def test_data_commands(world, case, tmp_path, monkeypatch, capsys):
    _sweep(world, case, tmp_path, monkeypatch, capsys)


@pytest.mark.parametrize("case", TRAIN_CASES, ids=lambda c: c.id)
def test_train(world, case, tmp_path, monkeypatch, capsys):
    _sweep(world, case, tmp_path, monkeypatch, capsys)


@pytest.mark.parametrize("case", RUN_CASES, ids=lambda c: c.id)
def test_run_commands(world, case, tmp_path, monkeypatch, capsys):
    _sweep(world, case, tmp_path, monkeypatch, capsys)


@pytest.mark.parametrize("case", LIVE_CASES, ids=lambda c: c.id)
def test_live_and_quickstart(world, case, tmp_path, monkeypatch, capsys):
    _sweep(world, case, tmp_path, monkeypatch, capsys)


def test_sweep_covers_at_least_39_kinds():
    assert len(DATA_CASES + TRAIN_CASES + RUN_CASES + LIVE_CASES) >= 39


def test_help_shows_no_default_for_switches(capsys):
    code, output = _cli(["train", "--help"], capsys)
    assert code == 0 and "--no-flip" in output and "(default: True)" not in output
