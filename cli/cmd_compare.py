"""`twostream compare`: one table of evaluated runs with what each costs; writes comparison.md, .csv, curves.png."""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = ("Compare evaluated runs side by side (accuracy, macro F1, top-5, parameters, GFLOPs and CPU ms per clip); "
        "writes comparison.md, comparison.csv and curves.png.")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dirs", type=Path, nargs="+", metavar="RUN_DIR", help="runs evaluated with "
                                                                                   "`twostream evaluate`")
    parser.add_argument("--out", type=Path, default=Path("."), help="folder for comparison.md / .csv / curves.png")
    parser.add_argument("--repeats", type=int, default=5,
                        help="timed CPU forward passes of one clip per run (the median is shown); 0 = no timing")
    parser.add_argument("--no-cost", dest="cost", action="store_false",
                        help="only the metrics: do not load the models to count parameters, FLOPs and time")


def run(args: argparse.Namespace) -> int:
    import torch
    from rich.markup import escape
    from rich.table import Table

    from twostream.cli.console import console
    from twostream.paths import check_output_dir
    from twostream.streams.inference import compare_runs, write_comparison, write_curves

    check_output_dir(args.out, inputs=[d / "metrics.json" for d in args.run_dirs], flag="--out")
    rows = compare_runs(args.run_dirs)
    if args.cost:
        from twostream.fusion.cost import run_cost

        with console.status("measuring each run's cost on the CPU"):
            rows = [{**r, **run_cost(r["run"], repeats=args.repeats)._asdict()} for r in rows]
    caption = (f"cost per clip: forward only, batch 1, {torch.get_num_threads()} CPU threads; pose streams "
               "exclude keypoint extraction; full run paths in comparison.csv" if args.cost else None)
    table = Table(title="model comparison (clip-level unless noted)", caption=caption)
    columns = ["model", "run", "acc.", "video acc.", "macro F1", "top-5"]
    columns += ["params (M)", "GFLOPs", "CPU ms"] if args.cost else []
    for name in columns:
        table.add_column(name, justify="left" if name in ("model", "run") else "right", overflow="fold",
                         min_width=16 if name == "model" else None)
    fmt = lambda v, spec=".3f": "—" if v is None else f"{v:{spec}}"  # noqa: E731
    for r in rows:
        cost = [fmt(r["params_m"], ".2f"), fmt(r["gflops"], ".3g"), fmt(r["cpu_ms"], ".1f")] if args.cost else []
        table.add_row(escape(r["model"]), escape(Path(r["run"]).name), fmt(r["accuracy"]), fmt(r["video_accuracy"]),
                      fmt(r["macro_f1"]), fmt(r["top5"]), *cost)
    console.print(table)
    md, csv_path = write_comparison(rows, args.out)
    curves, skipped = write_curves(rows, args.out)
    console.print(f"wrote {md}, {csv_path}" + (f", {curves}" if curves else ""), highlight=False, markup=False)
    if skipped:
        console.print(f"no training curves (no history.csv; a fused run has none) for {', '.join(skipped)}",
                      highlight=False, markup=False)
    return 0
