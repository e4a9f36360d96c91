"""The weight of the Theta method in the forecast (``model.theta_weight``), chosen on validation.

A fit whose ``model.theta_weight`` is None (the default) scores the validated network, the Theta
method (:mod:`lstmcast.scoring.theta`, from the rows before each validation window) and their
mixtures ``(1 - w) * network + w * theta`` for w = 0, 0.1, .., 1 on the validation windows, and
keeps the w with the least error: the mean over windows and targets of the MAE divided by the
mean absolute one-step change of the window's history (MASE with m = 1, so every series counts
alike whatever its units). Ties go to the smaller weight.

The weight is chosen only when the validation windows come from at least
:data:`MIN_THETA_SERIES` series: a single series' one validation horizon is too little to
choose on (measured on seven single series from three origins: worse than the network alone on
five; AirPassengers cut a year early picks w = 0.9-1.0 and its MAPE goes from 2.7 to 9.1;
docs/accuracy.md). Below that the weight is 0 and the reason is kept.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import numpy as np

from lstmcast.config import DataConfig, ForecastConfig, ModelConfig
from lstmcast.fitting.parts import input_length_of
from lstmcast.inference import THETA_WINDOWS, WindowBatch

__all__ = ["MIN_THETA_SERIES", "THETA_WEIGHTS", "choose_theta_weight", "theta_choice", "theta_windows",
           "with_theta_weight"]

THETA_WEIGHTS = tuple(k / 10 for k in range(11))
MIN_THETA_SERIES = 10


def _scale(history: np.ndarray) -> np.ndarray:
    """Mean absolute one-step change of each window's history [N, L, T] -> [N, T] (never 0)."""
    step = np.mean(np.abs(np.diff(history, axis=1)), axis=1) if history.shape[1] > 1 else np.zeros(history.shape[::2])
    level = np.mean(np.abs(history), axis=1)
    return np.where(step > 0, step, np.where(level > 0, level, 1.0))


def choose_theta_weight(mean: np.ndarray, truth: np.ndarray, theta: np.ndarray | None, history: np.ndarray,
                        series: list[str], sync: Callable[[list[float]], list[float]] | None = None) -> dict[str, Any]:
    """The weight and what it was chosen on. mean / truth / theta [N, H, T] and history [N, L, T]
    of the N validation windows, ``series`` their series keys. ``sync`` sums a list of numbers
    over the processes of a training job whose ranks hold different series (so all choose alike)."""
    if theta is None:
        return {"weight": 0.0, "reason": "no validation windows"}
    scale = np.broadcast_to(_scale(history)[:, None, :], mean.shape)  # [N, H, T]
    usable = np.isfinite(theta).all(axis=(1, 2)) & np.isfinite(truth).all(axis=(1, 2))
    sums = [float(np.sum(np.mean(np.abs((1 - w) * mean + w * theta - truth)[usable] / scale[usable], axis=(1, 2))))
            for w in THETA_WEIGHTS]
    totals = [*sums, float(usable.sum()), float(len(set(series)))]
    if sync is not None:
        totals = sync(totals)
    windows, n_series = int(totals[-2]), int(totals[-1])
    if n_series < MIN_THETA_SERIES or not windows:
        return {"weight": 0.0, "series": n_series,
                "reason": f"the validation windows come from {n_series} series; the weight is chosen from "
                          f"{MIN_THETA_SERIES} or more (set model.theta_weight to fix it)"}
    errors = [total / windows for total in totals[: len(THETA_WEIGHTS)]]
    best = int(np.argmin(errors))
    return {"weight": THETA_WEIGHTS[best], "series": n_series, "windows": windows,
            "scaled_mae": {"network": round(errors[0], 6), "theta": round(errors[-1], 6),
                           "combined": round(errors[best], 6)}}


def theta_windows(model: ModelConfig, data: DataConfig, season: int) -> tuple[int, int] | None:
    """(rows, season) for the validation windows' Theta forecasts when the weight is to be chosen."""
    return (THETA_WINDOWS * input_length_of(data), season) if model.theta_weight is None else None


def theta_choice(weight: float | None, season: int, mean: np.ndarray | None, windows: WindowBatch | None,
                 sync: Callable[[list[float]], list[float]] | None = None) -> dict[str, Any]:
    """What the fit records under ``meta["theta"]``: the weight (given, or chosen on ``windows``,
    whose network forecasts are ``mean``) and the season of the Theta part."""
    if weight is not None:
        return {"weight": float(weight), "season": season, "chosen": False}
    if windows is None or mean is None:
        return {"weight": 0.0, "season": season, "reason": "no validation windows"}
    return {**choose_theta_weight(mean, windows.truth, windows.theta, windows.history, windows.series, sync),
            "season": season}


def with_theta_weight(config: ForecastConfig, choice: dict[str, Any]) -> ForecastConfig:
    """``config`` with ``model.theta_weight`` resolved (the chosen weight where it was None)."""
    if config.model.theta_weight is not None:
        return config
    return dataclasses.replace(config, model=dataclasses.replace(config.model, theta_weight=choice["weight"]))
