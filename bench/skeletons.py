"""Keypoint streams against a 20-line tree baseline on real and drawn human motion.

    python bench/skeletons.py [--epochs 30] [--sets mocap_xsub,mocap_no_exercise,cartoon] [--models pose_gru,...]

Every registered keypoint model, trained with the DEFAULT recipe (``TrainConfig`` defaults, the same for every
set), and the mean of their softmaxes (``ensemble``) are scored on the test split of each set next to ExtraTrees
(500 trees, scikit-learn) on per-sequence pose statistics (``pose_statistics``) of the same split:

* ``mocap_xsub``: ``/work/shared/data``'s ``mocap/cmu_mocap_coco17.pkl`` (or ``--mocap PKL``), cross-subject;
* ``mocap_no_exercise``: the same without its five exercise classes (walk, run, jump, dance: 4 classes);
* ``cartoon``: a fresh ``twostream synth`` set, its drawn joints as COCO-17 (no MediaPipe), UCF101 split 1.

The ``pose_gru train acc`` column is the trained default model on its own training sequences without augmentation
(whether the default recipe fits). Training runs on one CPU thread. The last line is
``best_over_trees=R default_over_trees=D`` on ``mocap_xsub`` (``default`` = ``pose_gru``, the model
``twostream quickstart`` trains). Data from mocap.cs.cmu.edu (created with funding from NSF EIA-0196217).
"""

from __future__ import annotations

import argparse
import os
import pickle
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from rich.console import Console
from rich.table import Table
from sklearn.ensemble import ExtraTreesClassifier

from twostream.pose.pickle_io import load_skeleton_pickle, safe_load
from twostream.pose.skeleton import COCO_17
from twostream.streams import distributed as D
from twostream.streams.data import build_datasets
from twostream.streams.registry import available, build
from twostream.streams.training import TrainConfig, evaluate, fit, loader_for

DEFAULT_MODEL = "pose_gru"
EXERCISES = ("jumping_jacks", "squat", "knee_raise", "arm_circle", "side_twist")
SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


def pose_statistics(keypoints: np.ndarray) -> np.ndarray:
    """The tree baseline's features of one (T, M, V, 4) sequence (main actor, every frame):
    mean and std of hip-centred, torso-scaled joints, mean |frame difference| of them, raw whole-body motion,
    hip trajectory spread and step, body scale and its change."""
    kp = keypoints[:, 0]  # (L, V, 4)
    xy = kp[..., :2]
    hips = xy[:, list(COCO_17.centre)].mean(1, keepdims=True)  # (L, 1, 2)
    torso = np.linalg.norm(xy[:, list(COCO_17.torso[0])].mean(1) - hips[:, 0], axis=-1)  # (L,)
    scale = max(float(torso.mean()), 1e-6)
    rel = (xy - hips) / scale  # (L, V, 2)
    diff = np.abs(np.diff(rel, axis=0)).mean(0)  # (V, 2)
    raw = np.abs(np.diff(xy, axis=0)).mean((0, 1)) / scale  # (2,)
    path = hips[:, 0] / scale  # (L, 2)
    step = np.abs(np.diff(path, axis=0)).mean(0)  # (2,)
    return np.concatenate([rel.mean(0).ravel(), rel.std(0).ravel(), diff.ravel(), raw, path.std(0), step,
                           [torso.std() / scale, torso.min() / scale]]).astype(np.float32)


def trees(train: list, test: list, seed: int) -> tuple[float, float]:
    """ExtraTrees on ``pose_statistics``: (test accuracy, seconds). ``train``/``test``: (keypoints, label)."""
    start = time.perf_counter()
    x, y = np.stack([pose_statistics(k) for k, _ in train]), np.array([label for _, label in train])
    model = ExtraTreesClassifier(500, random_state=seed, n_jobs=2).fit(x, y)
    pred = model.predict(np.stack([pose_statistics(k) for k, _ in test]))
    return float((pred == np.array([label for _, label in test])).mean()), time.perf_counter() - start


def keypoint_models() -> list[str]:
    return [n for n in available() if build(n, num_classes=2).input_spec.key == "keypoints"]


def train_model(name: str, pkl: Path, epochs: int, seed: int,
                out: Path) -> tuple[np.ndarray, np.ndarray, float, float]:
    """Train ``name`` on the pickle's whole ``train`` list (no validation carved out, as the trees) with the
    default recipe for its epochs: (test probs, labels, seconds, train accuracy — the trained model on the
    training sequences without augmentation)."""
    layout = load_skeleton_pickle(pkl).layout
    spec = build(name, num_classes=2, layout=layout, persons=1).input_spec
    data = build_datasets(pkl, spec, train_split="train", test_split="test", seed=seed, val_fraction=0.0)
    cfg = TrainConfig(epochs=epochs, seed=seed, num_workers=0, device="cpu")
    torch.manual_seed(seed)
    model = build(name, num_classes=len(data.classes), layout=layout, persons=1)
    start = time.perf_counter()
    fit(model, data, cfg, out / name, classes=data.classes, arch=name, arch_kwargs={},
        progress=False)
    seconds = time.perf_counter() - start
    env = D.DistEnv(0, 1, 0)
    result = evaluate(model, loader_for(data.test, cfg, env=env, epoch=0, train=False), "cpu")
    plain = build_datasets(pkl, spec, train_split="train", test_split="train", seed=seed).test  # no augmentation
    fitted = evaluate(model, loader_for(plain, cfg, env=env, epoch=0, train=False), "cpu")
    return result.probs, result.labels, seconds, float((fitted.probs.argmax(1) == fitted.labels).mean())


