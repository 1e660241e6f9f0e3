"""`twostream fuse`: fit late fusion of an RGB run and a pose run on validation videos → one fused run."""

from __future__ import annotations

import argparse

HELP = "fuse an RGB run and a pose run (weights fit on validation) into one self-contained fused run"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from twostream.fusion.late import MODES

    parser.add_argument("rgb_run", metavar="RGB_RUN", help="run directory of the RGB stream (holds best.pt)")
    parser.add_argument("pose_run", metavar="POSE_RUN", help="run directory of the keypoint stream (holds best.pt)")
    parser.add_argument("root", metavar="ROOT", nargs="?", default=None,
                        help="dataset folder with .pose.npz caches; default: the RGB run's training root")
    parser.add_argument("--out", required=True, metavar="FUSED_RUN", help="directory to write the fused run to")
    parser.add_argument("--mode", choices=list(MODES), default="tuned",
                        help="fusion used by predict / live (all modes are fitted and compared by evaluate)")
    parser.add_argument("--weight", type=float, default=None,
                        help="pose share w in [0, 1] for fixed (default 0.5) and gated (default: tuned)")
    parser.add_argument("--split", type=int, default=None, help="UCF101 split 1-3; default: the RGB run's")
    parser.add_argument("--split-dir", default=None, help="folder with classInd.txt and the split lists")
    parser.add_argument("--val-fraction", type=float, default=None, help="default: the RGB run's")
    parser.add_argument("--seed", type=int, default=None, help="split seed; default: the RGB run's")
    parser.add_argument("--overwrite", action="store_true", help="replace the fused run already in --out")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--batch-size", type=int, default=4)


def run(args: argparse.Namespace) -> int:
    from rich.progress import Progress
    from rich.table import Table

    from rich.markup import escape

    from twostream.cli.console import console
    from twostream.fusion.evaluation import fuse_runs
    from twostream.paths import prepare_run_dir
    from twostream.streams.distributed import single_device

    single_device(args.device)
    prepare_run_dir(args.out, inputs=[args.rgb_run, args.pose_run, args.root, args.split_dir],
                    overwrite=args.overwrite)

    with Progress(console=console, transient=True) as bar:
        task = bar.add_task("scoring validation videos", total=None)
        record = fuse_runs(args.rgb_run, args.pose_run, args.out, mode=args.mode, weight=args.weight,
                           root=args.root, split=args.split, split_dir=args.split_dir,
                           val_fraction=args.val_fraction, seed=args.seed, device=args.device,
                           batch_size=args.batch_size,
                           progress=lambda done, total: bar.update(task, completed=done, total=total))
    table = Table(title=f"validation accuracy, {record['split']['num_videos']} videos")
    table.add_column("scores")
    table.add_column("accuracy", justify="right")
    table.add_column("parameters")
    validation = record["validation"]
    for role in ("rgb", "pose"):
        table.add_row(role, f"{validation[role]:.3f}", "")
    for name, accuracy in validation["accuracy"].items():
        params = record["params"][name]
        shown = f"w={params['weight']:.2f}" if "weight" in params else ("logistic regression" if params.get("coef")
                                                                        else params.get("fallback") or "")
        table.add_row(f"{name} ★" if name == record["mode"] else name, f"{accuracy:.3f}", shown)
    console.print(table)
    console.print(f"fused run written to [bold]{escape(args.out)}[/] (fusion.json, rgb.pt, pose.pt); "
                  f"compare on test with `twostream evaluate {escape(args.out)}`", highlight=False)
    return 0
