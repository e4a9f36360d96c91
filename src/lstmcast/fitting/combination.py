"""The weights of the statistical part of the forecast (``model.theta_weight``,
``model.ets_weight``), chosen on validation.

A fit that leaves a weight None scores the validated network, the Theta method
(:mod:`lstmcast.scoring.theta`) and exponential smoothing (:mod:`lstmcast.scoring.ets`), each
from the rows before each validation window, and mixtures ``(1 - a - b) * network + a * theta +
b * ets`` on the validation windows, and keeps the one with the least error: the mean over
windows and targets of the MAE divided by the mean absolute one-step change of the window's
history (MASE with m = 1, so every series counts alike whatever its units). Ties go to the
smaller total weight. Which mixtures (:func:`candidates`):

- both None (the default): the mean of Theta and ETS, ``a = b = w / 2``, its weight ``w`` on
  ``0, 0.1, .., 1`` (the equal weights the M4 benchmarks combine methods with); where that weight
  is 0, Theta alone, ``(a, 0)``, on the same grid (:func:`candidates`, :func:`pick`). Where
  ETS is poor (M4 Hourly) the mean's weight is 0 and Theta alone still gets its share. Choosing
  ``a`` and ``b`` apart (every pair of the grid) or freely among both families let the one
  validation horizon per series pick Theta alone where the mean was better (docs/forecasting.md);
- one None: that weight on ``0, 0.1, ..`` up to ``1 -`` the other, which stays as given.

The weights are chosen only when the validation windows come from at least
:data:`MIN_THETA_SERIES` series: a single series' one validation horizon is too little to
choose on (measured on seven single series from three origins: worse than the network alone on
five; AirPassengers cut a year early picks w = 0.9-1.0 and its MAPE goes from 2.7 to 9.1;
docs/accuracy.md). Below that the weights are 0 and the reason is kept.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import numpy as np

from lstmcast.config import DataConfig, ForecastConfig, ModelConfig
from lstmcast.fitting.parts import input_length_of
from lstmcast.inference import WindowBatch
from lstmcast.scoring.statistical import HISTORY_WINDOWS, StatisticalPart

__all__ = ["MIN_THETA_SERIES", "THETA_WEIGHTS", "candidates", "choose_weights", "history_scale", "pick",
           "statistical_choice", "statistical_windows", "with_statistical_weights"]

THETA_WEIGHTS = tuple(k / 10 for k in range(11))
MIN_THETA_SERIES = 10


def history_scale(history: np.ndarray) -> np.ndarray:
    """Mean absolute one-step change of each window's history [N, L, T] -> [N, T] (never 0)."""
    step = np.mean(np.abs(np.diff(history, axis=1)), axis=1) if history.shape[1] > 1 else np.zeros(history.shape[::2])
    level = np.mean(np.abs(history), axis=1)
    return np.where(step > 0, step, np.where(level > 0, level, 1.0))


