"""THE training loop, shared by the RGB, keypoint and fused streams: ``train_one_epoch``, ``evaluate``, ``fit``.

The loop never asks which stream it trains: it calls ``model(*(batch[k] for k in model.input_keys))``.
Device, seed and AMP come from ``TrainConfig``; the learning rate is a pure function of the step (``lr_at``).
"""

from __future__ import annotations

import contextlib
import json
import math
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Callable, Literal, NamedTuple, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, Dataset

from twostream.datasets.sampling import Sampling
from twostream.streams import distributed as D
from twostream.streams.base import to_channels_last
from twostream.streams.checkpoint import check_matches, read_checkpoint, save_checkpoint, write_text
from twostream.streams.history import plot_curves, selection_key, write_history


AUTO_STEPS = 2000
"""Optimizer steps the default number of epochs aims at. Ten epochs of a 200-sequence keypoint set are 250 steps
of 8 clips, which left ST-GCN++ at 0.6 training accuracy (validation 0.70 against the tree baseline's 0.91 on
CMU mocap cut like the team's 30-frame set); README "Small keypoint sets" has the figures."""
AUTO_EPOCHS = (10, 200)
"""Bounds of the default number of epochs (``TrainConfig.epochs_for``)."""


@dataclass(frozen=True)
class TrainConfig:
    """How to train; each field is one `twostream train` flag."""

    epochs: int | None = None
    """Passes over the training set; ``None``: ``epochs_for`` picks enough for ``AUTO_STEPS`` optimizer steps."""
    batch_size: int = 8
    """Clips per step and per process (under torchrun the global batch is this × world size)."""
    lr: float = 1e-3
    """Peak learning rate, reached after warm-up, then cosine-decayed to 0."""
    weight_decay: float = 0.01
    optimizer: Literal["adamw", "sgd"] = "adamw"
    """``sgd`` uses momentum 0.9 (Nesterov)."""
    warmup_epochs: float = 1.0
    """Linear warm-up length in epochs (fractions allowed)."""
    label_smoothing: float = 0.0
    clip_grad: float = 1.0
    """Maximum global gradient norm; 0 disables clipping."""
    amp: bool = True
    """Mixed precision (bf16 where supported, else fp16 with a GradScaler); CUDA only, ignored on CPU."""
    channels_last: bool = True
    """Channels-last memory format for convolution weights; CUDA only, ignored on CPU."""
    seed: int = 0
    """Seeds the weights' initial RNG, the shuffling and the data workers."""
    patience: int = 0
    """Stop after this many epochs without a better validation accuracy; 0 never stops early."""
    num_workers: int = 2
    """DataLoader worker processes (0 loads in the training process)."""
    device: str | None = None
    """``cpu`` or ``cuda``; ``None`` picks CUDA when present."""
    flip: bool = True
    """Random horizontal flips in the training augmentation of both streams (RGB clips and keypoints). Turn off
    for classes that differ by side (``wave_left`` vs ``wave_right``): a mirrored sample would show the other
    class under this one's label. Read by the dataset builder (``streams.data.build_datasets(flip=...)``)."""
    sampling: str | None = None
    """How clips pick frames: ``segment`` (T frames spread over the whole video) or ``dense`` (T frames every
    ``frame_interval``); ``None``: the model's own (``sampling_for``). Recorded with the training videos' time
    scale in ``InputSpec.sampling``."""
    frame_interval: int | None = None
    """Dense sampling: K, frames between two picks; ``None``: the largest K whose clip fits in the median
    training video. Given alone, it means dense sampling."""

    def sampling_for(self, default: Sampling) -> Sampling:
        """The sampling a model with default ``default`` (its ``InputSpec.sampling``: segment for RGB models, the
        seed's frames spread over the video; dense with an automatic K for keypoint models, whose velocities need
        the same real time between picks in every clip) trains with under this config."""
        if self.sampling is None and self.frame_interval is None:
            return default
        mode = self.sampling or "dense"
        return Sampling(mode, self.frame_interval if mode == "dense" else 1)

    def epochs_for(self, steps_per_epoch: int) -> int:
        """The epochs to train when one epoch is ``steps_per_epoch`` optimizer steps: ``epochs`` when given, else
        enough for ``AUTO_STEPS`` steps, within ``AUTO_EPOCHS``. A large set (UCF101: 1,190 steps of 8 clips)
        gets the lower bound; a small one, which the lower bound leaves unfitted, gets more passes."""
        if self.epochs is not None:
            return self.epochs
        low, high = AUTO_EPOCHS
        return max(low, min(high, math.ceil(AUTO_STEPS / max(steps_per_epoch, 1))))

    def __post_init__(self) -> None:
        for name in ("epochs", "batch_size"):
            if getattr(self, name) is not None and getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.lr <= 0:
            raise ValueError(f"lr must be > 0, got {self.lr}")
        if self.optimizer not in ("adamw", "sgd"):
            raise ValueError(f"optimizer must be 'adamw' or 'sgd', got {self.optimizer!r}")
        if not 0 <= self.label_smoothing < 1:
            raise ValueError(f"label_smoothing must be in [0, 1), got {self.label_smoothing}")
        self.sampling_for(Sampling())  # names a bad --sampling / --frame-interval
        for name in ("weight_decay", "warmup_epochs", "clip_grad", "patience", "num_workers"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")


class EpochStats(NamedTuple):
    loss: float
    accuracy: float
    clips: int
    seconds: float


class EvalOutput(NamedTuple):
    probs: np.ndarray  # (N_clips, C) softmax
    labels: np.ndarray  # (N_clips,) int64
    video_index: np.ndarray  # (N_clips,) int64: clips of one video share it


class FitResult(NamedTuple):
    out_dir: Path
    best_epoch: int
    best_accuracy: float
    history: list[dict[str, float]]
    stopped_early: bool


def lr_at(step: int, *, base_lr: float, warmup_steps: int, total_steps: int, min_lr: float = 0.0) -> float:
    """Linear warm-up over ``warmup_steps`` to ``base_lr``, then cosine decay to ``min_lr`` at ``total_steps``."""
    if step < warmup_steps:
        return base_lr * (step + 1) / warmup_steps
    progress = min(1.0, (step - warmup_steps) / max(1, total_steps - warmup_steps))
    return min_lr + 0.5 * (base_lr - min_lr) * (1 + math.cos(math.pi * progress))


def _autocast(device: torch.device, amp: bool):
    if not (amp and device.type == "cuda"):
        return contextlib.nullcontext()
    dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.autocast("cuda", dtype=dtype)


def _keys(model: nn.Module) -> tuple[str, ...]:
    return getattr(model, "module", model).input_keys  # DDP wraps the stream in .module


def train_one_epoch(model: nn.Module, loader: DataLoader, optimizer: torch.optim.Optimizer, *,
                    device: torch.device, cfg: TrainConfig, lr_fn: Callable[[int], float], step0: int,
                    scaler: torch.amp.GradScaler, env: D.DistEnv = D.DistEnv(0, 1, 0),
                    on_batch: Callable[[int, float, float, float], None] | None = None) -> EpochStats:
    """One pass over ``loader``; the step ``step0 + i`` sets the learning rate. Loss / accuracy over all ranks."""
    model.train()
    keys, start = _keys(model), time.perf_counter()
    loss_sum = correct = clips = 0.0
    for i, batch in enumerate(loader):
        for group in optimizer.param_groups:
            group["lr"] = lr_fn(step0 + i)
        inputs = [batch[k].to(device, non_blocking=True) for k in keys]
        labels = batch["label"].to(device, non_blocking=True)
        with _autocast(device, cfg.amp):
            logits = model(*inputs)  # (B, C)
        loss = F.cross_entropy(logits.float(), labels, label_smoothing=cfg.label_smoothing)
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        if cfg.clip_grad > 0:
            scaler.unscale_(optimizer)
            nn.utils.clip_grad_norm_(model.parameters(), cfg.clip_grad)
        scaler.step(optimizer)
        scaler.update()
        loss_sum += loss.item() * len(labels)
        correct += (logits.argmax(1) == labels).sum().item()
        clips += len(labels)
        if on_batch is not None:
            on_batch(i + 1, loss_sum / clips, correct / clips, clips / (time.perf_counter() - start))
    loss_sum, correct, clips = D.all_sum([loss_sum, correct, clips], device, env)
    return EpochStats(loss_sum / max(clips, 1), correct / max(clips, 1), int(clips), time.perf_counter() - start)


@torch.inference_mode()
def evaluate(model: nn.Module, loader: DataLoader, device: torch.device | str, *, amp: bool = False) -> EvalOutput:
    """Softmax of every clip in ``loader`` (in order), with its label and ``video_index``."""
    model.eval()
    device, keys = torch.device(device), _keys(model)
    probs, labels, videos = [], [], []
    for batch in loader:
        with _autocast(device, amp):
            logits = model(*(batch[k].to(device, non_blocking=True) for k in keys))  # (B, C)
        probs.append(logits.float().softmax(1).cpu().numpy())
        labels.append(np.asarray(batch["label"]))
        videos.append(np.asarray(batch["video_index"]))
    if not probs:
        raise ValueError("evaluate() got an empty loader: the split has no clips")
    return EvalOutput(np.concatenate(probs), np.concatenate(labels).astype(np.int64),
                      np.concatenate(videos).astype(np.int64))


def loader_for(dataset: Dataset, cfg: TrainConfig, *, env: D.DistEnv, epoch: int, train: bool) -> DataLoader:
    """A loader whose order depends only on (seed, epoch), so a resumed run sees the batches it would have."""
    gen = torch.Generator().manual_seed(cfg.seed * 100_003 + epoch)  # worker base seeds; never the global RNG
    if train:
        sampler = D.sampler(dataset, env, shuffle=True, seed=cfg.seed)
        sampler.set_epoch(epoch)
        if hasattr(dataset, "set_epoch"):  # per-item augmentation seeded by (seed, epoch, index)
            dataset.set_epoch(epoch)
    else:
        sampler = None
    return DataLoader(dataset, batch_size=cfg.batch_size, sampler=sampler, shuffle=False, generator=gen,
                      num_workers=cfg.num_workers, pin_memory=torch.cuda.is_available(), drop_last=False,
                      persistent_workers=False)


def _prepare(model: nn.Module, cfg: TrainConfig):
    env = D.setup(cuda=cfg.device == "cuda" or (cfg.device is None and torch.cuda.is_available()))
    device = D.device_for(env, cfg.device)
    model.to(device)
    if cfg.channels_last and device.type == "cuda":
        to_channels_last(model)
    params = [p for p in model.parameters() if p.requires_grad]
    if cfg.optimizer == "adamw":
        optimizer = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    else:
        optimizer = torch.optim.SGD(params, lr=cfg.lr, momentum=0.9, nesterov=True, weight_decay=cfg.weight_decay)
    fp16 = cfg.amp and device.type == "cuda" and not torch.cuda.is_bf16_supported()
    scaler = torch.amp.GradScaler(device.type, enabled=fp16)
    return env, device, optimizer, scaler


def _restore(path: Path, model: nn.Module, optimizer, scaler, *, arch: str, classes: Sequence[str]) -> dict:
    ckpt = read_checkpoint(path)
    check_matches(ckpt, path, expect_arch=arch, expect_classes=classes)
    model.load_state_dict(ckpt["model"])
    optimizer.load_state_dict(ckpt["optimizer"])
    scaler.load_state_dict(ckpt["scaler"])
    torch.set_rng_state(ckpt["rng"]["torch"])
    if torch.cuda.is_available() and ckpt["rng"].get("cuda"):
        torch.cuda.set_rng_state_all(ckpt["rng"]["cuda"])
    return ckpt["state"]


def _validate(model: nn.Module, data, cfg: TrainConfig, env: D.DistEnv, device: torch.device) -> dict[str, float]:
    if data.val is None or len(data.val) == 0:
        return {}
    out = evaluate(getattr(model, "module", model), loader_for(data.val, cfg, env=env, epoch=0, train=False),
                   device, amp=cfg.amp)
    picked = out.probs[np.arange(len(out.labels)), out.labels]
    return {"val_loss": float(-np.log(np.clip(picked, 1e-12, None)).mean()),
            "val_acc": float((out.probs.argmax(1) == out.labels).mean())}


def fit(model: nn.Module, data, cfg: TrainConfig, out_dir: str | Path, *, classes: Sequence[str], arch: str,
        arch_kwargs: dict[str, Any], resume: bool = False, progress: bool = True,
        on_epoch: Callable[[dict[str, float]], None] | None = None) -> FitResult:
    """Train ``model`` on ``data.train`` (a ``DatasetBundle``), select by ``data.val`` accuracy, write the run.

    Writes ``out_dir/{config.json, history.csv, curves.png, last.pt, best.pt}`` (rank 0 only, every epoch); ``resume`` continues from
    ``last.pt`` exactly where it stopped. ``on_epoch`` receives each history row (rank 0 only).
    """
    out_dir = Path(out_dir)
    torch.manual_seed(cfg.seed)  # dropout & co.; the RNG state travels in last.pt for an exact resume
    env, device, optimizer, scaler = _prepare(model, cfg)
    state = {"epoch": 0, "history": [], "best_key": None, "best_epoch": 0, "bad_epochs": 0, "step": 0}
    if resume:
        state = _restore(out_dir / "last.pt", model, optimizer, scaler, arch=arch, classes=classes)
    spec = getattr(model, "input_spec", None)  # the run's time scale travels in its InputSpec.sampling
    if spec is not None and getattr(data, "sampling", None) is not None:
        spec = model.input_spec = replace(spec, sampling=data.sampling)  # as fitted to the training data
    meta = {"arch": arch, "arch_kwargs": arch_kwargs, "classes": list(classes),
            "sampling": (spec.sampling if spec is not None else Sampling()).to_dict()}
    steps = math.ceil(len(D.sampler(data.train, env, shuffle=True, seed=0)) / cfg.batch_size)
    cfg = replace(cfg, epochs=cfg.epochs_for(steps))  # the run records the epochs it trains
    if env.is_main:
        write_text(out_dir / "config.json", json.dumps({**meta, "config": asdict(cfg),
                                                         "data": dict(getattr(data, "meta", None) or {})}, indent=2))
    net = D.wrap(model, env, device)
    lr_fn = lambda s: lr_at(s, base_lr=cfg.lr, warmup_steps=round(cfg.warmup_epochs * steps),  # noqa: E731
                            total_steps=cfg.epochs * steps)
    bar = _bar(env.is_main and progress)
    stopped = False
    with bar:
        while state["epoch"] < cfg.epochs and not stopped:
            epoch = state["epoch"]
            task = bar.add_task(f"epoch {epoch + 1}/{cfg.epochs}", total=steps, loss=0.0, acc=0.0, cps=0.0)
            stats = train_one_epoch(net, loader_for(data.train, cfg, env=env, epoch=epoch, train=True), optimizer,
                                    device=device, cfg=cfg, lr_fn=lr_fn, step0=epoch * steps, scaler=scaler, env=env,
                                    on_batch=lambda i, l, a, c: bar.update(task, completed=i, loss=l, acc=a, cps=c))
            row = {"epoch": epoch + 1, "lr": lr_fn((epoch + 1) * steps - 1), "train_loss": stats.loss,
                   "train_acc": stats.accuracy, **_validate(net, data, cfg, env, device),
                   "clips_per_s": stats.clips / max(stats.seconds, 1e-9), "seconds": stats.seconds}
            stopped = _end_epoch(state, row, model, optimizer, scaler, cfg, out_dir, meta, env)
            if env.is_main and on_epoch is not None:
                on_epoch(row)
    D.barrier(env)
    D.cleanup(env)
    best = state["history"][state["best_epoch"] - 1] if state["history"] else {}
    return FitResult(out_dir, state["best_epoch"], best.get("val_acc", best.get("train_acc", 0.0)),
                     state["history"], stopped)


def _end_epoch(state: dict, row: dict, model: nn.Module, optimizer, scaler, cfg: TrainConfig, out_dir: Path,
               meta: dict, env: D.DistEnv) -> bool:
    """Book-keep one finished epoch: history, best, early stopping, checkpoints. True when it is time to stop."""
    state["history"].append(row)
    state["epoch"] = row["epoch"]
    key = selection_key(row)
    best = state["best_key"]
    improved = best is None or key > tuple(best)  # best.pt: accuracy first, loss breaks ties
    state["bad_epochs"] = 0 if best is None or key[0] > best[0] else state["bad_epochs"] + 1  # patience: accuracy
    if improved:
        state.update(best_key=list(key), best_epoch=row["epoch"])
    if env.is_main:
        payload = {**meta, "model": model.state_dict(), "config": asdict(cfg), "epoch": row["epoch"],
                   "metrics": row}
        rng = {"torch": torch.get_rng_state(), "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available()
               else []}
        save_checkpoint(out_dir / "last.pt", {**payload, "optimizer": optimizer.state_dict(),
                                              "scheduler": {"epoch": row["epoch"]}, "scaler": scaler.state_dict(),
                                              "state": state, "rng": rng})
        if improved:
            save_checkpoint(out_dir / "best.pt", payload)
        write_history(out_dir / "history.csv", state["history"])
        plot_curves({meta["arch"]: state["history"]}, out_dir / "curves.png", title=f"{meta['arch']}: {out_dir.name}")
    return cfg.patience > 0 and state["bad_epochs"] >= cfg.patience


def _bar(enabled: bool):
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TextColumn("loss {task.fields[loss]:.3f} acc {task.fields[acc]:.3f} {task.fields[cps]:.1f} clips/s"),
                    TimeRemainingColumn(), disable=not enabled)
