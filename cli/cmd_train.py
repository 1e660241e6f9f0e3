"""`twostream train`: train one stream (RGB or keypoint) on a dataset folder or skeleton pickle."""

from __future__ import annotations

import argparse
import inspect
import os
from pathlib import Path

from twostream.pose.cache_check import ON_BAD_CACHE

HELP = "Train one stream model (RGB or keypoint) on a dataset; writes a run directory."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("root", type=Path, help="dataset folder ROOT/<Class>/<video> (or a skeleton .pkl for "
                                                "keypoint models)")
    parser.add_argument("--model", required=True, metavar="NAME",
                        help="registered architecture (input it expects): fc, cnn_lstm (64 px, from scratch); "
                             "resnet50_lstm (224 px, ImageNet); r3d_18, r2plus1d_18, mc3_18 (112 px, any length); "
                             "Kinetics-400 at 224 px: mvit_v1_b, mvit_v2_s (exactly 16 frames), swin3d_t, "
                             "swin3d_s, swin3d_b (any length), s3d (7 frames or more); keypoints: pose_gru, "
                             "pose_stgcn, pose_stgcnpp (any length), pose_transformer (the clip length it was built "
                             "for). Default clip length 16 (pose: 32)")
    parser.add_argument("--out", type=Path, default=None, help="run directory (default runs/<model>)")
    parser.add_argument("--epochs", type=int, default=None,
                        help="passes over the training set (default: enough for 2,000 optimizer steps, 10 to 200: "
                             "10 on a large set, more on a small one)")
    parser.add_argument("--batch-size", type=int, default=8, help="clips per step (per process under torchrun)")
    parser.add_argument("--lr", type=float, default=1e-3, help="peak learning rate")
    parser.add_argument("--weight-decay", type=float, default=0.01)
    parser.add_argument("--optimizer", choices=("adamw", "sgd"), default="adamw")
    parser.add_argument("--warmup-epochs", type=float, default=1.0)
    parser.add_argument("--label-smoothing", type=float, default=0.0)
    parser.add_argument("--clip-grad", type=float, default=1.0, help="max gradient norm; 0 disables")
    parser.add_argument("--no-amp", dest="amp", action="store_false", help="disable mixed precision (CUDA)")
    parser.add_argument("--no-channels-last", dest="channels_last", action="store_false")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--patience", type=int, default=0, help="early stopping patience in epochs; 0 = off")
    parser.add_argument("--workers", dest="num_workers", type=int, default=2, help="DataLoader workers")
    parser.add_argument("--device", choices=("cpu", "cuda"), default=None, help="default: CUDA when present")
    parser.add_argument("--no-flip", dest="flip", action="store_false",
                        help="no random horizontal flips in training (RGB and keypoints): for classes that differ "
                             "by side, e.g. wave_left vs wave_right")
    parser.add_argument("--sampling", choices=("segment", "dense"), default=None,
                        help="segment: the clip's frames spread over the whole video; dense: every K-th frame "
                             "(--frame-interval K), the run's time scale then being fixed in seconds "
                             "(default: segment for RGB models, dense for keypoint models)")
    parser.add_argument("--frame-interval", type=int, default=None,
                        help="dense sampling: K, frames between picks (default: the largest K whose clip fits in "
                             "the median training video)")
    weights = parser.add_mutually_exclusive_group()
    weights.add_argument("--no-pretrained", action="store_true", help="random initialisation (no download)")
    weights.add_argument("--weights", type=Path, default=None, help="local state dict or twostream checkpoint")
    parser.add_argument("--freeze", choices=("none", "backbone", "last_block"), default="none",
                        help="train only the head (backbone) or the head and the backbone's last block")
    parser.add_argument("--clip-len", type=int, default=None, help="frames per clip (default: the model's)")
    parser.add_argument("--stream", default=None, metavar="NAME",
                        help="pose_stgcnpp: read only the channels of one PYSKL stream — joint, bone, joint_motion "
                             "or bone_motion — rather than all at once")
    parser.add_argument("--layout", choices=("mediapipe33", "coco17"), default=None,
                        help="keypoint models: joint layout (default: the source's — a skeleton pickle records "
                             "its own, COCO-17; .pose.npz caches are MediaPipe-33, which reduces to COCO-17)")
    parser.add_argument("--on-bad-cache", choices=ON_BAD_CACHE, default="fail",
                        help="keypoint models: every cache is checked before the first epoch; a missing, corrupt or "
                             "stale one stops the run listing them all (fail), is left out and reported (skip), or "
                             "is extracted now (extract)")
    parser.add_argument("--resume", action="store_true", help="continue the run in --out from its last.pt")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace the run already in --out (its checkpoints, metrics and plots are removed)")
    parser.add_argument("--split", type=int, default=1, help="UCF101 split number (1-3)")
    parser.add_argument("--split-dir", type=Path, default=None, help="folder with classInd.txt / *list0K.txt")
    parser.add_argument("--val-fraction", type=float, default=0.1,
                        help="share of the training groups held out for validation (never from test)")
    parser.add_argument("--persons", type=int, default=None, metavar="M", choices=range(1, 9),
                        help="keypoint models: person slots read per frame (slot 0 = the main actor; default: the "
                             "model's, 2, or what a skeleton pickle holds)")
    parser.add_argument("--train-split", default=None, help="skeleton pickle: split list to train on")
    parser.add_argument("--test-split", default=None, help="skeleton pickle: split list to test on")
    parser.add_argument("--folds", type=int, default=None, metavar="K",
                        help="K-fold cross-validation on the training data (whole subjects / groups per fold when "
                             "the data names them): K runs in OUT/fold1..K, then the mean ± std of the held-out "
                             "folds' accuracy")


