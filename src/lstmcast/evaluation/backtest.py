"""Rolling-origin backtest: K forecast origins at the end of each series, S steps apart.

    result = backtest(config, frame, folds=3, step=24, refit=True)
    result.overall["lstm"]          # {"mae", "rmse", "smape", "mase"} over all folds
    result.fold_metrics("naive")    # DataFrame [K, 4]: one row per fold
    plot_backtest(result, "backtest.png")

Fold k (k = 0..K-1) has the forecast origin ``o_k = n - H - (K-1-k) * S`` in each series of
``n`` rows (origins aligned on the end of each series): the model may only learn from rows
``[0, o_k)`` and forecasts rows ``[o_k, o_k + H)``.

* ``refit=True``: a fresh model per fold, trained (and its scaler fitted) on rows ``[0, o_k)``
  only, split into train / validation by ``data.val_fraction`` (``data.test_fraction`` is
  ignored: the fold's H steps are its test).
* ``refit=False``: one model trained on rows ``[0, o_0)`` (before the first origin) and reused;
  later folds feed it the newer rows as *input* only.

The model and every baseline (naive, seasonal naive, drift, window mean) forecast the same
origins; metrics (MAE, RMSE, sMAPE, MASE) are in original units, averaged over series, steps
and targets, per fold and over all folds. MASE scales each (series, target) by the in-sample
MAE of the seasonal naive forecast on that fold's history ``[0, o_k)`` (naive when the history
is shorter than two seasons). The baselines see the history up to the origin: naive and
seasonal naive its last values, drift the line through its first and last value, window mean
the mean of the model's input window (the last ``input_length`` rows).
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from lstmcast.config import ForecastConfig
from lstmcast.data.io import infer_frequency, prepare_frame
from lstmcast.data.splits import minimum_length
from lstmcast.errors import ConfigError, DataError
from lstmcast.evaluation.baselines import (
    drift,
    naive,
    seasonal_naive,
    seasonality_from_freq,
    window_mean,
)
from lstmcast.scoring import metrics as M

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from lstmcast.training.loop import Callback

__all__ = ["BACKTEST_BASELINES", "BacktestResult", "backtest", "fold_origins", "plot_backtest", "write_backtest"]

BACKTEST_BASELINES: tuple[str, ...] = ("naive", "seasonal_naive", "drift", "window_mean")
"""Baselines scored next to the model in every fold."""

METRICS: tuple[str, ...] = ("mae", "rmse", "smape", "mase")
MODEL = "lstm"
_SINGLE = "__single__"


@dataclass
class BacktestResult:
    """What :func:`backtest` measured.

    ``folds``: one row per (fold, method) with columns fold, origin, trained_through,
    method, mae, rmse, smape, mase (K x (1 + 4) rows). ``overall``: method -> metrics over
    all folds. ``forecasts``: one row per (fold, series, time, target) with the model's
    ``mean``, each baseline and the ``actual`` value. ``actuals``: the truth from 4 H rows
    before the first origin to the end, one row per (series, time, target), for plots.
    ``training``: one record per model fit (rows used, the last time stamp it saw, epochs,
    seconds).
    """

    folds: pd.DataFrame
    overall: dict[str, dict[str, float]]
    forecasts: pd.DataFrame
    actuals: pd.DataFrame
    training: list[dict[str, Any]]
    settings: dict[str, Any] = field(default_factory=dict)

    def fold_metrics(self, method: str = MODEL) -> pd.DataFrame:
        """Metrics of one method, one row per fold: DataFrame [K, 4] indexed by fold."""
        methods = self.folds["method"].unique().tolist()
        if method not in methods:
            raise ValueError(f"Unknown method {method!r}; this backtest scored {', '.join(methods)}.")
        rows = self.folds[self.folds["method"] == method]
        return rows.set_index("fold")[list(METRICS)]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary: settings, the model's and each baseline's overall metrics,
        per-fold metrics and the training records."""
        per_fold = []
        for fold, rows in self.folds.groupby("fold", sort=True):
            first = rows.iloc[0]
            entry: dict[str, Any] = {"fold": int(fold), "origin": str(first["origin"]),
                                     "trained_through": str(first["trained_through"])}
            for _, row in rows.iterrows():
                entry[row["method"]] = {m: float(row[m]) for m in METRICS}
            per_fold.append(entry)
        return {
            **self.settings,
            "metrics": self.overall[MODEL],
            "baselines": {k: v for k, v in self.overall.items() if k != MODEL},
            "per_fold": per_fold,
            "training": self.training,
        }


