"""Keypoint streams against a 20-line tree baseline on real and drawn human motion.

    python bench/skeletons.py [--epochs N] [--sets mocap_xsub,mocap_no_exercise,mocap_small,cartoon]
                              [--models pose_stgcnpp,...] [--seeds 0,1,2]

Every registered keypoint model, trained with the DEFAULT recipe (``TrainConfig`` defaults and the model's own
sampling — dense, K fitted to the training sequences — the same for every set), and the mean of their softmaxes
(``ensemble``) are scored on the test split of each set (one clip per sequence) next to ExtraTrees
(500 trees, scikit-learn) on per-sequence pose statistics (``pose_statistics``) of the same split:

* ``mocap_xsub``: ``/work/shared/data``'s ``mocap/cmu_mocap_coco17.pkl`` (or ``--mocap PKL``), cross-subject;
* ``mocap_no_exercise``: the same without its five exercise classes (walk, run, jump, dance: 4 classes);
* ``mocap_small``: the regime of the team's real keypoint set (about 220 detector-made sequences of 30 frames,
  6 classes, on which the trees score about 0.46): 6 of the mocap classes, one camera per window, 30 frames,
  through ``detector_noise``, at most 37 training windows per class (``small_set``);
* ``cartoon``: a fresh ``twostream synth`` set, its drawn joints as COCO-17 (no MediaPipe), UCF101 split 1.

Each set's second row (``+ detector noise``) scores the same trained models and trees on the test sequences
through what a video pose detector does to clean keypoints (``detector_noise``: MediaPipe's jitter and lost
frames and joints as measured on the shared clips) — a stand-in for mocap-trained models on extracted keypoints.
The ``... train acc`` column is the trained default model on its own training sequences without augmentation
(whether the default recipe fits). Models train on the whole training list (no validation carved out, as the
trees), on one CPU thread. The last line is
``best_over_trees=R default_over_trees=D`` on ``mocap_xsub`` (``default`` = ``DEFAULT_KEYPOINT_MODEL``, the
model ``twostream quickstart`` trains). ``--seeds 0,1,2`` trains every model (and fits the trees) once per seed
and reports each cell as mean ± std over the seeds, the ratios from the means: on the mocap test split a class is
one or two subjects, and one seed moves a model by ±0.04 (the sets themselves are drawn once, with the first
seed). Data from mocap.cs.cmu.edu (created with funding from NSF EIA-0196217).
"""

from __future__ import annotations

import argparse
import os
import pickle
import sys
import tempfile
import time
import warnings
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch
from rich.console import Console
from rich.table import Table
from sklearn.ensemble import ExtraTreesClassifier

from twostream.cli.cmd_quickstart import DEFAULT_KEYPOINT_MODEL
from twostream.datasets.skeleton_aug import Compose, DetectorNoise, JointDropout
from twostream.datasets.skeletons import AugmentedKeypoints
from twostream.pose.pickle_io import load_skeleton_pickle, safe_load
from twostream.pose.skeleton import COCO_17
from twostream.streams import distributed as D
from twostream.streams.data import build_datasets
from twostream.streams.registry import available, build
from twostream.streams.training import TrainConfig, evaluate, fit, loader_for

EXERCISES = ("jumping_jacks", "squat", "knee_raise", "arm_circle", "side_twist")
SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
NOISE_SEED = 123
SMALL_CLASSES = ("walk", "run", "jump", "dance", "squat", "knee_raise")
SMALL_FRAMES, SMALL_PER_CLASS = 30, 37


