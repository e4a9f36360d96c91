"""lstmcast's forecast averaged with AutoETS' and AutoTheta's, measured outside the library.

    python benchmarks/combination.py --datasets m3_yearly,m3_quarterly,m3_other
    python benchmarks/combination.py --datasets sm_elec_equip,air_passengers --origins 3

For each row: lstmcast with its defaults (seeds 0, 1, 2), AutoETS and AutoTheta (statsforecast;
the suite's cache for the M3/M4 rows), and the equal-weight means lstm+ets, lstm+theta and
lstm+ets+theta of their point forecasts, scored like the suite (median over seeds). With
``--origins K`` each row is also cut 1 .. K-1 horizons early (as ``rolling_origins.py`` does)
and the mean over origins is printed last. Prints one line per row; not a test.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import accuracy as A
from accuracy_data import Task, load_task
from accuracy_stats import stat_forecasts, stat_series
from rolling_origins import SEEDS, cut

COMBINATIONS = ("lstm", "ets", "theta", "lstm+ets", "lstm+theta", "lstm+ets+theta")


def statistical(task: Task, name: str, cached: bool) -> A.Forecasts:
    if cached:  # the suite's own task: its cache holds every series' forecasts
        forecasts, _, note = stat_forecasts(task, name)
        if forecasts is None:
            raise SystemExit(note)
        return forecasts
    return {s.id: stat_series(name, task, s.values, s.train_end, s.origins) for s in task.series}


def scores(task: Task, cached: bool) -> dict[str, float]:
    metric = task.metrics[0]
    stats = {name: statistical(task, name, cached) for name in ("ets", "theta")}
    per_seed: dict[str, list[float]] = {k: [] for k in COMBINATIONS}
    for seed in SEEDS:
        parts = {"lstm": A.lstm_forecasts(task, [], seed)[0], **stats}
        for combination in COMBINATIONS:
            members = combination.split("+")
            mean = {s.id: np.mean([parts[m][s.id] for m in members], axis=0) for s in task.series}
            per_seed[combination].append(A.score(task, mean, with_owa=False)[metric])
    return {k: statistics.median(v) for k, v in per_seed.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default="m3_yearly,m3_quarterly,m3_other")
    parser.add_argument("--origins", type=int, default=1, help="origins per row (1: the suite's own only)")
    parser.add_argument("--data-dir", type=Path, default=A.DEFAULT_DATA)
    args = parser.parse_args()
    for name in args.datasets.split(","):
        task = load_task(name, args.data_dir)
        per_origin = [scores(cut(task, k) if k else task, cached=k == 0) for k in range(args.origins)]
        means = {c: float(np.mean([o[c] for o in per_origin])) for c in COMBINATIONS}
        print(f"{name} ({task.metrics[0]}" + (f", mean of {args.origins} origins" if args.origins > 1 else "") + "): "
              + ", ".join(f"{c} {v:.3f}" for c, v in means.items()), flush=True)


if __name__ == "__main__":
    main()