@dataclass
class _Series:
    key: str
    frame: pd.DataFrame  # tidy rows of this series, indexed by time
    values: np.ndarray  # [n, T] targets in original units


def fold_origins(n_rows: int, folds: int, step: int, horizon: int) -> list[int]:
    """Row positions of the K forecast origins of a series of ``n_rows`` rows: ``o_k = n - H -
    (K - 1 - k) * S`` for k = 0..K-1 (the first forecast row of each fold), earliest first."""
    return [n_rows - horizon - (folds - 1 - k) * step for k in range(folds)]


def _check_counts(folds: Any, step: Any) -> None:
    for name, value in (("folds", folds), ("step", step)):
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
            raise ConfigError(f"Backtest {name} must be a positive integer; got {value!r}.")


def _tidy_series(config: ForecastConfig, frame: pd.DataFrame, source: str) -> list[_Series]:
    d = config.data
    tidy = prepare_frame(frame, list(d.input_columns), time_col=d.time_col, series_col=d.series_col,
                         fill=d.fill, fill_gaps=d.fill_gaps, source=source)
    groups = [(_SINGLE, tidy)] if d.series_col is None else list(tidy.groupby(d.series_col, sort=False, observed=True))
    return [_Series(str(key), group, group[list(d.targets)].to_numpy(np.float64)) for key, group in groups]


def _rows(series: Sequence[_Series], stops: dict[str, int]) -> pd.DataFrame:
    """The first ``stops[key]`` rows of every series, as one frame the Forecaster accepts."""
    parts = [s.frame.iloc[: stops[s.key]] for s in series]
    return parts[0] if len(parts) == 1 else pd.concat(parts)


def _season(series: Sequence[_Series], season: int | None) -> int:
    if season is not None:
        if isinstance(season, bool) or not isinstance(season, int | np.integer) or season < 1:
            raise ConfigError(f"season must be a positive integer (1 for none); got {season!r}.")
        return int(season)
    try:
        return int(seasonality_from_freq(infer_frequency(series[0].frame.index)))
    except (TypeError, ValueError):
        return 1


def _mase(truth: np.ndarray, pred: np.ndarray, insample: np.ndarray, season: int) -> float:
    """MASE of one (series, target): truth/pred [H], insample [n]; NaN when the scale is 0."""
    m = season if len(insample) > 2 * season else 1
    try:
        return M.mase(truth, pred, insample, season=m)
    except ValueError:
        return math.nan


def _score(truth: np.ndarray, pred: np.ndarray, insample: list[np.ndarray], season: int) -> dict[str, float]:
    """truth/pred [S, H, T] of one fold (S series), insample S x [n_s, T] -> metrics."""
    mases = [_mase(truth[i, :, t], pred[i, :, t], insample[i][:, t], season)
             for i in range(truth.shape[0]) for t in range(truth.shape[2])]
    return {"mae": M.mae(truth, pred), "rmse": M.rmse(truth, pred), "smape": M.smape(truth, pred),
            "mase": float(np.mean(mases))}


def _baselines(history: np.ndarray, horizon: int, season: int, input_length: int) -> dict[str, np.ndarray]:
    """history [n, T] of one series up to its origin -> name: forecast [H, T]."""
    x = history[None]  # [1, n, T]
    seasonal = seasonal_naive(x, horizon, season) if len(history) >= season else naive(x, horizon)
    return {
        "naive": naive(x, horizon)[0],
        "seasonal_naive": seasonal[0],
        "drift": drift(x, horizon)[0] if len(history) >= 2 else naive(x, horizon)[0],
        "window_mean": window_mean(x[:, -input_length:], horizon)[0],
    }


