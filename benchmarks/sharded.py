"""Series-sharded training: peak memory per rank, 1 rank vs 2, on a generated Parquet dataset.

    python benchmarks/sharded.py                      # generate once into $TMPDIR, run 1 and 2 ranks
    python benchmarks/sharded.py --data /big/disk/ds --ranks 1 2 4 --epochs 2

The dataset (generated once, never inside the repository): 20,000 hourly series x 1,000 points
(noisy sines of random period, phase, level and amplitude; numpy seed 0), written as Parquet
partitioned by series, ``DIR/unique_id=S00000/part-0.parquet`` (the hive layout NeuralForecast
and Spark write). Each run is ``torchrun --standalone --nproc-per-node N`` of this script's
``--worker`` mode, which calls :func:`lstmcast.sharded.train_from_dataset` (with N > 1 every
rank reads only its series; with N = 1 the one process reads all of them) with a small config:
LSTM(16), horizon 24, point head, one network, no refit, ``train.epoch_windows`` windows a pass.
Each rank reports its peak RSS (``getrusage``'s ``ru_maxrss``), CPU seconds and training time;
the table prints peak RSS per rank (largest), windows/s of the training loop, CPU-s over all
ranks and the wall time of the whole command (reading, preparing, training and saving).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from lstmcast.training.callbacks import Callback

N_SERIES, N_POINTS = 20_000, 1_000
CHUNK = 500  # series generated and written at a time (bounded memory while generating)


def generate(root: Path, n_series: int = N_SERIES, n_points: int = N_POINTS, seed: int = 0) -> None:
    """Write the dataset once (skipped when ``root/_COMPLETE`` says it is there)."""
    import numpy as np
    import pandas as pd
    import pyarrow as pa
    import pyarrow.dataset as pa_ds

    marker = root / "_COMPLETE"
    if marker.is_file() and marker.read_text() == f"{n_series}x{n_points} seed {seed}":
        return
    rng = np.random.default_rng(seed)
    times = pd.date_range("2020-01-01", periods=n_points, freq="h")
    t = np.arange(n_points)
    started = time.perf_counter()
    for first in range(0, n_series, CHUNK):
        k = min(CHUNK, n_series - first)
        period = rng.choice([12, 24, 168], size=(k, 1))
        y = (rng.uniform(5, 50, (k, 1)) + rng.uniform(1, 5, (k, 1)) * np.sin(2 * np.pi * t / period
             + rng.uniform(0, 2 * np.pi, (k, 1))) + rng.standard_normal((k, n_points)))
        ids = np.repeat([f"S{i:05d}" for i in range(first, first + k)], n_points)
        table = pa.table({"unique_id": ids, "ds": np.tile(times.to_numpy(), k), "y": y.ravel()})
        pa_ds.write_dataset(table, root, format="parquet", partitioning=["unique_id"], partitioning_flavor="hive",
                            basename_template="part-{i}.parquet", max_partitions=CHUNK, preserve_order=True,
                            existing_data_behavior="overwrite_or_ignore")
    marker.write_text(f"{n_series}x{n_points} seed {seed}")
    print(f"generated {n_series} x {n_points} in {time.perf_counter() - started:.0f}s under {root}", file=sys.stderr)


def worker(args: argparse.Namespace) -> None:
    """One rank: train from the dataset, report this process's resources as JSON."""
    from lstmcast.config import ForecastConfig
    from lstmcast.sharded import train_from_dataset

    config = ForecastConfig().with_overrides([
        "model.hidden_size=16", "model.head=point", "model.ensemble=1", "data.horizon=24",
        f"train.max_epochs={args.epochs}", "train.batch_size=256", f"train.epoch_windows={args.epoch_windows}",
        "train.val_windows=4096", "train.patience=0", "train.final_fit=none", "train.device=cpu",
        "train.threads=1", "train.seed=0"])
    counter = _WindowCounter()
    started = time.perf_counter()
    forecaster = train_from_dataset(args.data, config, args.model, callbacks=[counter])
    usage = resource.getrusage(resource.RUSAGE_SELF)
    rank = int(os.environ.get("RANK", "0"))
    report = {"rank": rank, "peak_rss_mb": usage.ru_maxrss / 1024, "cpu_s": usage.ru_utime + usage.ru_stime,
              "seconds": time.perf_counter() - started, "train_seconds": forecaster.history_.seconds,
              "windows": counter.windows,
              "series": forecaster.meta_.get("shards", {}).get("series", [len(forecaster.scalers_)])[rank],
              "epochs": len(forecaster.history_.history),
              "val_loss": forecaster.history_.history[-1].val_loss}
    Path(args.report, f"rank-{rank}.json").write_text(json.dumps(report))


