"""Rules for the statistical part's weights (``model.theta_weight``, ``model.ets_weight``), on the
same networks.

    python benchmarks/statistical_weights.py --datasets m3_yearly,m3_quarterly,m3_other --seeds 0,1,2
    python benchmarks/statistical_weights.py --datasets m4_hourly --seeds 0 --json F

For each row and seed one fit with the defaults; the validation windows its weights were chosen on
are kept (the arguments of :func:`lstmcast.fitting.combination.choose_weights`), and each rule
chooses again on those same windows, then forecasts the holdout with the same networks:

- ``network``: both weights 0;
- ``theta``: the Theta weight on its grid, ETS off (``model.ets_weight=0``);
- ``ets``: the ETS weight on its grid, Theta off;
- ``apart``: every pair ``a + b <= 1`` of the grid;
- ``mean``: one weight for the mean of the two (``a = b = w / 2``);
- ``union``: the least error among the candidates of ``theta`` and of ``mean`` together;
- ``default``: the library's rule (``mean``, and ``theta`` where the mean's weight is 0);
- ``thirds``: network, Theta and ETS a third each, not chosen.

Training is deterministic on CPU, so the rules differ only in their choice. Prints one line per row
and seed and a table of medians over seeds (the chosen total weights in brackets). Not a test.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import accuracy as A
from accuracy_data import Task, load_task

from lstmcast.fitting import combination

W = combination.THETA_WEIGHTS
RULES: dict[str, list[tuple[float, float]] | None] = {  # None: the library's own rule
    "network": [(0.0, 0.0)],
    "theta": combination.candidates(None, 0.0)[0],
    "ets": combination.candidates(0.0, None)[0],
    "apart": [(a, b) for a in W for b in W if a + b <= 1 + 1e-9],
    "mean": [(w / 2, w / 2) for w in W],
    "union": [p for family in combination.candidates(None, None) for p in family],
    "default": None,
    "thirds": [(1 / 3, 1 / 3)],
}


def recording() -> dict[str, Any]:
    """Wrap ``choose_weights`` so a fit leaves its arguments in the returned dict."""
    seen: dict[str, Any] = {}
    choose = combination.choose_weights

    def record(*args: Any, **kwargs: Any) -> dict[str, Any]:
        seen["args"], seen["kwargs"] = args, kwargs
        return choose(*args, **kwargs)

    combination.choose_weights = record
    seen["choose"] = choose
    return seen


def _choose(seen: dict[str, Any], pairs: list[tuple[float, float]] | None) -> tuple[float, float]:
    """The pair of ``pairs`` of least validation error (ties: the smaller total), scored as the
    library scores; ``None``: the library's own choice with both weights open."""
    choice = seen["choose"](*seen["args"], **{**seen["kwargs"], "theta": None, "ets": None, "pairs": pairs})
    return choice["weight"], choice["ets_weight"]


def row(task: Task, seed: int, overrides: list[str], seen: dict[str, Any]) -> dict[str, Any]:
    """Every rule's choice and score for one fit of ``task``."""
    model, train, fit_seconds = A.fit_lstm(task, ["model.theta_weight=null", "model.ets_weight=null", *overrides], seed)
    metric = task.metrics[0]
    out: dict[str, Any] = {"dataset": task.name, "seed": seed, "metric": metric, "fit_seconds": round(fit_seconds, 1),
                           "rules": {}}
    for rule, pairs in RULES.items():
        a, b = _choose(seen, pairs)
        m = model.config_.model
        model.config_ = dataclasses.replace(model.config_, model=dataclasses.replace(m, theta_weight=a, ets_weight=b))
        scores = A.score(task, A.forecast_origins(task, model, train))
        out["rules"][rule] = {"theta_weight": a, "ets_weight": b, **{k: round(v, 4) for k, v in scores.items()}}
    print(f"{task.name} seed {seed} ({metric}): " + ", ".join(
        f"{r} {v[metric]:.3f} ({v['theta_weight']:g}+{v['ets_weight']:g})" for r, v in out["rules"].items()), flush=True)
    return out


def table(results: list[dict[str, Any]]) -> str:
    """Medians over seeds per row and rule, the chosen weights in brackets."""
    lines = ["| row | " + " | ".join(RULES) + " |", "|---|" + "---|" * len(RULES)]
    for name in dict.fromkeys(r["dataset"] for r in results):
        runs = [r for r in results if r["dataset"] == name]
        cells = []
        for rule in RULES:
            picks = [run["rules"][rule] for run in runs]
            metric = runs[0].get("metric", "smape")
            weights = ", ".join(f"{p['theta_weight']:g}+{p['ets_weight']:g}" for p in picks)
            cells.append(f"{statistics.median(p[metric] for p in picks):.3f} ({weights})")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def parser(description: str) -> argparse.ArgumentParser:
    """The options of a weight-rule benchmark: --datasets, --seeds, --set, --data-dir, --json."""
    out = argparse.ArgumentParser(description=description)
    out.add_argument("--datasets", default="m3_yearly,m3_quarterly,m3_other")
    out.add_argument("--seeds", default="0,1,2")
    out.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", dest="overrides")
    out.add_argument("--data-dir", type=Path, default=A.DEFAULT_DATA)
    out.add_argument("--json", type=Path, default=None, help="write every run here")
    return out


def run_rows(args: argparse.Namespace, row_of: Callable[[Task, int], dict[str, Any]]) -> list[dict[str, Any]]:
    """``row_of(task, seed)`` for every dataset and seed of ``args``, each written to --json as it ends."""
    results = []
    for name in args.datasets.split(","):
        task = load_task(name, args.data_dir)
        for seed in (int(s) for s in args.seeds.split(",")):
            results.append(row_of(task, seed))
            if args.json is not None:
                args.json.write_text(json.dumps(results, indent=1) + "\n")
    return results


def main() -> None:
    args = parser(__doc__.splitlines()[0]).parse_args()
    seen = recording()
    print(table(run_rows(args, lambda task, seed: row(task, seed, args.overrides, seen))))


if __name__ == "__main__":
    main()