def backtest(
    config: ForecastConfig,
    frame: pd.DataFrame,
    folds: int = 3,
    step: int | None = None,
    refit: bool = True,
    *,
    season: int | None = None,
    callbacks: Sequence[Callback] = (),
    source: str = "the data",
) -> BacktestResult:
    """Rolling-origin evaluation of the model ``config`` describes on ``frame``.

    Inputs:
        config: the forecaster's configuration (targets inferred when there is one numeric
            column, as in :meth:`Forecaster.fit`).
        frame: time-ordered data, one series or many (``data.series_col``), n rows per series.
        folds: K >= 1 forecast origins; step: S >= 1 rows between origins (default H).
        refit: a fresh model and scaler per fold (True) or one model trained before the
            first origin (False).
        season: seasonal period for seasonal naive and MASE (default from the frequency).
    Returns:
        :class:`BacktestResult`; forecasts of every fold are [S_series, H, T] in original units.
    Raises:
        DataError: if a series is too short for K folds S steps apart plus a training part.
    """
    from lstmcast.data.io import as_pandas
    from lstmcast.data.prepare import resolve_columns
    from lstmcast.defaults import resolve
    from lstmcast.fitting.parts import MIN_INPUT
    from lstmcast.forecaster import Forecaster

    step_given = step
    frame = as_pandas(frame, source)
    # one numeric column -> it is the target, unique_id/ds/y recognised, as in fit()
    config = dataclasses.replace(config, data=resolve_columns(frame, config.data))
    d = config.data
    H = d.horizon
    step = H if step is None else step
    _check_counts(folds, step)
    series = _tidy_series(config, frame, source)
    season = _season(series, season)
    L = resolve(config, infer_frequency(series[0].frame.index),
                [len(s.frame) - H - (folds - 1) * step for s in series]).data.input_length
    # the fold's H steps are its test part: train on [0, o_k) (train / validation only)
    fold_config = dataclasses.replace(config, data=dataclasses.replace(d, test_fraction=0.0))
    need = minimum_length(L, H, d.val_fraction, 0.0) if d.val_fraction > 0 else H + MIN_INPUT
    origins: dict[str, list[int]] = {}
    for s in series:
        origins[s.key] = fold_origins(len(s.frame), folds, step, H)
        if origins[s.key][0] < need:
            what = "The data" if s.key == _SINGLE else f"Series {s.key!r}"
            most = max((len(s.frame) - H - need) // step + 1, 0)
            raise DataError(
                f"{what} has {len(s.frame)} rows: {folds} folds {step} steps apart with horizon {H} "
                f"put the first origin at row {origins[s.key][0]}, but training before it needs at "
                f"least {need} rows (input_length={L}, horizon={H}, val_fraction={d.val_fraction}). "
                f"Use at most {most} folds, a smaller --step, or a shorter input_length."
            )

    started = time.perf_counter()
    rows: list[dict[str, Any]] = []
    frames: list[pd.DataFrame] = []
    training: list[dict[str, Any]] = []
    fold_scores: dict[str, list[dict[str, float]]] = {}
    forecaster = None
    for k in range(folds):
        stops = {s.key: origins[s.key][k] for s in series}
        if refit or forecaster is None:
            train_frame = _rows(series, stops)
            forecaster = Forecaster(fold_config).fit(train_frame, callbacks=callbacks, source=source)
            history = forecaster.history_
            training.append({
                "folds": list(range(k, k + 1 if refit else folds)),
                "rows": {s.key: stops[s.key] for s in series} if d.series_col else stops[_SINGLE],
                "trained_through": {s.key: s.frame.index[stops[s.key] - 1] for s in series}
                if d.series_col else series[0].frame.index[stops[_SINGLE] - 1],
                "epochs": len(history.history), "best_epoch": history.best_epoch,
                "stop_reason": history.stop_reason, "seconds": round(history.seconds, 3),
            })
            fitted_through = {s.key: s.frame.index[stops[s.key] - 1] for s in series}
        # one forecast per series from its rows [0, o_k), scored on [o_k, o_k + H)
        fc = forecaster.predict(_rows(series, stops), source=source).to_frame()
        mean = _by_series(fc, [s.key for s in series], H, len(d.targets), d.series_col is not None)  # [S, H, T]
        truth = np.stack([s.values[stops[s.key] : stops[s.key] + H] for s in series])
        histories = [s.values[: stops[s.key]] for s in series]
        preds = {MODEL: mean}
        base = [_baselines(h, H, season, L) for h in histories]
        for name in BACKTEST_BASELINES:
            preds[name] = np.stack([b[name] for b in base])
        origin = series[0].frame.index[stops[series[0].key]]
        through = fitted_through[series[0].key]
        for method, pred in preds.items():
            scores = _score(truth, pred, histories, season)
            fold_scores.setdefault(method, []).append(scores)
            rows.append({"fold": k, "origin": origin, "trained_through": through, "method": method, **scores})
        frames.append(_forecast_rows(k, series, stops, H, list(d.targets), preds, truth, d.series_col))

    overall = {method: _overall(scores) for method, scores in fold_scores.items()}
    settings = {
        "folds": folds, "step": step, "step_default": step_given is None, "refit": refit, "horizon": H,
        "input_length": L, "season": season, "targets": list(d.targets), "n_series": len(series),
        "seconds": round(time.perf_counter() - started, 3),
    }
    actuals = _actual_rows(series, {s.key: max(origins[s.key][0] - 4 * H, 0) for s in series},
                           list(d.targets), d.series_col)
    return BacktestResult(pd.DataFrame(rows), overall, pd.concat(frames, ignore_index=True), actuals,
                          training, settings)


def _by_series(forecast: pd.DataFrame, keys: list[str], horizon: int, n_targets: int, many: bool) -> np.ndarray:
    """The ``mean`` column of a forecast frame as [S, H, T] in the order of ``keys``."""
    if not many:
        return forecast["mean"].to_numpy(np.float64).reshape(1, horizon, n_targets)
    groups = {str(k): g for k, g in forecast.groupby("series", sort=False)}
    return np.stack([groups[k]["mean"].to_numpy(np.float64).reshape(horizon, n_targets) for k in keys])


def _overall(scores: list[dict[str, float]]) -> dict[str, float]:
    """Over folds of equal size: MAE, sMAPE, MASE are means of the fold values; RMSE pools the
    squared errors (root of the mean fold MSE)."""
    return {
        "mae": float(np.mean([s["mae"] for s in scores])),
        "rmse": float(np.sqrt(np.mean([s["rmse"] ** 2 for s in scores]))),
        "smape": float(np.mean([s["smape"] for s in scores])),
        "mase": float(np.nanmean([s["mase"] for s in scores])) if any(
            math.isfinite(s["mase"]) for s in scores) else math.nan,
    }


def _forecast_rows(fold: int, series: Sequence[_Series], stops: dict[str, int], horizon: int,
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


def _actual_rows(series: Sequence[_Series], starts: dict[str, int], targets: list[str],
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


def plot_backtest(result: BacktestResult, path: str | Path | None = None, *, series: str | None = None,
                  target: str | None = None, context: int | None = None, ax: Axes | None = None) -> Axes:
    """Truth with each fold's H-step forecast over it and the origins marked; drawn by
    :func:`lstmcast.plotting.plot_backtest`."""
    from lstmcast.plotting import plot_backtest as draw

    return draw(result, path, series=series, target=target, context=context, ax=ax)


def write_backtest(result: BacktestResult, out: str | Path) -> dict[str, str]:
    """Write ``backtest.png``, ``folds.csv``, ``forecasts.csv`` and ``backtest.json`` into ``out``;
    returns name -> path."""
    import json

    from lstmcast._json import jsonable

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"plot": out / "backtest.png", "folds": out / "folds.csv", "forecasts": out / "forecasts.csv",
             "summary": out / "backtest.json"}
    plot_backtest(result, paths["plot"])
    result.folds.to_csv(paths["folds"], index=False)
    result.forecasts.to_csv(paths["forecasts"], index=False)
    paths["summary"].write_text(json.dumps(jsonable(result.to_dict()), indent=2), encoding="utf-8")
    return {name: str(path) for name, path in paths.items()}
