"""`twostream compare`: one table of evaluated runs; writes comparison.md and comparison.csv."""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "Compare evaluated runs side by side (accuracy, macro F1, top-5); writes comparison.md and .csv."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dirs", type=Path, nargs="+", metavar="RUN_DIR", help="runs evaluated with "
                                                                                   "`twostream evaluate`")
    parser.add_argument("--out", type=Path, default=Path("."), help="folder for comparison.md / comparison.csv")


def run(args: argparse.Namespace) -> int:
    from rich.markup import escape
    from rich.table import Table

    from twostream.cli.console import console
    from twostream.paths import check_output_dir
    from twostream.streams.inference import compare_runs, write_comparison

    check_output_dir(args.out, inputs=[d / "metrics.json" for d in args.run_dirs], flag="--out")
    rows = compare_runs(args.run_dirs)
    table = Table(title="model comparison (clip-level unless noted)")
    for name in ("model", "accuracy", "video acc.", "macro F1", "top-5", "run"):
        table.add_column(name, justify="left" if name in ("model", "run") else "right")
    fmt = lambda v: "—" if v is None else f"{v:.4f}"  # noqa: E731
    for r in rows:
        table.add_row(escape(r["model"]), fmt(r["accuracy"]), fmt(r["video_accuracy"]), fmt(r["macro_f1"]),
                      fmt(r["top5"]), escape(r["run"]))
    console.print(table)
    md, csv_path = write_comparison(rows, args.out)
    console.print(f"wrote {md}, {csv_path}", highlight=False, markup=False)
    return 0
