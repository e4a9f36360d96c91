"""The pieces of one backtest fold: the series cut at an origin, the baselines' forecasts at
it, the metrics of a fold and over folds, and the long tables of forecasts and actuals.

Symbols: S series, n rows of a series, H horizon, T targets.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from lstmcast.config import ForecastConfig
from lstmcast.data.io import infer_frequency, prepare_frame
from lstmcast.data.prepare import SINGLE
from lstmcast.errors import ConfigError
from lstmcast.scoring import metrics as M
from lstmcast.scoring.baselines import drift, naive, seasonal_naive, window_mean
from lstmcast.scoring.seasonality import seasonality_from_freq

MODEL = "lstm"
BACKTEST_BASELINES: tuple[str, ...] = ("naive", "seasonal_naive", "drift", "window_mean")
"""Baselines scored next to the model in every fold."""
FOLD_METRICS: tuple[str, ...] = ("mae", "rmse", "smape")
"""The point metrics (:data:`~lstmcast.scoring.metrics.POINT_METRICS` names) of a fold, before its MASE."""


@dataclass
class FoldSeries:
    """One series of a backtest: its key, tidy rows and target values."""

    key: str
    frame: pd.DataFrame  # tidy rows of this series, indexed by time
    values: np.ndarray  # [n, T] targets in original units


def check_counts(folds: Any, step: Any) -> None:
    for name, value in (("folds", folds), ("step", step)):
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
            raise ConfigError(f"Backtest {name} must be a positive integer; got {value!r}.")


def tidy_series(config: ForecastConfig, frame: pd.DataFrame, source: str) -> list[FoldSeries]:
    d = config.data
    tidy = prepare_frame(frame, list(d.input_columns), time_col=d.time_col, series_col=d.series_col,
                         fill=d.fill, fill_gaps=d.fill_gaps, source=source)
    groups = [(SINGLE, tidy)] if d.series_col is None else list(tidy.groupby(d.series_col, sort=False, observed=True))
    return [FoldSeries(str(key), group, group[list(d.targets)].to_numpy(np.float64)) for key, group in groups]


def first_rows(series: Sequence[FoldSeries], stops: dict[str, int]) -> pd.DataFrame:
    """The first ``stops[key]`` rows of every series, as one frame the Forecaster accepts."""
    parts = [s.frame.iloc[: stops[s.key]] for s in series]
    return parts[0] if len(parts) == 1 else pd.concat(parts)


def backtest_season(series: Sequence[FoldSeries], season: int | None) -> int:
    if season is not None:
        if isinstance(season, bool) or not isinstance(season, int | np.integer) or season < 1:
            raise ConfigError(f"season must be a positive integer (1 for none); got {season!r}.")
        return int(season)
    try:
        return int(seasonality_from_freq(infer_frequency(series[0].frame.index)))
    except (TypeError, ValueError):
        return 1


def series_mase(truth: np.ndarray, pred: np.ndarray, insample: np.ndarray, season: int) -> float:
    """MASE of one (series, target): truth/pred [H], insample [n]; NaN when the scale is 0."""
    m = season if len(insample) > 2 * season else 1
    try:
        return M.mase(truth, pred, insample, season=m)
    except ValueError:
        return math.nan


def score_fold(truth: np.ndarray, pred: np.ndarray, insample: list[np.ndarray], season: int) -> dict[str, float]:
    """truth/pred [S, H, T] of one fold (S series), insample S x [n_s, T] -> metrics."""
    return scores_of(truth, pred, fold_mases(truth, pred, insample, season))


def fold_mases(truth: np.ndarray, pred: np.ndarray, insample: list[np.ndarray], season: int) -> list[float]:
    """The MASE of every (series, target) of one fold, series-major: what a process holding
    only some series' histories sends for :func:`scores_of` over every series."""
    return [series_mase(truth[i, :, t], pred[i, :, t], insample[i][:, t], season)
            for i in range(truth.shape[0]) for t in range(truth.shape[2])]


def scores_of(truth: np.ndarray, pred: np.ndarray, mases: list[float]) -> dict[str, float]:
    """The metrics of one fold from truth/pred [S, H, T] and the S x T MASEs of :func:`fold_mases`."""
    return {**M.score_point(truth, pred, FOLD_METRICS), "mase": float(np.mean(mases))}


def fold_baselines(history: np.ndarray, horizon: int, season: int, input_length: int) -> dict[str, np.ndarray]:
    """history [n, T] of one series up to its origin -> name: forecast [H, T]."""
    x = history[None]  # [1, n, T]
    seasonal = seasonal_naive(x, horizon, season) if len(history) >= season else naive(x, horizon)
    return {
        "naive": naive(x, horizon)[0],
        "seasonal_naive": seasonal[0],
        "drift": drift(x, horizon)[0] if len(history) >= 2 else naive(x, horizon)[0],
        "window_mean": window_mean(x[:, -input_length:], horizon)[0],
    }


def by_series(forecast: pd.DataFrame, keys: list[str], horizon: int, n_targets: int, many: bool) -> np.ndarray:
    """The ``mean`` column of a forecast frame as [S, H, T] in the order of ``keys``."""
    if not many:
        return forecast["mean"].to_numpy(np.float64).reshape(1, horizon, n_targets)
    groups = {str(k): g for k, g in forecast.groupby("series", sort=False)}
    return np.stack([groups[k]["mean"].to_numpy(np.float64).reshape(horizon, n_targets) for k in keys])


def overall_scores(scores: list[dict[str, float]]) -> dict[str, float]:
    """Over folds of equal size: MAE, sMAPE, MASE are means of the fold values; RMSE pools the
    squared errors (root of the mean fold MSE)."""
    return {
        "mae": float(np.mean([s["mae"] for s in scores])),
        "rmse": float(np.sqrt(np.mean([s["rmse"] ** 2 for s in scores]))),
        "smape": float(np.mean([s["smape"] for s in scores])),
        "mase": float(np.nanmean([s["mase"] for s in scores])) if any(
            math.isfinite(s["mase"]) for s in scores) else math.nan,
    }


def forecast_rows(fold: int, series: Sequence[FoldSeries], stops: dict[str, int], horizon: int,
                   targets: list[str], preds: dict[str, np.ndarray], truth: np.ndarray,
                   series_col: str | None) -> pd.DataFrame:
    """Long table of one fold: rows (series, time, target), columns mean, baselines, actual."""
    parts = []
    for i, s in enumerate(series):
        o = stops[s.key]
        times = s.frame.index[o : o + horizon]
        for t, target in enumerate(targets):
            part = {"fold": fold, "origin": s.frame.index[o], "time": times, "step": np.arange(1, horizon + 1),
                    "target": target}
            if series_col is not None:
                part = {"series": s.key, **part}
            part["mean"] = preds[MODEL][i, :, t]
            for name in BACKTEST_BASELINES:
                part[name] = preds[name][i, :, t]
            part["actual"] = truth[i, :, t]
            parts.append(pd.DataFrame(part))
    return pd.concat(parts, ignore_index=True)


def actual_rows(series: Sequence[FoldSeries], starts: dict[str, int], targets: list[str],
                 series_col: str | None) -> pd.DataFrame:
    parts = []
    for s in series:
        times = s.frame.index[starts[s.key]:]
        for t, target in enumerate(targets):
            part: dict[str, Any] = {"time": times, "target": target, "actual": s.values[starts[s.key]:, t]}
            if series_col is not None:
                part = {"series": s.key, **part}
            parts.append(pd.DataFrame(part))
    return pd.concat(parts, ignore_index=True)
