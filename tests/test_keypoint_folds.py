"""Validation carved by subject / group, K-fold cross-validation (``datasets.splits.fold_split``, ``--folds``)."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pytest

from twostream.cli.main import main
from twostream.datasets.folder import VideoItem
from twostream.datasets.splits import fold_split, group_split
from twostream.streams.base import InputSpec
from twostream.streams.inference import open_run
from twostream.streams.keypoint_data import build_keypoint_datasets


def subject_pickle(path: Path, subjects: int = 6, per: int = 2, with_subject: bool = True) -> Path:
    """Two classes; each subject performs ``per`` sequences of each (3 camera views of a window share it)."""
    rng = np.random.default_rng(0)
    anns = []
    for s in range(subjects):
        for label in (0, 1):
            for i in range(per):
                ann = {"frame_dir": f"s{s}_c{label}_{i}", "label": label, "img_shape": (100, 100),
                       "keypoint": rng.uniform(20, 80, (1, 12, 17, 2)).astype(np.float32)}
                ann["keypoint"][0, 0, 0, 0] = 10 + s  # the subject, readable from the keypoints (x * 100 - 10)
                if with_subject:
                    ann["subject"] = 100 + s
                anns.append(ann)
    path.write_bytes(pickle.dumps({"split": {"train": [a["frame_dir"] for a in anns], "test": []},
                                   "annotations": anns}))
    return path


def _subjects(dataset) -> set[int]:
    return {int(np.rint(seq[0, 0, 0, 0] * 100)) - 10 for seq in dataset.base.sequences}


def test_validation_is_carved_by_subject(tmp_path):
    path = subject_pickle(tmp_path / "s.pkl")
    spec = InputSpec(key="keypoints", clip_len=6, layout="coco17", persons=1)
    bundle = build_keypoint_datasets(path, spec=spec, train_split="train", test_split="test", val_fraction=0.34)
    assert bundle.meta["validation_by"] == "subject"
    train, val = _subjects(bundle.train), _subjects(bundle.val)
    assert train and val and not train & val and train | val == set(range(6))
    assert len(bundle.val) == 4 * len(val)  # all of a held-out subject's sequences, in both classes
    no_subject = subject_pickle(tmp_path / "n.pkl", with_subject=False)
    assert build_keypoint_datasets(no_subject, spec=spec, train_split="train", test_split="test",
                                   val_fraction=0.34).meta["validation_by"] is None


def test_fold_split_holds_whole_sources_out_once_each():
    items = tuple(VideoItem(Path(f"{c}/v_{c}_g{g:02d}_c{i}.avi"), label, f"{c}/v_{c}_g{g:02d}_c{i}.avi",
                            f"{c}/v_{c}_g{g:02d}") for label, c in enumerate("AB") for g in range(1, 7) for i in (1, 2))
    held_all = []
    for k in range(3):
        kept, held = fold_split(items, (k, 3), seed=1)
        assert len(kept) + len(held) == len(items) and not set(kept) & set(held)
        numbers = {i.group[-2:] for i in held}
        assert numbers == {i.group[-2:] for i in held if i.label == 0}, "a group is held out in every class"
        assert not numbers & {i.group[-2:] for i in kept}
        held_all += held
    assert sorted(i.rel for i in held_all) == sorted(i.rel for i in items)
    with pytest.raises(ValueError, match="--folds 7 needs at least 7"):
        fold_split(items, (0, 7))


def test_cli_folds_on_a_pickle_reports_mean_and_std(tmp_path, capsys):
    path = subject_pickle(tmp_path / "s.pkl", subjects=4, per=1)
    out = tmp_path / "run"
    assert main(["train", str(path), "--model", "pose_gru", "--train-split", "train", "--test-split", "test",
                 "--folds", "2", "--epochs", "1", "--batch-size", "4", "--workers", "0", "--clip-len", "6",
                 "--out", str(out)]) == 0
    record = json.loads((out / "folds.json").read_text())
    assert len(record["accuracy"]) == 2 and record["std"] >= 0
    assert (out / "fold1" / "best.pt").is_file() and (out / "fold2" / "best.pt").is_file()
    assert "2-fold cross-validation: accuracy" in capsys.readouterr().out
    assert main(["train", str(path), "--model", "pose_gru", "--train-split", "train", "--test-split", "test",
                 "--folds", "1", "--out", str(tmp_path / "bad")]) == 2


def test_validation_by_subject_never_takes_a_class_out_of_training():
    """CMU mocap's runs come from one training subject: holding that subject out must not leave training with
    no run at all (the keypoint models then scored 0 runs on test)."""
    items = tuple(VideoItem(Path(f"{c}/{c}_g{g:02d}_{i}"), label, f"{c}/{c}_g{g:02d}_{i}", f"{label}/subject_g{g:02d}")
                  for label, c, subjects in ((0, "walk", (1, 2, 3, 4)), (1, "run", (1,)), (2, "jump", (2,)))
                  for g in subjects for i in range(3))
    for seed in range(6):  # whichever subject is held out
        kept, held = group_split(items, 0.25, np.random.default_rng(seed))
        assert {i.label for i in kept} == {0, 1, 2}
        assert held and {i.label for i in held} == {0}  # a one-subject class stays in training
        assert len({i.group.split("/")[1] for i in held}) == 1  # walk still loses one whole subject


def test_cli_stream_trains_one_pyskl_stream_and_refuses_other_models(tmp_path, capsys):
    path = subject_pickle(tmp_path / "s.pkl", subjects=2, per=2)
    common = ["--train-split", "train", "--test-split", "train", "--epochs", "1", "--batch-size", "4",
              "--workers", "0", "--clip-len", "6"]
    out = tmp_path / "motion"
    assert main(["train", str(path), "--model", "pose_stgcnpp", "--stream", "joint_motion", *common,
                 "--out", str(out)]) == 0
    model = open_run(out).model
    assert model.stream == "joint_motion" and model.data_bn.num_features == 6 * 17  # its 6 channels per joint
    assert main(["train", str(path), "--model", "pose_gru", "--stream", "bone", *common,
                 "--out", str(tmp_path / "gru")]) == 2
    assert "has no PYSKL input streams" in capsys.readouterr().err
    assert main(["train", str(path), "--model", "pose_stgcnpp", "--stream", "velocity", *common,
                 "--out", str(tmp_path / "bad")]) == 2
    assert "stream must be one of" in capsys.readouterr().err