def _structure(args: argparse.Namespace) -> dict:
    """The builder kwargs that shape the model (recorded in the checkpoint), all but ``num_classes``."""
    from twostream.streams import registry
    from twostream.streams.keypoint_data import source_layout, source_persons

    params = inspect.signature(registry.builder(args.model)).parameters
    structure: dict = {}
    if args.clip_len is not None:
        structure["clip_len"] = args.clip_len
    if args.freeze != "none":
        if "freeze" not in params:
            raise ValueError(f"model {args.model!r} has no backbone to freeze; drop --freeze")
        structure["freeze"] = args.freeze
    if args.stream is not None:
        if "stream" not in params:
            raise ValueError(f"model {args.model!r} has no PYSKL input streams; drop --stream (pose_stgcnpp has)")
        structure["stream"] = args.stream
    if "layout" in params:
        structure["layout"] = args.layout or source_layout(args.root)
    elif args.layout is not None:
        raise ValueError(f"model {args.model!r} reads pixels, not keypoints; drop --layout")
    if "persons" in params:
        if args.persons is not None:
            structure["persons"] = args.persons
        elif args.root.is_file():  # a pickle says how many persons it holds (at most 2)
            structure["persons"] = source_persons(args.root)
    elif args.persons is not None:
        raise ValueError(f"model {args.model!r} reads pixels, not keypoints; drop --persons")
    return structure


def _loading_kwargs(args: argparse.Namespace) -> dict:
    """The builder kwargs that load initial weights, used only now (never recorded)."""
    from twostream.streams import registry

    params = inspect.signature(registry.builder(args.model)).parameters
    loading: dict = {}
    if "pretrained" in params and args.weights is None:
        loading["pretrained"] = not args.no_pretrained  # builders without "pretrained" have no such weights
    if args.weights is not None:
        if "weights_file" not in params:
            raise ValueError(f"model {args.model!r} cannot load --weights")
        loading["weights_file"] = str(args.weights)
    return loading


def run(args: argparse.Namespace) -> int:
    from twostream.cli.console import console
    from twostream.streams.training import TrainConfig

    cfg = TrainConfig(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, weight_decay=args.weight_decay,
                      optimizer=args.optimizer, warmup_epochs=args.warmup_epochs,
                      label_smoothing=args.label_smoothing, clip_grad=args.clip_grad, amp=args.amp,
                      channels_last=args.channels_last, seed=args.seed, patience=args.patience,
                      num_workers=args.num_workers, device=args.device, flip=args.flip, sampling=args.sampling,
                      frame_interval=args.frame_interval)
    out = args.out or Path("runs") / args.model
    if args.folds is not None and (args.folds < 2 or args.resume):
        raise ValueError(f"--folds {args.folds}: K-fold cross-validation needs K >= 2 and a fresh run (no --resume)")
    cfg = _check_before_work(args, cfg, out)
    if cfg is None:
        return 0
    if args.folds is None:
        _fit_one(args, cfg, out, None)
        return 0
    scores = []
    for k in range(args.folds):
        console.print(f"[bold]fold {k + 1}/{args.folds}[/]", highlight=False)
        result = _fit_one(args, cfg, out / f"fold{k + 1}", (k, args.folds))
        scores.append(result.history[-1].get("val_acc", float("nan")))
    _report_folds(out, scores)
    return 0


def _report_folds(out: Path, scores: list[float]) -> None:
    """Print and write ``OUT/folds.json``: each held-out fold's accuracy at the last epoch, their mean ± std."""
    import json

    import numpy as np

    from twostream.cli.console import console
    from twostream.streams.checkpoint import write_text

    mean, std = float(np.mean(scores)), float(np.std(scores))
    write_text(out / "folds.json", json.dumps({"accuracy": scores, "mean": mean, "std": std}, indent=2))
    console.print(f"{len(scores)}-fold cross-validation: accuracy {mean:.3f} ± {std:.3f} "
                  f"({', '.join(f'{s:.3f}' for s in scores)}; last epoch of each fold) → {out / 'folds.json'}",
                  highlight=False, markup=False)


