"""The small single-series rows scored from several origins, not only their last horizon.

    python benchmarks/rolling_origins.py --datasets sm_elec_equip,sm_elnino,air_passengers --origins 3

The suite scores ``air_passengers`` and the ``sm_*`` rows on one horizon each, which one
unlucky origin can decide. Here origin k (0 = the suite's own) cuts every series k horizons
before its end and forecasts the horizon after the cut, from a model fitted on everything before
it: lstmcast (defaults, or ``--set`` overrides; seeds 0, 1, 2, median per origin) and AutoETS /
AutoTheta (statsforecast, fitted on the same cut; not cached). Prints one line per row and
origin and the mean over origins; not a test.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import accuracy as A
from accuracy_data import Series, Task, load_task
from accuracy_stats import stat_series, statsforecast_version

SEEDS = (0, 1, 2)


def cut(task: Task, k: int) -> Task:
    """``task`` with every series ending ``k`` horizons early; its last horizon is the test."""
    H = task.horizon
    series = []
    for s in task.series:
        end = len(s.values) - k * H
        series.append(Series(s.id, s.values[:end], end - H, (end - H,)))
    return replace(task, name=f"{task.name}@-{k}", series=series)


def row(task: Task, overrides: list[str], stats: bool) -> dict[str, float]:
    metric = task.metrics[0]
    scores = {"lstmcast": statistics.median(A.score(task, A.lstm_forecasts(task, overrides, seed)[0],
                                                    with_owa=False)[metric] for seed in SEEDS)}
    for name in ("ets", "theta") if stats else ():
        forecasts = {s.id: stat_series(name, task, s.values, s.train_end, s.origins) for s in task.series}
        scores[name] = A.score(task, forecasts, with_owa=False)[metric]
    return scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default="sm_elec_equip,sm_elnino,air_passengers,sm_nile,sm_sunspots,sm_macro")
    parser.add_argument("--origins", type=int, default=3, help="origins per row (0 = the last horizon, 1, ...)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", dest="overrides",
                        help="ForecastConfig override for lstmcast (repeatable)")
    parser.add_argument("--no-stats", action="store_true", help="skip AutoETS / AutoTheta")
    parser.add_argument("--data-dir", type=Path, default=A.DEFAULT_DATA)
    args = parser.parse_args()
    stats = not args.no_stats and statsforecast_version() is not None
    for name in args.datasets.split(","):
        task = load_task(name, args.data_dir)
        per_origin = [row(cut(task, k), args.overrides, stats) for k in range(args.origins)]
        for k, scores in enumerate(per_origin):
            print(f"{name} origin -{k}: " + ", ".join(f"{m} {v:.3f}" for m, v in scores.items()), flush=True)
        means = {m: float(np.mean([scores[m] for scores in per_origin])) for m in per_origin[0]}
        print(f"{name} mean of {args.origins} ({task.metrics[0]}): " + ", ".join(f"{m} {v:.3f}" for m, v in means.items()),
              flush=True)


if __name__ == "__main__":
    main()
