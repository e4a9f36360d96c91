"""The seasonal strength behind the default ``model.seasonal_skip``, per accuracy-suite dataset.

    python benchmarks/seasonal_strength.py            # every dataset of benchmarks/accuracy.py
    python benchmarks/seasonal_strength.py --datasets m4_hourly,etth1

For each dataset: the window the defaults derive, S (the longest seasonal period inside it, then
the shorter ones), the strength (:func:`lstmcast.defaults.strength_sums` over the training parts, the validation block
left out as in ``fit``) and the decision (skip when the strength is at most ``SKIP_RATIO``).
Not a test; no training.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from accuracy_data import DATASETS, load_task

from lstmcast.config import DataConfig, ForecastConfig
from lstmcast.defaults import SKIP_RATIO, resolve, seasons_for, strength_sums
from lstmcast.errors import LstmcastError


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default=",".join(DATASETS))
    parser.add_argument("--data-dir", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data")
    args = parser.parse_args()
    print(f"| dataset | window | S | strength | default (skip when <= {SKIP_RATIO}) |")
    print("|---|---|---|---|---|")
    for name in args.datasets.split(","):
        try:
            task = load_task(name, args.data_dir)
        except LstmcastError as exc:
            print(f"| {name} | – | – | – | not measured: {exc} |")
            continue
        trains = [s.train for s in task.series]

        def strength(period: int, trains: list = trains, horizon: int = task.horizon) -> float:
            seasonal, naive = strength_sums(trains, horizon, period, skip_last=horizon)
            return seasonal / naive

        # the fit's own rule (lstmcast.defaults.resolve) on the series' training parts
        config = resolve(ForecastConfig(DataConfig(targets=("y",), horizon=task.horizon)), task.freq,
                         [len(x) for x in trains], strength)
        window, skip = config.data.input_length, config.model.seasonal_skip
        inside = sorted((p for p in seasons_for(task.freq) if 1 < p <= window), reverse=True)
        if not inside:
            print(f"| {name} | {window} | – | – | none (no season) |")
        for period in inside:  # the rule's S first, then the shorter periods
            decision = ("skip" if skip else "none") if period == inside[0] else "(not the rule's S)"
            print(f"| {name} | {window} | {period} | {strength(period):.3f} | {decision} |")


if __name__ == "__main__":
    main()
