"""Class folders and splits: UCF101's official files parsed exactly, and the group-keeping fallback."""

from __future__ import annotations

from pathlib import Path

import pytest

from twostream.datasets.folder import group_of, scan_class_folders
from twostream.datasets.splits import load_split

CLASSES = ("ApplyEyeMakeup", "Archery", "Basketball")


def _touch(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x")  # the split layer only checks existence; no decoding here


def _ucf_tree(root: Path, groups: int = 6, clips: int = 2) -> list[str]:
    rels = [f"{c}/v_{c}_g{g:02d}_c{k:02d}.avi" for c in CLASSES for g in range(1, groups + 1)
            for k in range(1, clips + 1)]
    for rel in rels:
        _touch(root / rel)
    return rels


def _write_crlf(path: Path, lines: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode())  # UCF101's files use CRLF


def _official(root: Path, where: Path) -> None:
    rels = _ucf_tree(root)
    _write_crlf(where / "classInd.txt", [f"{i} {c}" for i, c in enumerate(CLASSES, 1)])
    test = [r for r in rels if int(r.split("_g")[1][:2]) <= 2]  # groups 1-2 test, like groups 1-7 in UCF101
    train = [f"{r} {CLASSES.index(r.split('/')[0]) + 1}" for r in rels if r not in test]
    _write_crlf(where / "trainlist01.txt", train)
    _write_crlf(where / "testlist01.txt", test)


@pytest.mark.parametrize("subdir", ["", "ucfTrainTestlist"])
def test_official_split_parsed_exactly(tmp_path, subdir):
    _official(tmp_path, tmp_path / subdir)
    split = load_split(tmp_path, split=1, val_fraction=0.25)
    assert split.classes == CLASSES
    assert len(split.test) == 3 * 2 * 2 and len(split.train) + len(split.val) == 3 * 4 * 2
    first = split.test[0]
    assert first.rel == "ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01.avi" and first.label == 0
    assert first.path == tmp_path / first.rel and "\r" not in first.rel
    assert {i.label for i in split.test} == {0, 1, 2}
    assert all(int(i.rel.split("_g")[1][:2]) > 2 for i in split.train + split.val)
    assert all(i.rel.split("/")[0] == CLASSES[i.label] for i in split.train + split.val + split.test)
    assert split.val and not {i.group for i in split.val} & {i.group for i in split.train + split.test}


def test_split_dir_option(tmp_path):
    _official(tmp_path / "data", tmp_path / "lists")
    split = load_split(tmp_path / "data", split_dir=tmp_path / "lists", val_fraction=0.0)
    assert len(split.train) == 24 and split.val == ()


def test_split_file_naming_a_missing_video_is_a_clear_error(tmp_path):
    _official(tmp_path, tmp_path)
    (tmp_path / "Archery/v_Archery_g01_c02.avi").unlink()
    with pytest.raises(FileNotFoundError, match=r"testlist01\.txt:6: video .*v_Archery_g01_c02\.avi not found"):
        load_split(tmp_path)


def test_label_column_disagreeing_with_the_folder_is_an_error(tmp_path):
    _official(tmp_path, tmp_path)
    lines = (tmp_path / "trainlist01.txt").read_text().splitlines()
    lines[0] = lines[0].rsplit(" ", 1)[0] + " 3"
    _write_crlf(tmp_path / "trainlist01.txt", lines)
    with pytest.raises(ValueError, match=r"trainlist01\.txt:1: label 3"):
        load_split(tmp_path)


def test_bad_split_number(tmp_path):
    _official(tmp_path, tmp_path)
    with pytest.raises(ValueError, match="got 4"):
        load_split(tmp_path, split=4)


def test_group_of():
    assert group_of("v_ApplyEyeMakeup_g08_c01.avi") == "v_ApplyEyeMakeup_g08"
    assert group_of("brush_hair_001.mp4") == "brush_hair_001"


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_fallback_split_keeps_groups_together_and_val_out_of_test(tmp_path, seed):
    rels = _ucf_tree(tmp_path, groups=10, clips=3)
    for c in CLASSES:  # files without a group: each its own group
        for k in range(4):
            _touch(tmp_path / c / f"extra_{k}.mp4")
    split = load_split(tmp_path, seed=seed, val_fraction=0.2)
    train, val, test = ({i.rel for i in part} for part in (split.train, split.val, split.test))
    assert len(train | val | test) == len(rels) + 12 and not (train & val or train & test or val & test)
    groups = [{i.group for i in part} for part in (split.train, split.val, split.test)]
    assert not (groups[0] & groups[1] or groups[0] & groups[2] or groups[1] & groups[2])
    assert {i.label for i in split.test} == {i.label for i in split.val} == {0, 1, 2}  # stratified
    assert 0.15 < len(test) / (len(rels) + 12) < 0.45
    again = load_split(tmp_path, seed=seed, val_fraction=0.2)
    assert again == split  # deterministic


def test_scan_class_folders(tmp_path):
    _touch(tmp_path / "b/x.avi")
    _touch(tmp_path / "a/y.MP4")
    _touch(tmp_path / "a/notes.txt")
    (tmp_path / "empty").mkdir()
    classes, items = scan_class_folders(tmp_path)
    assert classes == ("a", "b")
    assert [(i.rel, i.label) for i in items] == [("a/y.MP4", 0), ("b/x.avi", 1)]


def test_empty_dataset_folder_is_a_clear_error(tmp_path):
    (tmp_path / "Walk").mkdir()
    _touch(tmp_path / "Walk/readme.txt")
    with pytest.raises(ValueError, match=f"no videos found in {tmp_path}"):
        scan_class_folders(tmp_path)
    with pytest.raises(ValueError, match="no videos found"):
        load_split(tmp_path)
    with pytest.raises(FileNotFoundError, match="nowhere"):
        scan_class_folders(tmp_path / "nowhere")


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_numbered_groups_are_held_out_by_number_in_every_class(tmp_path, seed):
    # UCF101's test lists hold out the same group numbers (actors) in every class; validation does the same,
    # so that a validation actor is unseen in every class, as a test actor is.
    _ucf_tree(tmp_path, groups=10, clips=2)
    split = load_split(tmp_path, seed=seed, val_fraction=0.2)

    def numbers(part):
        by_class = {}
        for item in part:
            by_class.setdefault(item.label, set()).add(item.group.rsplit("_g", 1)[1])
        return by_class

    for part in (split.val, split.test):
        by_class = numbers(part)
        assert set(by_class) == {0, 1, 2}
        assert by_class[0] == by_class[1] == by_class[2]
    assert not set.union(*numbers(split.train).values()) & set.union(*numbers(split.val).values())
