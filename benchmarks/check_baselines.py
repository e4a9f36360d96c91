"""Check lstmcast's hand-written baselines against statsforecast's on every dataset of the suite.

    pip install --no-deps -r requirements/bench.txt
    python benchmarks/check_baselines.py            # exit 1 if any forecast differs

Naive and seasonal naive (each seasonal period of the data) from every scored origin's whole
history, as benchmarks/accuracy.py computes them, against statsforecast's ``Naive`` and
``SeasonalNaive`` on the same history. Prints the largest absolute difference per dataset.
Not part of the test suite: CI has no statsforecast.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import accuracy as A
from accuracy_data import DATASETS, load_task


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=A.DEFAULT_DATA)
    args = parser.parse_args(argv)
    from statsforecast.models import Naive, SeasonalNaive

    worst = 0.0
    print("| dataset | baseline | forecasts | max abs difference |\n|---|---|---|---|")
    for name in DATASETS:
        task = load_task(name, args.data_dir)
        checks = [("naive", lambda: Naive(), A.naive_forecasts(task))]
        for m in task.seasons:
            checks.append((f"seasonal naive m={m}", lambda m=m: SeasonalNaive(season_length=m),
                           A.snaive_forecasts(task, m)))
        for label, make, ours in checks:
            diff, count = 0.0, 0
            for s in task.series:
                for k, (history, _) in enumerate(s.windows(task.horizon)):
                    theirs = np.asarray(make().forecast(y=history, h=task.horizon)["mean"])
                    diff = max(diff, float(np.max(np.abs(theirs - ours[s.id][k]))))
                    count += 1
            worst = max(worst, diff)
            print(f"| {name} | {label} | {count} | {diff:.3g} |")
    return 0 if worst == 0.0 else 1


if __name__ == "__main__":
    sys.exit(main())
