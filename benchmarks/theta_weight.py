"""lstmcast's defaults with and without their Theta part (``model.theta_weight``), per row and seed.

    python benchmarks/theta_weight.py --datasets m3_yearly,m3_quarterly,m3_other --seeds 0,1,2
    python benchmarks/theta_weight.py --datasets sm_elec_equip,air_passengers --origins 3

For each row and seed one fit with the defaults, scored four ways: ``network`` (the same fit's
network alone, ``model.theta_weight=0`` at predict), ``theta`` (the M4 benchmark's Theta method,
:func:`lstmcast.scoring.theta.theta`, from each origin's whole history), ``half`` (their mean) and
``lstmcast`` (the defaults as they forecast: the weight the fit chose on its validation windows,
:mod:`lstmcast.fitting.combination`). Prints one line per row and seed, then the medians over
seeds and the chosen weights; ``--origins K`` also cuts each row 1 .. K-1 horizons early (as
``rolling_origins.py`` does). Not a test.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import accuracy as A
from accuracy_data import Task, load_task
from rolling_origins import cut

from lstmcast.fitting import combination
from lstmcast.scoring.theta import theta


def theta_forecasts(task: Task) -> A.Forecasts:
    return {
        s.id: np.stack([theta(h[None, :, None], task.horizon, task.season)[0, :, 0] for h, _ in s.windows(task.horizon)])
        for s in task.series
    }


def row(task: Task, seeds: str, overrides: list[str]) -> None:
    """One row: the scores of each seed, then their medians, printed."""
    name, metric = task.name, task.metrics[0]
    stat = theta_forecasts(task)
    rows: dict[str, list[float]] = {"network": [], "theta": [], "half": [], "lstmcast": []}
    weights = []
    for seed in (int(x) for x in seeds.split(",")):
        model, train, _ = A.fit_lstm(task, overrides, seed)
        weights.append(model.config_.model.theta_weight)
        combined = A.forecast_origins(task, model, train)
        model.config_ = dataclasses.replace(model.config_, model=dataclasses.replace(model.config_.model, theta_weight=0.0))
        net = A.forecast_origins(task, model, train)
        half = {s.id: 0.5 * (net[s.id] + stat[s.id]) for s in task.series}
        for label, forecasts in (("network", net), ("theta", stat), ("half", half), ("lstmcast", combined)):
            rows[label].append(A.score(task, forecasts, with_owa=False)[metric])
        print(f"{name} seed {seed}: w={weights[-1]:g} " + ", ".join(f"{k} {v[-1]:.3f}" for k, v in rows.items()),
              flush=True)
    print(f"{name} median ({metric}): " + ", ".join(f"{k} {statistics.median(v):.3f}" for k, v in rows.items())
          + f"; weights {weights}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default="m3_yearly,m3_quarterly,m3_other")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", dest="overrides")
    parser.add_argument("--origins", type=int, default=1, help="origins per row (as rolling_origins.py cuts them)")
    parser.add_argument("--min-series", type=int, default=None,
                        help="choose the weight from this many validation series (the library's rule: 10)")
    parser.add_argument("--data-dir", type=Path, default=A.DEFAULT_DATA)
    args = parser.parse_args()
    if args.min_series is not None:
        combination.MIN_THETA_SERIES = args.min_series
    for name in args.datasets.split(","):
        whole = load_task(name, args.data_dir)
        for k in range(args.origins):
            row(cut(whole, k) if k else whole, args.seeds, args.overrides)


if __name__ == "__main__":
    main()