def _fit_one(args: argparse.Namespace, cfg, out: Path, fold: tuple[int, int] | None):
    """Build the data and the model, train one run into ``out`` (fold ``fold`` of K when given)."""
    from dataclasses import replace

    import torch
    from rich.markup import escape

    from twostream.cli.console import console, warn
    from twostream.streams.data import build_datasets
    from twostream.streams.registry import build
    from twostream.streams.training import fit

    structure = _structure(args)
    spec = build(args.model, num_classes=2, **structure).input_spec
    spec = replace(spec, sampling=cfg.sampling_for(spec.sampling))
    data = build_datasets(args.root, spec, split=args.split, split_dir=args.split_dir,
                          train_split=args.train_split, test_split=args.test_split, val_fraction=args.val_fraction,
                          seed=args.seed, flip=cfg.flip, on_bad_cache=args.on_bad_cache, fold=fold)
    if data.dropped:
        warn(f"{len(data.dropped)} video(s) left out (unreadable, or a bad keypoint cache): "
             f"{', '.join(data.dropped[:10])}" + (" …" if len(data.dropped) > 10 else ""))
    structure = {"num_classes": len(data.classes), **structure}
    torch.manual_seed(args.seed)
    model = build(args.model, **structure, **_loading_kwargs(args))
    console.print(f"[bold]{args.model}[/]: {len(data.classes)} classes, {len(data.train)} training clips, "
                  f"{len(data.val) if data.val else 0} validation clips → {escape(str(out))}", highlight=False)

    def report(row: dict) -> None:
        val = f" val loss {row['val_loss']:.3f} acc {row['val_acc']:.3f}" if "val_acc" in row else ""
        console.print(f"epoch {row['epoch']}: train loss {row['train_loss']:.3f} acc {row['train_acc']:.3f}{val} "
                      f"({row['clips_per_s']:.1f} clips/s)", highlight=False)

    result = fit(model, data, cfg, out, classes=data.classes, arch=args.model, arch_kwargs=structure,
                 resume=args.resume, on_epoch=report)
    if not (data.meta or {}).get("validation_by") and data.val is not None and len(data.val):
        warn("validation shares sources with training (the data names no subject or UCF101 group): its "
             "accuracy is optimistic")
    if int(os.environ.get("RANK", "0")) == 0:  # under torchrun, rank 0 speaks
        stop = " (stopped early)" if result.stopped_early else ""
        kind = "validation accuracy" if data.val is not None and len(data.val) else \
            "training accuracy (no validation clips: the best epoch is chosen on training data)"
        console.print(f"best epoch {result.best_epoch}: {kind} {result.best_accuracy:.3f}{stop}; "
                      f"next: twostream evaluate {out}", highlight=False, markup=False)
    return result


def _check_before_work(args: argparse.Namespace, cfg, out: Path):
    """Everything that can be refused, refused before any video is read: the dataset path, the device, the run
    directory (``twostream.paths.prepare_run_dir``); worker count capped. None when ``--resume`` has nothing left
    to do (said so), else the config to train with."""
    from dataclasses import replace

    from twostream.cli.console import console, warn
    from twostream.datasets.folder import VIDEO_EXTENSIONS
    from twostream.paths import prepare_run_dir
    from twostream.resources import capped_workers
    from twostream.streams.distributed import single_device

    if args.root.is_file() and args.root.suffix.lower() in VIDEO_EXTENSIONS:
        raise ValueError(f"dataset {args.root} is one video; train takes a dataset folder ROOT/<Class>/<video> "
                         "(or a skeleton .pkl for keypoint models)")
    done = args.resume and not args.overwrite and _finished(out, cfg.epochs)  # both: prepare_run_dir refuses
    if done:
        console.print(f"{out} has already trained {done} epoch(s); nothing to do (raise --epochs to train longer)",
                      highlight=False, markup=False)
        return None
    single_device(cfg.device)
    prepare_run_dir(out, inputs=[args.root, args.weights, args.split_dir], resume=args.resume,
                    overwrite=args.overwrite, resumable=True)
    return replace(cfg, num_workers=capped_workers(cfg.num_workers, "--workers", note=warn))


def _finished(out: Path, epochs: int | None) -> int:
    """The epochs ``out/last.pt`` holds when that is at least ``epochs`` (``None``: the epochs the run set out to
    train), so that ``--resume`` would do nothing; else 0."""
    from twostream.streams.checkpoint import read_checkpoint

    last = out / "last.pt"
    if not last.is_file():
        return 0
    ckpt = read_checkpoint(last)
    target = epochs if epochs is not None else ckpt["config"]["epochs"]
    return ckpt["epoch"] if ckpt["epoch"] >= target else 0
