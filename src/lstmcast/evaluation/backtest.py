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
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
import pandas as pd

from lstmcast.config import ForecastConfig
from lstmcast.data.io import as_pandas, infer_frequency
from lstmcast.data.prepare import SINGLE, resolve_columns
from lstmcast.data.splits import minimum_length
from lstmcast.defaults import resolve
from lstmcast.errors import ConfigError, DataError
from lstmcast.evaluation.folds import (
    BACKTEST_BASELINES,
    MODEL,
    FoldSeries,
    actual_rows,
    backtest_season,
    by_series,
    check_counts,
    first_rows,
    fold_baselines,
    fold_mases,
    forecast_rows,
    overall_scores,
    scores_of,
    tidy_series,
)
from lstmcast.fitting.parts import MIN_INPUT
from lstmcast.forecaster import Forecaster

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from lstmcast.training.distributed import DistributedContext
    from lstmcast.training.loop import Callback

__all__ = ["BACKTEST_BASELINES", "BacktestResult", "backtest", "fold_origins", "plot_backtest", "write_backtest"]

METRICS: tuple[str, ...] = ("mae", "rmse", "smape", "mase")
_T = TypeVar("_T")


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


def fold_origins(n_rows: int, folds: int, step: int, horizon: int) -> list[int]:
    """Row positions of the K forecast origins of a series of ``n_rows`` rows: ``o_k = n - H -
    (K - 1 - k) * S`` for k = 0..K-1 (the first forecast row of each fold), earliest first."""
    return [n_rows - horizon - (folds - 1 - k) * step for k in range(folds)]


