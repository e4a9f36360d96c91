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

from lstmcast.defaults import SKIP_RATIO, seasons_for, strength_sums, window_length


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default=",".join(DATASETS))
    parser.add_argument("--data-dir", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data")
    args = parser.parse_args()
    print(f"| dataset | window | S | strength | default (skip when <= {SKIP_RATIO}) |")
    print("|---|---|---|---|---|")
    for name in args.datasets.split(","):
        task = load_task(name, args.data_dir)
        trains = [s.train for s in task.series]
        seasons = seasons_for(task.freq)
        window = window_length(task.horizon, seasons, [len(x) for x in trains])
        inside = [s for s in seasons if 1 < s <= window]
        if not inside:
            print(f"| {name} | {window} | – | – | none (no season) |")
            continue
        for period in sorted(inside, reverse=True):  # the rule's S first, then the shorter periods
            seasonal, naive = strength_sums(trains, task.horizon, period, skip_last=task.horizon)
            ratio = seasonal / naive
            decision = ("skip" if ratio <= SKIP_RATIO else "none") if period == max(inside) else "(not the rule's S)"
            print(f"| {name} | {window} | {period} | {ratio:.3f} | {decision} |")

if __name__ == "__main__":
    main()