def write_pickle(path: Path, annotations: list[dict], train: list[str], test: list[str], classes) -> Path:
    with open(path, "wb") as f:
        pickle.dump({"split": {"train": train, "test": test}, "annotations": annotations,
                     "classes": list(classes)}, f)
    return path


def mocap_sets(mocap: Path, tmp: Path) -> dict[str, Path]:
    data = safe_load(mocap)
    anns, split = data["annotations"], data["split"]
    sets = {"mocap_xsub": write_pickle(tmp / "xsub.pkl", anns, split["xsub_train"], split["xsub_test"],
                                       data["classes"])}
    keep = [i for i, c in enumerate(data["classes"]) if c not in EXERCISES]
    names = {a["frame_dir"] for a in anns if a["label"] in keep}
    sets["mocap_no_exercise"] = write_pickle(
        tmp / "no_exercise.pkl", [{**a, "label": keep.index(a["label"])} for a in anns if a["label"] in keep],
        [n for n in split["xsub_train"] if n in names], [n for n in split["xsub_test"] if n in names],
        [data["classes"][i] for i in keep])
    return sets


def cartoon_set(tmp: Path, seed: int) -> Path:
    """A synth set's drawn joints as a COCO-17 pickle (groups as subjects, the synth's split 1)."""
    from twostream.datasets.synth import DEFAULT_SIZE, generate

    root = tmp / "cartoon"
    generate(root, videos_per_class=8, seed=seed, frames=40, clips_per_group=1)
    width, height = DEFAULT_SIZE
    classes = [line.split()[1] for line in (root / "classInd.txt").read_text().split("\n") if line.strip()]
    anns = []
    for path in sorted(root.glob("*/*.joints.npy")):
        joints = np.load(path)[:, :17]  # (T, 17, 2) pixels: the first 17 cartoon joints are COCO-17's
        group = path.name.split("_g")[1][:2]
        anns.append({"frame_dir": path.name.split(".")[0], "label": classes.index(path.parent.name),
                     "img_shape": (height, width), "keypoint": joints[None], "subject": group})
    lists = {name: [Path(line.split()[0]).stem for line in (root / f"{name}list01.txt").read_text().split("\n")
                    if line.strip()] for name in ("train", "test")}
    return write_pickle(tmp / "cartoon.pkl", anns, lists["train"], lists["test"], classes)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=TrainConfig().epochs)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--mocap", type=Path, default=SHARED / "mocap" / "cmu_mocap_coco17.pkl")
    parser.add_argument("--sets", default="mocap_xsub,mocap_no_exercise,cartoon")
    parser.add_argument("--models", default=None, help="comma-separated (default: every keypoint model)")
    args = parser.parse_args()
    torch.set_num_threads(1)  # on a shared 2-core CPU, two intra-op threads ran these small models 10-40x slower
    console = Console(width=220)  # the table is the record: never squeeze it into a pipe's 80 columns
    models = args.models.split(",") if args.models else keypoint_models()
    table = Table(title=f"keypoint streams vs ExtraTrees on pose statistics (test accuracy; {args.epochs} epochs, "
                        "default recipe)")
    for column in ("set", "classes", "train / test", "trees", *models, "ensemble", f"{DEFAULT_MODEL} train acc",
                   "train s"):
        table.add_column(column, justify="right")
    ratios = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        wanted = args.sets.split(",")
        sets = mocap_sets(args.mocap, tmp) if any(s.startswith("mocap") for s in wanted) else {}
        if "cartoon" in wanted:
            sets["cartoon"] = cartoon_set(tmp, args.seed)
        for name in wanted:
            pkl = sets[name]
            skel = load_skeleton_pickle(pkl)
            records = {r.name: (r.keypoints, r.label) for r in skel.annotations}
            train, test = [records[n] for n in skel.splits["train"]], [records[n] for n in skel.splits["test"]]
            tree_acc, tree_s = trees(train, test, args.seed)
            accs, probs, seconds, fitted = {}, [], {}, {}
            for model in models:
                p, labels, seconds[model], fitted[model] = train_model(model, pkl, args.epochs, args.seed,
                                                                       tmp / name)
                accs[model] = float((p.argmax(1) == labels).mean())
                probs.append(p)
                console.print(f"{name} {model}: {accs[model]:.3f} (train {fitted[model]:.3f}, {seconds[model]:.0f} s)",
                              highlight=False)
            accs["ensemble"] = float((np.mean(probs, 0).argmax(1) == labels).mean())
            table.add_row(name, str(len(skel.classes)), f"{len(train)} / {len(test)}", f"{tree_acc:.3f}",
                          *(f"{accs[m]:.3f}" for m in (*models, "ensemble")),
                          f"{fitted.get(DEFAULT_MODEL, np.nan):.3f}",
                          " / ".join(f"{seconds[m]:.0f}" for m in models) + f" (trees {tree_s:.0f})")
            ratios[name] = (max(accs.values()) / tree_acc, accs.get(DEFAULT_MODEL, float("nan")) / tree_acc)
    console.print(table)
    console.print("Data: mocap.cs.cmu.edu (the database was created with funding from NSF EIA-0196217). "
                  "Timings on a shared CPU are noisy.", highlight=False)
    best, default = ratios.get("mocap_xsub", (float("nan"), float("nan")))
    print(f"best_over_trees={best:.2f} default_over_trees={default:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