class _WindowCounter(Callback):
    """Counts the windows this rank trained on: its batches times its batch size (the last,
    shorter batch of a one-process epoch counted in full)."""

    def __init__(self) -> None:
        self.windows, self._batch = 0, 0

    def on_fit_start(self, state: Any) -> None:
        world = int(os.environ.get("WORLD_SIZE", "1"))
        self._batch = max(1, round(state.config.batch_size / world))

    def on_batch_end(self, state: Any) -> None:
        self.windows += self._batch


def run(ranks: int, args: argparse.Namespace, scratch: Path) -> dict[str, float]:
    report = scratch / f"report-{ranks}"
    report.mkdir(parents=True, exist_ok=True)
    for old in report.glob("rank-*.json"):
        old.unlink()
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", str(ranks),
           __file__, "--worker", "--data", str(args.data), "--model", str(scratch / f"model-{ranks}"),
           "--report", str(report), "--epochs", str(args.epochs), "--epoch-windows", str(args.epoch_windows)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    started = time.perf_counter()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(cmd, check=True, env=env)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    wall = time.perf_counter() - started
    rows = [json.loads(p.read_text()) for p in sorted(report.glob("rank-*.json"))]
    windows = sum(r["windows"] for r in rows)
    return {"ranks": ranks, "peak_rss_mb": max(r["peak_rss_mb"] for r in rows),
            "rss_each": [round(r["peak_rss_mb"]) for r in rows],
            "series_each": [r["series"] for r in rows],
            "windows_per_s": windows / max(r["train_seconds"] for r in rows),
            "cpu_s": (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime),
            "wall_s": wall, "val_loss": rows[0]["val_loss"], "epochs": rows[0]["epochs"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, help="dataset directory (generated there when missing)")
    parser.add_argument("--ranks", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--series", type=int, default=N_SERIES, help="series to generate (the table: 20,000)")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--epoch-windows", type=int, default=20_000)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--model", help=argparse.SUPPRESS)
    parser.add_argument("--report", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args)
        return
    scratch = Path(tempfile.mkdtemp(prefix="lstmcast-sharded-"))
    args.data = args.data or Path(tempfile.gettempdir()) / f"lstmcast-sharded-{args.series}x{N_POINTS}"
    generate(args.data, args.series)
    results = [run(n, args, scratch) for n in args.ranks]
    print(f"\n{args.series} series x {N_POINTS} points, {args.epochs} epochs of {args.epoch_windows} windows; "
          f"load average {os.getloadavg()[0]:.2f} at the end")
    print("| ranks | series per rank | peak RSS per rank (MB) | windows/s | CPU-s | wall (s) | final val loss |")
    print("|---|---|---|---|---|---|---|")
    for r in results:
        print(f"| {r['ranks']} | {', '.join(map(str, r['series_each']))} | "
              f"{', '.join(map(str, r['rss_each']))} | {r['windows_per_s']:.0f} | {r['cpu_s']:.0f} | "
              f"{r['wall_s']:.0f} | {r['val_loss']:.4f} |")


if __name__ == "__main__":
    main()
