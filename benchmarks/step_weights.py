"""One statistical weight for every forecast step, or a weight per step, on the same networks.

    python benchmarks/step_weights.py --datasets m3_yearly,m3_quarterly,m3_other --seeds 0,1,2
    python benchmarks/step_weights.py --datasets m3_monthly --seeds 0 --data-dir DIR   # DIR holds M3C.xls

For each row and seed one fit with the defaults; the validation windows its weights were chosen on
are kept (the arguments of :func:`lstmcast.fitting.combination.choose_weights`), and the holdout is
forecast three times with the same networks: the network alone, Theta alone and ETS alone
(``model.theta_weight`` / ``model.ets_weight`` set to 0 or 1). The statistical part moves the mean
linearly in the weights (:meth:`lstmcast.scoring.statistical.StatisticalPart.apply`), so each
rule's forecast is mixed from those three exactly. Rules, each chosen on the validation windows by
the library's error (MAE over the mean absolute one-step change of the window's history):

- ``scalar``: the library's choice, one weight for every step (the default);
- ``per_step``: the library's rule (the mean of Theta and ETS, else Theta alone) applied to each
  forecast step's error on its own;
- ``ramp``: the mean of Theta and ETS with a weight linear in the step, from ``w0`` at the first
  step to ``w1`` at the last, both on the grid ``0, 0.1, .., 1``.

Options as in benchmarks/statistical_weights.py (``--set KEY=VALUE`` for another config). Prints
one line per row and seed and a table of medians over seeds. Not a test.
"""

from __future__ import annotations

import dataclasses
import statistics
import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import accuracy as A
import statistical_weights as W
from accuracy_data import Task

from lstmcast.fitting import combination as C

RULES = ("scalar", "per_step", "ramp")


def _step_error(args: tuple[Any, ...]) -> Any:
    """``error(a, b) -> [H]``: the validation error per step of ``(1 - a - b) * network +
    a * theta + b * ets`` (a and b scalars, or [H] weights), as the library scores it."""
    mean, truth, stat, history = args[:4]
    scale = np.broadcast_to(C.history_scale(history)[:, None, :], mean.shape)
    usable = np.isfinite(truth).all(axis=(1, 2))
    for m in ("theta", "ets"):
        usable &= np.isfinite(stat[m]).all(axis=(1, 2))

    def error(a: Any, b: Any) -> np.ndarray:
        a, b = (np.broadcast_to(np.asarray(v, float), (mean.shape[1],))[None, :, None] for v in (a, b))
        forecast = (1 - a - b) * mean + a * stat["theta"] + b * stat["ets"]
        return np.mean(np.abs(forecast - truth)[usable] / scale[usable], axis=(0, 2))

    return error


def _rules(chosen: tuple[float, float], error: Any, horizon: int) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Each rule's (theta, ets) weights per step; ``chosen``: the fit's own (scalar) weights."""
    families = C.candidates(None, None)
    errors = {p: error(*p) for family in families for p in family}
    per = [C.pick(families, lambda p, h=h: float(errors[p][h])) for h in range(horizon)]
    def ramp_of(ends: tuple[float, float]) -> np.ndarray:  # Theta's (= ETS') weight per step
        return np.linspace(*ends, horizon) / 2

    ramps = [(w0, w1) for w0 in C.THETA_WEIGHTS for w1 in C.THETA_WEIGHTS]  # first of equals kept
    ramp = ramp_of(min(ramps, key=lambda r: float(np.mean(error(ramp_of(r), ramp_of(r))))))
    return {"scalar": (np.full(horizon, chosen[0]), np.full(horizon, chosen[1])),
            "per_step": (np.array([p[0] for p in per]), np.array([p[1] for p in per])),
            "ramp": (ramp, ramp)}


def row(task: Task, seed: int, overrides: list[str], seen: dict[str, Any]) -> dict[str, Any]:
    """Every rule's weights and score for one fit of ``task`` (the defaults, then ``overrides``)."""
    model, train, _ = A.fit_lstm(task, overrides, seed)
    chosen = (float(model.config_.model.theta_weight or 0.0), float(model.config_.model.ets_weight or 0.0))
    base = {}
    for ab in ((0.0, 0.0), (1.0, 0.0), (0.0, 1.0)):
        m = model.config_.model
        model.config_ = dataclasses.replace(model.config_, model=dataclasses.replace(m, theta_weight=ab[0], ets_weight=ab[1]))
        base[ab] = A.forecast_origins(task, model, train)
    net, theta, ets = base[(0.0, 0.0)], base[(1.0, 0.0)], base[(0.0, 1.0)]
    out: dict[str, Any] = {"dataset": task.name, "seed": seed, "metric": task.metrics[0], "rules": {}}
    for rule, (a, b) in _rules(chosen, _step_error(seen["args"]), task.horizon).items():
        mixed = {k: net[k] + a * (theta[k] - net[k]) + b * (ets[k] - net[k]) for k in net}
        out["rules"][rule] = {"score": round(A.score(task, mixed)[out["metric"]], 4),
                              "total_weight": [round(float(x + y), 3) for x, y in zip(a, b, strict=True)]}
    print(f"{task.name} seed {seed}: " + ", ".join(
        f"{r} {v['score']:.3f} (w {v['total_weight'][0]:g}..{v['total_weight'][-1]:g})" for r, v in out["rules"].items()),
        flush=True)
    return out


def table(results: list[dict[str, Any]]) -> str:
    """Medians over seeds per row and rule."""
    lines = ["| row | " + " | ".join(RULES) + " |", "|---|" + "---|" * len(RULES)]
    for name in dict.fromkeys(r["dataset"] for r in results):
        runs = [r for r in results if r["dataset"] == name]
        cells = [f"{statistics.median(run['rules'][rule]['score'] for run in runs):.3f}" for rule in RULES]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    args = W.parser(__doc__.splitlines()[0]).parse_args()
    seen = W.recording()
    print(table(W.run_rows(args, lambda task, seed: row(task, seed, args.overrides, seen))))


if __name__ == "__main__":
    main()
