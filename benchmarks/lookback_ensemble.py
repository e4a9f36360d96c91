"""Ensembles whose members read different lookbacks, measured outside the library.

    python benchmarks/lookback_ensemble.py --dataset m3_quarterly --horizons 2,3,4

Fits one network (``model.ensemble=1``, the defaults otherwise) per lookback (``data.input_length``
= k horizons, for each k of ``--horizons``) and seed (0, 1, 2), then scores the element-wise median
of the forecasts of: the three seeds at each lookback (an ensemble of three), one member per
lookback (three members, seed k for the k-th lookback) and all of them. The M3 sets hold a few
hundred series of a few dozen points, so a run takes minutes. Prints lines; not a test.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import accuracy as A
from accuracy_data import DATASETS, load_task

SEEDS = (0, 1, 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="m3_quarterly", choices=DATASETS)
    parser.add_argument("--horizons", default="2,3,4", help="lookbacks in horizons, e.g. 2,3,4")
    parser.add_argument("--data-dir", type=Path, default=A.DEFAULT_DATA)
    args = parser.parse_args()
    task = load_task(args.dataset, args.data_dir)
    H, metric = task.horizon, task.metrics[0]
    multiples = [int(k) for k in args.horizons.split(",")]
    forecasts = {}
    for k in multiples:
        for seed in SEEDS:
            got, info = A.lstm_forecasts(task, ["model.ensemble=1", f"data.input_length={k * H}"], seed)
            forecasts[(k, seed)] = got
            print(f"lookback {k * H} seed {seed}: {metric} {A.score(task, got)[metric]:.3f} ({info['seconds']:.1f} CPU-s)",
                  flush=True)

    def median_of(keys: list[tuple[int, int]]) -> float:
        combined = {s.id: np.median(np.stack([forecasts[key][s.id] for key in keys]), axis=0) for s in task.series}
        return A.score(task, combined)[metric]

    for k in multiples:
        print(f"three seeds at lookback {k * H}: {median_of([(k, s) for s in SEEDS]):.3f}")
    mixed = list(zip(multiples, SEEDS, strict=False))
    print(f"one member per lookback {mixed}: {median_of(mixed):.3f}")
    print(f"all {len(forecasts)}: {median_of(list(forecasts)):.3f}")


if __name__ == "__main__":
    main()
