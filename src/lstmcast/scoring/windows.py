"""Scoring a model's window forecasts next to the baselines, in original units (what ``fit``
reports on its validation windows and ``evaluate`` on held-out ones)."""

from __future__ import annotations

from typing import Any

import numpy as np

from lstmcast.scoring import metrics as M
from lstmcast.scoring.baselines import forecast_baseline

__all__ = ["WINDOW_METRICS", "score_windows"]

WINDOW_METRICS = ("rmse", "mae", "smape")
"""The point metrics (:data:`~lstmcast.scoring.metrics.POINT_METRICS` names) of the model and of each baseline."""


def _point(truth: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    return M.score_point(truth, pred, WINDOW_METRICS)


def score_windows(
    windows: Any,
    mean: np.ndarray,
    quantiles: np.ndarray | None,
    levels: tuple[float, ...],
    season: int,
    targets: list[str],
) -> dict[str, Any]:
    """Metrics of ``mean`` [N, H, T] (and ``quantiles`` [N, H, T, Q]) against ``windows.truth``,
    averaged over windows, steps and targets; baselines on the same windows."""
    truth, history = windows.truth, windows.history
    horizon = truth.shape[1]
    out: dict[str, Any] = {
        "n_windows": len(truth),
        "horizon": int(horizon),
        "season": int(season),
    }
    out["metrics"] = _point(truth, mean)
    if len(targets) > 1:
        out["per_target"] = {t: _point(truth[..., i], mean[..., i]) for i, t in enumerate(targets)}
    if quantiles is not None and levels:
        probabilistic = {
            "pinball": M.pinball_loss(truth, quantiles, levels),
            "crps": M.crps_quantiles(truth, quantiles, levels),
        }
        lo, hi = levels[0], levels[-1]
        probabilistic[f"coverage_{lo:g}_{hi:g}"] = M.interval_coverage(
            truth, quantiles[..., 0], quantiles[..., -1]
        )
        probabilistic["nominal_coverage"] = round(hi - lo, 6)
        out["probabilistic"] = probabilistic
    baselines = {"naive": forecast_baseline("naive", history, horizon, season)}
    if season > 1 and history.shape[1] >= season:
        baselines["seasonal_naive"] = forecast_baseline("seasonal_naive", history, horizon, season)
    elif season > 1:  # never dropped silently
        out["baselines_missing"] = {"seasonal_naive": f"the windows hold {history.shape[1]} past rows, fewer than "
                                                      f"one season ({season}); use a longer data.input_length"}
    else:
        out["baselines_missing"] = {"seasonal_naive": "no seasonal period is known for these data (season 1); "
                                                      "give --season M"}
    out["baselines"] = {name: _point(truth, pred) for name, pred in baselines.items()}
    return out