def _by_total(pairs: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """``pairs`` the smaller total weight first (then the smaller ETS weight): ties go to it."""
    return sorted(pairs, key=lambda p: (round(p[0] + p[1], 6), p[1]))


def candidates(theta: float | None, ets: float | None) -> list[list[tuple[float, float]]]:
    """The families of (theta, ets) weights to score, in order (see :func:`pick`), each the
    smaller total weight first: with both weights open the mean of the two, then Theta alone."""
    if theta is None and ets is None:
        return [[(w / 2, w / 2) for w in THETA_WEIGHTS], *candidates(None, 0.0)]
    a_grid = THETA_WEIGHTS if theta is None else (float(theta),)
    b_grid = THETA_WEIGHTS if ets is None else (float(ets),)
    return [_by_total([(a, b) for a in a_grid for b in b_grid if a + b <= 1.0 + 1e-9])]


def pick(families: list[list[tuple[float, float]]], error: Callable[[tuple[float, float]], float]) -> tuple[float, float]:
    """The pair of least ``error`` in the first family (the first of equals: the smaller total),
    unless that is (0, 0): then the next family's, and so on."""
    for family in families:
        best = min(family, key=error)
        if best != (0.0, 0.0):
            return best
    return 0.0, 0.0


def choose_weights(mean: np.ndarray, truth: np.ndarray, stat: dict[str, np.ndarray] | None, history: np.ndarray,
                   series: list[str], sync: Callable[[list[float]], list[float]] | None = None, *,
                   theta: float | None = None, ets: float | None = None,
                   pairs: list[tuple[float, float]] | None = None) -> dict[str, Any]:
    """The weights and what they were chosen on. mean / truth / each of ``stat`` [N, H, T] and
    history [N, L, T] of the N validation windows, ``series`` their series keys; ``theta`` /
    ``ets``: a weight fixed by the config; ``pairs``: the candidates instead of
    :func:`candidates`' (the least error among them). ``sync`` sums a list of numbers over the processes
    of a training job whose ranks hold different series (so all choose alike)."""
    fixed = {"weight": float(theta or 0.0), "ets_weight": float(ets or 0.0)}
    if stat is None:
        return {**fixed, "reason": "no validation windows"}
    parts: dict[str, np.ndarray] = {m: stat[m] for m in ("theta", "ets") if m in stat}  # the methods computed (a weight to choose or not 0)
    scale = np.broadcast_to(history_scale(history)[:, None, :], mean.shape)  # [N, H, T]
    usable = np.isfinite(truth).all(axis=(1, 2))
    for forecast in parts.values():
        usable &= np.isfinite(forecast).all(axis=(1, 2))
    families = candidates(theta, ets) if pairs is None else [_by_total(pairs)]
    scored = list(dict.fromkeys(p for family in families for p in family))

    def total(forecast: np.ndarray) -> float:
        return float(np.sum(np.mean(np.abs(forecast - truth)[usable] / scale[usable], axis=(1, 2))))

    def mixed(a: float, b: float) -> np.ndarray:
        out: np.ndarray = (1 - a - b) * mean
        for weight, m in ((a, "theta"), (b, "ets")):
            if weight:
                out = out + weight * parts[m]
        return out

    sums = [total(mixed(a, b)) for a, b in scored] + [total(f) for f in (mean, *parts.values())]
    totals = [*sums, float(usable.sum()), float(len(set(series)))]
    if sync is not None:
        totals = sync(totals)
    windows, n_series = int(totals[-2]), int(totals[-1])
    if n_series < MIN_THETA_SERIES or not windows:
        return {**fixed, "series": n_series,
                "reason": f"the validation windows come from {n_series} series; the weights are chosen from "
                          f"{MIN_THETA_SERIES} or more (set model.theta_weight and model.ets_weight to fix them)"}
    errors = {p: t / windows for p, t in zip(scored, totals[: len(scored)], strict=True)}
    best = pick(families, errors.__getitem__)
    alone = dict(zip(("network", *parts), [t / windows for t in totals[len(scored) : len(scored) + 1 + len(parts)]], strict=True))
    return {"weight": best[0], "ets_weight": best[1], "series": n_series, "windows": windows,
            "scaled_mae": {**{k: round(v, 6) for k, v in alone.items()}, "combined": round(errors[best], 6)}}


def statistical_windows(model: ModelConfig, data: DataConfig, season: int) -> StatisticalPart | None:
    """What the validation windows' statistical forecasts need when a weight is to be chosen."""
    if model.theta_weight is not None and model.ets_weight is not None:
        return None
    given = {"theta": model.theta_weight, "ets": model.ets_weight}
    compute = frozenset(m for m, w in given.items() if w is None or w)  # a weight to choose, or one that counts
    return StatisticalPart({m: w or 0.0 for m, w in given.items()}, season, HISTORY_WINDOWS * input_length_of(data),
                           compute=compute)


def statistical_choice(model: ModelConfig, season: int, mean: np.ndarray | None, windows: WindowBatch | None,
                       sync: Callable[[list[float]], list[float]] | None = None) -> dict[str, Any]:
    """What the fit records under ``meta["theta"]``: the weights (given, or chosen on ``windows``,
    whose network forecasts are ``mean``) and the season of the statistical part."""
    theta, ets = model.theta_weight, model.ets_weight
    if theta is not None and ets is not None:
        return {"weight": float(theta), "ets_weight": float(ets), "season": season, "chosen": False}
    if windows is None or mean is None:
        return {"weight": float(theta or 0.0), "ets_weight": float(ets or 0.0), "season": season,
                "reason": "no validation windows"}
    return {**choose_weights(mean, windows.truth, windows.stat, windows.history, windows.series, sync,
                             theta=theta, ets=ets), "season": season}


def with_statistical_weights(config: ForecastConfig, choice: dict[str, Any]) -> ForecastConfig:
    """``config`` with ``model.theta_weight`` and ``model.ets_weight`` resolved (the chosen
    weights where they were None)."""
    m = config.model
    theta = m.theta_weight if m.theta_weight is not None else choice["weight"]
    ets = m.ets_weight if m.ets_weight is not None else choice.get("ets_weight", 0.0)
    return dataclasses.replace(config, model=dataclasses.replace(m, theta_weight=theta, ets_weight=ets))