def pose_statistics(keypoints: np.ndarray) -> np.ndarray:
    """The tree baseline's features of one (T, M, V, 4) sequence (main actor, every frame):
    mean and std of hip-centred, torso-scaled joints, mean |frame difference| of them, raw whole-body motion,
    hip trajectory spread and step, body scale and its change. A joint the detector lost (all zeros) is left
    out of every statistic rather than read as a point at the frame's corner (NaN-aware reductions; a
    statistic nothing supports is 0)."""
    kp = keypoints[:, 0]  # (L, V, 4)
    xy = np.where(np.any(kp != 0, axis=-1, keepdims=True), kp[..., :2], np.nan)  # (L, V, 2), NaN = lost
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN slices: statistics nothing supports
        hips = np.nanmean(xy[:, list(COCO_17.centre)], 1, keepdims=True)  # (L, 1, 2)
        torso = np.linalg.norm(np.nanmean(xy[:, list(COCO_17.torso[0])], 1) - hips[:, 0], axis=-1)  # (L,)
        scale = float(np.nanmean(torso)) if np.isfinite(torso).any() else 1.0
        scale = max(scale, 1e-6)
        rel = (xy - hips) / scale  # (L, V, 2)
        diff = np.nanmean(np.abs(np.diff(rel, axis=0)), 0)  # (V, 2)
        raw = np.nanmean(np.abs(np.diff(xy, axis=0)), (0, 1)) / scale  # (2,)
        path = hips[:, 0] / scale  # (L, 2)
        step = np.nanmean(np.abs(np.diff(path, axis=0)), 0)  # (2,)
        stats = np.concatenate([np.nanmean(rel, 0).ravel(), np.nanstd(rel, 0).ravel(), diff.ravel(), raw,
                                np.nanstd(path, 0), step, [np.nanstd(torso) / scale, np.nanmin(torso) / scale]])
    return np.nan_to_num(stats, nan=0.0).astype(np.float32)


def detector_noise() -> Compose:
    """What a video pose detector does to clean mocap, at the sizes MediaPipe showed on the shared clips
    (``bench/jitter.py``, ``bench/extract.py --detection``): joint jitter, lost frames, lost joints."""
    return Compose((DetectorNoise(), JointDropout()))