@dataclass
class _Plan:
    """What every fold of one backtest shares."""

    config: ForecastConfig  # targets resolved; the folds train with test_fraction 0
    series: list[FoldSeries]
    origins: dict[str, list[int]]  # series -> the K origin rows, earliest first
    horizon: int
    step: int
    season: int
    input_length: int


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
    distributed: DistributedContext | None = None,
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
        distributed: one process of a job on series-sharded data (``frame`` holds this process's
            series; ``distributed.sharded`` set). Every process calls it: each fold's model is trained
            data-parallel (DDP), each process forecasts its own series, the result covers them all.
    Returns:
        :class:`BacktestResult`; forecasts of every fold are [S_series, H, T] in original units.
    Raises:
        DataError: if a series is too short for K folds S steps apart plus a training part.
    """
    plan = _plan(config, as_pandas(frame, source), folds, step, season, source, distributed)
    d, H, series = plan.config.data, plan.horizon, plan.series
    started = time.perf_counter()
    rows: list[dict[str, Any]] = []
    frames: list[pd.DataFrame] = []
    training: list[dict[str, Any]] = []
    fold_scores: dict[str, list[dict[str, float]]] = {}
    forecaster: Forecaster | None = None
    through: Any = None
    for k in range(folds):
        stops = {s.key: plan.origins[s.key][k] for s in series}
        if refit or forecaster is None:
            forecaster, record = _fit_fold(plan, stops, k, folds if not refit else k + 1, callbacks, source,
                                           distributed)
            training.append(record)
            through = series[0].frame.index[stops[series[0].key] - 1]
        preds, truth = _forecast_fold(plan, forecaster, stops, source)
        origin = series[0].frame.index[stops[series[0].key]]
        frames.append(forecast_rows(k, series, stops, H, list(d.targets), preds, truth, d.series_col))
        for method, scores in _score_fold(plan, stops, preds, truth, distributed).items():
            fold_scores.setdefault(method, []).append(scores)
            rows.append({"fold": k, "origin": origin, "trained_through": through, "method": method, **scores})
    overall = {method: overall_scores(scores) for method, scores in fold_scores.items()}
    settings: dict[str, Any] = {
        "folds": folds, "step": plan.step, "step_default": step is None, "refit": refit, "horizon": H,
        "input_length": plan.input_length, "season": plan.season, "targets": list(d.targets),
        "n_series": len(series), "seconds": round(time.perf_counter() - started, 3),
    }
    forecasts, actuals = _tables(plan, frames, settings, distributed)
    return BacktestResult(pd.DataFrame(rows), overall, forecasts, actuals, training, settings)


def _score_fold(plan: _Plan, stops: dict[str, int], preds: dict[str, np.ndarray], truth: np.ndarray,
                distributed: DistributedContext | None) -> dict[str, dict[str, float]]:
    """method -> the metrics of one fold over every series (every process's, with ``distributed``)."""
    histories = [s.values[: stops[s.key]] for s in plan.series]
    mases = {method: fold_mases(truth, pred, histories, plan.season) for method, pred in preds.items()}
    if distributed is not None:
        preds, truth, mases = _gather_fold(distributed, preds, truth, mases)
    return {method: scores_of(truth, pred, mases[method]) for method, pred in preds.items()}


def _tables(plan: _Plan, frames: list[pd.DataFrame], settings: dict[str, Any],
            distributed: DistributedContext | None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The forecast rows of every fold and the actuals (from 4 H rows before the first origin)."""
    d, series = plan.config.data, plan.series
    forecasts = pd.concat(frames, ignore_index=True)
    actuals = actual_rows(series, {s.key: max(plan.origins[s.key][0] - 4 * plan.horizon, 0) for s in series},
                          list(d.targets), d.series_col)
    if distributed is None:
        return forecasts, actuals
    return _gather_tables(distributed, forecasts, actuals, settings)


def _gather_fold(ctx: DistributedContext, preds: dict[str, np.ndarray], truth: np.ndarray,
                 mases: dict[str, list[float]]) -> tuple[dict[str, np.ndarray], np.ndarray, dict[str, list[float]]]:
    """One fold's forecasts [S_rank, H, T], truth and per-(series, target) MASEs of every
    process, joined in rank order (small: H values per series and method)."""
    parts = ctx.gather((preds, truth, mases))
    joined = {m: np.concatenate([p[0][m] for p in parts]) for m in preds}
    return joined, np.concatenate([p[1] for p in parts]), {m: [x for p in parts for x in p[2][m]] for m in mases}


def _gather_tables(ctx: DistributedContext, forecasts: pd.DataFrame, actuals: pd.DataFrame,
                   settings: dict[str, Any]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every process's forecast and actual rows (fold by fold, in rank order within a fold) and
    how the series were shared out (``settings["shards"]``)."""
    parts = ctx.gather((forecasts, actuals, int(settings["n_series"])))
    sizes = [p[2] for p in parts]
    settings["n_series"] = sum(sizes)
    settings["shards"] = {"processes": ctx.world_size, "series": sizes}
    settings["models"] = "one per fit for every series, trained data-parallel (DDP) over the processes"
    joined = pd.concat([p[0] for p in parts], ignore_index=True).sort_values("fold", kind="stable", ignore_index=True)
    return joined, pd.concat([p[1] for p in parts], ignore_index=True)


def _plan(config: ForecastConfig, frame: pd.DataFrame, folds: int, step: int | None, season: int | None,
          source: str, distributed: DistributedContext | None = None) -> _Plan:
    """Resolve the config on ``frame``, place the K origins of every series and check that each
    leaves enough rows to train on before its first origin."""
    step = config.data.horizon if step is None else step
    check_counts(folds, step)

    def read() -> tuple[ForecastConfig, list[FoldSeries]]:
        # one numeric column -> it is the target, unique_id/ds/y recognised, as in fit()
        resolved = dataclasses.replace(config, data=resolve_columns(frame, config.data))
        return resolved, tidy_series(resolved, frame, source)

    config, series = _agreed(distributed, read)  # a bad series stops every process, not only its own
    d = config.data
    H = d.horizon
    season = backtest_season(series, season)
    lengths = [len(s.frame) - H - (folds - 1) * step for s in series]
    if distributed is not None:  # every process's series: one input length everywhere
        lengths = distributed.lengths(lengths)
    length = resolve(config, infer_frequency(series[0].frame.index), lengths).data.input_length
    L = int(length or 1)  # resolve always sets it
    need = minimum_length(L, H, d.val_fraction, 0.0) if d.val_fraction > 0 else H + MIN_INPUT
    origins: dict[str, list[int]] = {}
    problems: list[str] = []
    for s in series:
        origins[s.key] = fold_origins(len(s.frame), folds, step, H)
        if origins[s.key][0] < need and not problems:
            what = "The data" if s.key == SINGLE else f"Series {s.key!r}"
            most = max((len(s.frame) - H - need) // step + 1, 0)
            problems.append(
                f"{what} has {len(s.frame)} rows: {folds} folds {step} steps apart with horizon {H} "
                f"put the first origin at row {origins[s.key][0]}, but training before it needs at "
                f"least {need} rows (input_length={L}, horizon={H}, val_fraction={d.val_fraction}). "
                f"Use at most {most} folds, a smaller --step, or a shorter input_length."
            )
    if distributed is not None:  # every process stops, not only the one holding the short series
        problems = [p for part in distributed.gather(problems) for p in part]
    if problems:
        raise DataError(problems[0])
    # the fold's H steps are its test part: train on [0, o_k) (train / validation only)
    fold_config = dataclasses.replace(config, data=dataclasses.replace(d, test_fraction=0.0))
    return _Plan(fold_config, series, origins, H, step, season, L)


def _agreed(distributed: DistributedContext | None, work: Callable[[], _T]) -> _T:
    """``work()``; in a job, every process raises the first failing process's error (a data or
    config error of one process's series would otherwise leave the others waiting for it)."""
    if distributed is None:
        return work()
    value: _T | None = None
    problem: tuple[str, str] | None = None
    try:
        value = work()
    except (ConfigError, DataError) as exc:
        problem = (type(exc).__name__, str(exc))
    failed = [p for p in distributed.gather(problem) if p is not None]
    if failed:
        kind, message = failed[0]
        raise (ConfigError if kind == "ConfigError" else DataError)(message)
    return value  # type: ignore[return-value]  # set: no process failed


def _fit_fold(plan: _Plan, stops: dict[str, int], first: int, last: int, callbacks: Sequence[Callback],
              source: str, distributed: DistributedContext | None = None) -> tuple[Forecaster, dict[str, Any]]:
    """A model trained on rows [0, stops) of every series (of every process, data-parallel, with
    ``distributed``), and its training record (folds ``first .. last - 1`` use it)."""
    series, many = plan.series, plan.config.data.series_col is not None
    forecaster = Forecaster(plan.config).fit(first_rows(series, stops), callbacks=callbacks, source=source,
                                             distributed=distributed)
    history = forecaster.history_
    if history is None:  # pragma: no cover - fit always records its history
        raise RuntimeError("the fold's fit recorded no history")
    record = {
        "folds": list(range(first, last)),
        "rows": {s.key: stops[s.key] for s in series} if many else stops[SINGLE],
        "trained_through": {s.key: s.frame.index[stops[s.key] - 1] for s in series}
        if many else series[0].frame.index[stops[SINGLE] - 1],
        "epochs": len(history.history), "best_epoch": history.best_epoch,
        "stop_reason": history.stop_reason, "seconds": round(history.seconds, 3),
    }
    if distributed is not None and many:  # the rows every process's series trained on
        for what, mine in [(w, record[w]) for w in ("rows", "trained_through")]:
            record[what] = {k: v for part in distributed.gather(mine) for k, v in part.items()}
    return forecaster, record


def _forecast_fold(plan: _Plan, forecaster: Forecaster, stops: dict[str, int],
                   source: str) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """The model's and each baseline's forecast [S, H, T] from rows [0, o_k) of every series,
    and the truth [S, H, T] of rows [o_k, o_k + H)."""
    d, H, series = plan.config.data, plan.horizon, plan.series
    fc = forecaster.predict(first_rows(series, stops), source=source).to_frame()
    preds = {MODEL: by_series(fc, [s.key for s in series], H, len(d.targets), d.series_col is not None)}
    truth = np.stack([s.values[stops[s.key] : stops[s.key] + H] for s in series])
    base = [fold_baselines(s.values[: stops[s.key]], H, plan.season, plan.input_length) for s in series]
    for name in BACKTEST_BASELINES:
        preds[name] = np.stack([b[name] for b in base])
    return preds, truth


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