def trees(train: list, test: list, seed: int) -> tuple[float, float, float]:
    """ExtraTrees on ``pose_statistics``: (test accuracy, accuracy on the test sequences through
    ``detector_noise`` — trees fitted on the training sequences plus a noisy copy of each, as the neural models'
    augmentation adds the same noise —, seconds). ``train``/``test``: (keypoints, label)."""
    start = time.perf_counter()
    noise, rng = detector_noise(), np.random.default_rng(NOISE_SEED)
    labels = np.array([label for _, label in test])
    clean, scores = [k for k, _ in train], []
    for fit_on, test_on in ((clean, [k for k, _ in test]),
                            (clean + [noise(k, rng) for k in clean], [noise(k, rng) for k, _ in test])):
        y = np.array([label for _, label in train] * (len(fit_on) // len(train)))
        x = np.stack([pose_statistics(k) for k in fit_on])
        model = ExtraTreesClassifier(500, random_state=seed, n_jobs=2).fit(x, y)
        scores.append(float((model.predict(np.stack([pose_statistics(k) for k in test_on])) == labels).mean()))
    return scores[0], scores[1], time.perf_counter() - start


def keypoint_models() -> list[str]:
    return [n for n in available() if build(n, num_classes=2).input_spec.key == "keypoints"]


def train_model(name: str, pkl: Path, epochs: int | None, seed: int,
                out: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, float, float, str]:
    """Train ``name`` on the pickle's whole ``train`` list (no validation carved out, as the trees) with the
    default recipe for its epochs: (test probs, test probs through ``detector_noise``, labels, seconds, train
    accuracy — the trained model on the training sequences without augmentation —, its epochs and sampling)."""
    layout = load_skeleton_pickle(pkl).layout
    spec = build(name, num_classes=2, layout=layout, persons=1).input_spec
    data = build_datasets(pkl, spec, train_split="train", test_split="test", seed=seed, val_fraction=0.0)
    cfg = TrainConfig(epochs=epochs, seed=seed, num_workers=0, device="cpu")
    torch.manual_seed(seed)
    model = build(name, num_classes=len(data.classes), layout=layout, persons=1)
    start = time.perf_counter()
    trained = fit(model, data, cfg, out / name, classes=data.classes, arch=name, arch_kwargs={}, progress=False)
    seconds = time.perf_counter() - start
    env = D.DistEnv(0, 1, 0)
    result = evaluate(model, loader_for(data.test, cfg, env=env, epoch=0, train=False), "cpu")
    noisy_test = AugmentedKeypoints(data.test, detector_noise(), persons=1, seed=NOISE_SEED)
    noisy = evaluate(model, loader_for(noisy_test, cfg, env=env, epoch=0, train=False), "cpu")
    plain = build_datasets(pkl, model.input_spec, train_split="train", test_split="train",  # no augmentation, and
                           seed=seed).test  # the sampling fitted in training (model.input_spec, from fit)
    fitted = evaluate(model, loader_for(plain, cfg, env=env, epoch=0, train=False), "cpu")
    sampling = model.input_spec.sampling
    recipe = f"dense K={sampling.frame_interval}" if sampling.mode == "dense" else sampling.mode
    return (result.probs, noisy.probs, result.labels, seconds, float((fitted.probs.argmax(1) == fitted.labels).mean()),
            f"{len(trained.history)} epochs, {recipe}")


def write_pickle(path: Path, annotations: list[dict], train: list[str], test: list[str], classes,
                 fps: float | None = None) -> Path:
    with open(path, "wb") as f:
        pickle.dump({"split": {"train": train, "test": test}, "annotations": annotations,
                     "classes": list(classes), "fps": fps}, f)
    return path


def mocap_sets(mocap: Path, tmp: Path) -> dict[str, Path]:
    data = safe_load(mocap)
    anns, split = data["annotations"], data["split"]
    sets = {"mocap_xsub": write_pickle(tmp / "xsub.pkl", anns, split["xsub_train"], split["xsub_test"],
                                       data["classes"], data.get("fps"))}
    keep = [i for i, c in enumerate(data["classes"]) if c not in EXERCISES]
    names = {a["frame_dir"] for a in anns if a["label"] in keep}
    sets["mocap_no_exercise"] = write_pickle(
        tmp / "no_exercise.pkl", [{**a, "label": keep.index(a["label"])} for a in anns if a["label"] in keep],
        [n for n in split["xsub_train"] if n in names], [n for n in split["xsub_test"] if n in names],
        [data["classes"][i] for i in keep], data.get("fps"))
    return sets


def small_set(mocap: Path, tmp: Path, seed: int) -> Path:
    """The regime of the team's real keypoint set (about 220 detector-made sequences of 30 frames, 6 classes):
    ``SMALL_CLASSES`` of the mocap set, each window seen from one of its three cameras, cut to ``SMALL_FRAMES``
    frames at a random start and passed through ``detector_noise``, at most ``SMALL_PER_CLASS`` training windows
    per class; cross-subject as ``mocap_xsub``. Written in the frame-normalised units the loader reads
    (``img_shape`` 1 × 1)."""
    data, rng, noise = load_skeleton_pickle(mocap), np.random.default_rng(seed), detector_noise()
    keep = [data.classes.index(c) for c in SMALL_CLASSES]
    views: dict[str, list] = {}
    for r in data.annotations:
        if r.label in keep:
            views.setdefault(r.name.rsplit("_v", 1)[0], []).append(r)
    split = {name: set(data.splits[f"xsub_{name}"]) for name in ("train", "test")}
    anns, lists, per_class = [], {"train": [], "test": []}, np.zeros(len(keep), int)
    for window in rng.permutation(sorted(views)):
        r = views[window][rng.integers(len(views[window]))]
        part, label = next(name for name in lists if r.name in split[name]), keep.index(r.label)
        if part == "train":
            if per_class[label] == SMALL_PER_CLASS:
                continue
            per_class[label] += 1
        start = int(rng.integers(0, len(r.keypoints) - SMALL_FRAMES + 1))
        seen = noise(r.keypoints[start:start + SMALL_FRAMES], rng).transpose(1, 0, 2, 3)  # (M, T, V, 4)
        anns.append({"frame_dir": r.name, "label": label, "img_shape": (1, 1), "subject": r.subject,
                     "keypoint": seen[..., :2], "keypoint_score": seen[..., 3]})
        lists[part].append(r.name)
    return write_pickle(tmp / "small.pkl", anns, lists["train"], lists["test"], SMALL_CLASSES, data.fps)


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


def _cell(values: list[float]) -> str:
    """One seed: the value; several: mean ± std."""
    return f"{values[0]:.3f}" if len(values) == 1 else f"{np.mean(values):.3f} ± {np.std(values):.3f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=None, help="default: the default recipe's (TrainConfig)")
    parser.add_argument("--seeds", default="0", help="comma-separated training seeds; cells are mean ± std over them")
    parser.add_argument("--mocap", type=Path, default=SHARED / "mocap" / "cmu_mocap_coco17.pkl")
    parser.add_argument("--sets", default="mocap_xsub,mocap_no_exercise,mocap_small,cartoon")
    parser.add_argument("--models", default=None, help="comma-separated (default: every keypoint model)")
    args = parser.parse_args()
    torch.set_num_threads(1)  # on a shared 2-core CPU, two intra-op threads ran these small models 10-40x slower
    console = Console(width=220)  # the table is the record: never squeeze it into a pipe's 80 columns
    models = args.models.split(",") if args.models else keypoint_models()
    seeds = [int(s) for s in args.seeds.split(",")]
    epochs = f"{args.epochs} epochs" if args.epochs else "default epochs"
    over = f", mean ± std over seeds {args.seeds}" if len(seeds) > 1 else f", seed {seeds[0]}"
    table = Table(title=f"keypoint streams vs ExtraTrees on pose statistics (test accuracy; {epochs}, default "
                        f"recipe{over})")
    for column in ("set", "classes", "train / test", "trees", *models, "ensemble",
                   f"{DEFAULT_KEYPOINT_MODEL} train acc", "train s"):
        table.add_column(column, justify="right")
    ratios = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        wanted = args.sets.split(",")
        sets = mocap_sets(args.mocap, tmp) if any(s.startswith("mocap") for s in wanted) else {}
        if "mocap_small" in wanted:
            sets["mocap_small"] = small_set(args.mocap, tmp, seeds[0])
        if "cartoon" in wanted:
            sets["cartoon"] = cartoon_set(tmp, seeds[0])
        for name in wanted:
            pkl = sets[name]
            skel = load_skeleton_pickle(pkl)
            records = {r.name: (r.keypoints, r.label) for r in skel.annotations}
            train, test = [records[n] for n in skel.splits["train"]], [records[n] for n in skel.splits["test"]]
            accs, noisy, seconds, fitted = (defaultdict(list) for _ in range(4))  # column → one value per seed
            for seed in seeds:
                tree_acc, tree_noisy, tree_s = trees(train, test, seed)
                accs["trees"].append(tree_acc)
                noisy["trees"].append(tree_noisy)
                seconds["trees"].append(tree_s)
                probs, noisy_probs = [], []
                for model in models:
                    p, q, labels, took, fit_acc, sampling = train_model(model, pkl, args.epochs, seed,
                                                                        tmp / name / str(seed))
                    accs[model].append(float((p.argmax(1) == labels).mean()))
                    noisy[model].append(float((q.argmax(1) == labels).mean()))
                    seconds[model].append(took)
                    fitted[model].append(fit_acc)
                    probs.append(p)
                    noisy_probs.append(q)
                    console.print(f"{name} {model} seed {seed}: {accs[model][-1]:.3f}, with detector noise "
                                  f"{noisy[model][-1]:.3f} (train {fit_acc:.3f}, {took:.0f} s, {sampling})",
                                  highlight=False)
                accs["ensemble"].append(float((np.mean(probs, 0).argmax(1) == labels).mean()))
                noisy["ensemble"].append(float((np.mean(noisy_probs, 0).argmax(1) == labels).mean()))
            columns = ("trees", *models, "ensemble")
            table.add_row(name, str(len(skel.classes)), f"{len(train)} / {len(test)}",
                          *(_cell(accs[c]) for c in columns),
                          _cell(fitted.get(DEFAULT_KEYPOINT_MODEL, [np.nan])),
                          " / ".join(f"{np.mean(seconds[m]):.0f}" for m in models)
                          + f" (trees {np.mean(seconds['trees']):.0f})")
            table.add_row("  + detector noise", "", "", *(_cell(noisy[c]) for c in columns), "", "")
            mean = {c: float(np.mean(accs[c])) for c in (*models, "ensemble")}
            tree_mean = float(np.mean(accs["trees"]))
            ratios[name] = (max(mean.values()) / tree_mean, mean.get(DEFAULT_KEYPOINT_MODEL, np.nan) / tree_mean)
    console.print(table)
    console.print("Data: mocap.cs.cmu.edu (the database was created with funding from NSF EIA-0196217). "
                  "Timings on a shared CPU are noisy.", highlight=False)
    best, default = ratios.get("mocap_xsub", (float("nan"), float("nan")))
    print(f"best_over_trees={best:.2f} default_over_trees={default:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
