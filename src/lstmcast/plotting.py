"""Plots as PNG files (matplotlib's object API, no global pyplot state, never show()).

matplotlib is imported inside each function, so importing this module costs nothing."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from lstmcast.errors import DataError

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from lstmcast.forecast import Forecast


def _save(fig: Figure, path: str | Path) -> Path:
    """Write the PNG atomically (a temporary file, then a rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        fig.savefig(tmp, dpi=100, bbox_inches="tight", format="png")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def plot_loss(history: Sequence[dict[str, Any]], path: str | Path | None = None, ax: Axes | None = None,
              title: str = "Training loss") -> Axes:
    """Train and validation loss per epoch (log scale), the learning rate on a second axis,
    and the best epoch marked."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8, 4.5)) if ax is None else ax.figure
    ax = ax or fig.add_subplot()
    epochs = [r["epoch"] for r in history]
    ax.plot(epochs, [r["train_loss"] for r in history], label="train loss")
    if any(r.get("val_loss") is not None for r in history):
        ax.plot(epochs, [r["val_loss"] if r.get("val_loss") is not None else np.nan for r in history],
                label="validation loss")
    best = [r["epoch"] for r in history if r.get("best")]
    if best:
        ax.axvline(best[-1], color="grey", linestyle=":", label=f"best epoch ({best[-1]})")
    losses = [r["train_loss"] for r in history] + [r["val_loss"] for r in history if r.get("val_loss") is not None]
    if losses and min(losses) > 0:
        ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss (scaled units)")
    ax.set_title(title)
    lr_ax = ax.twinx()
    lr_ax.plot(epochs, [r["learning_rate"] for r in history], color="tab:red", alpha=0.5, linestyle="--",
               label="learning rate")
    lr_ax.set_ylabel("learning rate")
    lr_ax.set_yscale("log")
    lines = ax.get_legend_handles_labels()
    lr_lines = lr_ax.get_legend_handles_labels()
    ax.legend(lines[0] + lr_lines[0], lines[1] + lr_lines[1], loc="upper right", fontsize=8)
    if path is not None:
        _save(fig, path)
    return ax


def _season(times: pd.Index) -> int | None:
    """Steps per natural season of a DatetimeIndex (a day of sub-daily data, a week of daily data,
    a year of monthly data), None for integer time."""
    if not isinstance(times, pd.DatetimeIndex) or len(times) < 2:
        return None
    step = pd.Series(times).diff().dropna().median()
    if step <= pd.Timedelta(0):
        return None
    if step < pd.Timedelta(days=1):
        return max(round(pd.Timedelta(days=1) / step), 1)
    if step < pd.Timedelta(days=7):
        return 7
    if step < pd.Timedelta(days=28):
        return 52
    return 12


def default_window(times: pd.Index, horizon: int) -> int:
    """Past steps shown by default: the last few seasons (4 days of hourly data, 4 weeks of daily
    data), at least 8 horizons and at least 100 steps."""
    season = _season(times) or 0
    return max(100, 8 * horizon, 4 * season)


def _log_axis(ax: Axes) -> None:
    """A log y axis whose ticks read as plain numbers (0.05, 0.1, 0.2), not powers of ten."""
    from matplotlib.ticker import FuncFormatter

    ax.set_yscale("log")
    plain = FuncFormatter(lambda value, _: f"{value:g}")
    ax.yaxis.set_major_formatter(plain)
    ax.yaxis.set_minor_formatter(plain)


def _format_time_axis(ax: Axes, times: Any) -> None:
    if isinstance(times, pd.DatetimeIndex) or np.issubdtype(np.asarray(times).dtype, np.datetime64):
        from matplotlib.dates import AutoDateLocator, ConciseDateFormatter

        locator = AutoDateLocator(minticks=3, maxticks=7)
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(ConciseDateFormatter(locator))


def _history_series(history: pd.DataFrame, target: str, series_col: str | None,
                    forecast_series: Sequence[str]) -> dict[str | None, pd.Series]:
    """The target's past values of each series in ``history``, indexed by time."""
    from lstmcast.data.io import find_time_column

    if target not in history.columns:
        raise DataError(f"The history has no column {target!r} (the forecast's target); columns are: "
                        f"{', '.join(repr(str(c)) for c in history.columns)}.")
    time_col = find_time_column(history, None, "the history")
    times = pd.Index(pd.to_datetime(history[time_col])) if time_col is not None else history.index
    values = pd.Series(history[target].to_numpy(np.float64), index=times)
    if not forecast_series:
        return {None: values}
    wanted = {str(s) for s in forecast_series}
    if series_col is None:  # the column whose values name the forecast's series
        for name in history.columns:
            if name != target and name != time_col and wanted <= set(history[name].astype(str)):
                series_col = str(name)
                break
        else:
            raise DataError("Cannot tell which column of the history names the series "
                            f"{sorted(wanted)[:3]}...; pass series_col=.")
    keys = history[series_col].astype(str).to_numpy()
    return {key: values[keys == key] for key in wanted}


def plot_forecast(forecast: Forecast, path: str | Path | None = None, *,
                  history: pd.DataFrame | None = None, series: Sequence[str] | str | None = None,
                  target: str | None = None, window: int | None = None, level: float | None = None,
                  max_series: int = 6, series_col: str | None = None, title: str | None = None) -> Figure:
    """Draw a forecast, one panel per series (a grid for many series).

    A forecast of the future (``Forecaster.predict``): the last ``window`` steps of ``history``
    (when given), the mean forecast and its interval band, and a line at the forecast origin.

    Historical forecasts (``Forecaster.historical_forecasts``, which carry ``origin`` and
    ``actual``): the truth and the full H-step forecasts that were scored, from every H-th origin
    so that the paths tile the window without overlapping, with their bands.

    ``window``: past steps shown (default :func:`default_window`: the last few seasons; pass a
    large number for the full range). ``series``: the series to draw (default: the first
    ``max_series``; the title says how many there are). ``level``: the central interval drawn
    (default the widest the quantiles hold). Returns the figure; writes a PNG when ``path`` is given.
    """
    from matplotlib.figure import Figure

    from lstmcast.forecast import interval_levels, quantile_column

    frame = forecast.to_frame()
    target = target or str(frame["target"].iloc[0])
    if target not in set(frame["target"].astype(str)):
        raise DataError(f"target={target!r} is not in this forecast; its targets are "
                        f"{sorted(set(frame['target'].astype(str)))}.")
    frame = frame[frame["target"].astype(str) == target]
    has_series = "series" in frame
    all_series = list(dict.fromkeys(frame["series"].astype(str))) if has_series else []
    if isinstance(series, str):
        series = [series]
    if series is not None:
        if not has_series:
            raise DataError("series= names series, but this forecast is of a single series.")
        missing = [s for s in series if s not in all_series]
        if missing:
            raise DataError(f"Series {missing} are not in this forecast; it has {len(all_series)} series, "
                            f"e.g. {all_series[:5]}.")
        chosen = list(series)
    else:
        chosen = all_series[:max_series]
    intervals = interval_levels(forecast.quantiles)
    if level is not None:
        intervals = [i for i in intervals if i[0] == round(100 * level)]
        if not intervals:
            raise DataError(f"level={level}: this forecast's quantiles {list(forecast.quantiles)} hold no "
                            f"central {level:.0%} interval.")
    band = intervals[0] if intervals else None
    horizon = int(frame["step"].max())
    scored = "origin" in frame
    past = (_history_series(history, target, series_col, chosen) if history is not None and not scored
            else None)

    panels = chosen or [None]
    n = len(panels)
    ncols = 1 if n == 1 else 2 if n <= 4 else 3
    nrows = -(-n // ncols)
    fig = Figure(figsize=(10, 4.5) if n == 1 else (5.2 * ncols, 3.2 * nrows), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for ax in axes[n:]:
        ax.set_visible(False)
    for ax, key in zip(axes, panels, strict=False):
        rows = frame if key is None else frame[frame["series"].astype(str) == key]
        times = pd.Index(rows["time"])
        if scored:
            _draw_scored(ax, rows, horizon, window, band, quantile_column)
        else:
            _draw_future(ax, rows, None if past is None else past[key], horizon, window, band, quantile_column)
        _format_time_axis(ax, times)
        if key is not None:  # one series: the figure's title says it all
            ax.set_title(f"series {key}", fontsize=10)
        ax.grid(alpha=0.3)
        if n == 1:
            ax.set_ylabel(target)
    handles, labels = axes[0].get_legend_handles_labels()
    axes[0].legend(handles, labels, loc="best", fontsize=8)
    what = (f"{target}: {horizon}-step forecasts scored against the truth" if scored
            else f"{target}: forecast of the next {horizon} steps")
    if has_series and len(chosen) < len(all_series):
        what += f" ({len(chosen)} of {len(all_series)} series shown)"
    fig.suptitle(title or what, fontsize=11)
    if path is not None:
        _save(fig, path)
    return fig


def _draw_future(ax: Axes, rows: pd.DataFrame, past: pd.Series | None, horizon: int, window: int | None,
                 band: tuple[int, float, float] | None, column: Any) -> None:
    times = pd.Index(rows["time"])
    if past is not None and len(past):
        shown = past.iloc[-(window or default_window(past.index, horizon)):]
        ax.plot(shown.index, shown.to_numpy(), color="black", linewidth=1, label="history")
        ax.axvline(shown.index[-1], color="grey", linestyle=":", linewidth=1)
        # join the forecast to the last observed value so the eye follows it
        times_line = [shown.index[-1], *times]
        mean_line = [shown.iloc[-1], *rows["mean"]]
    else:
        times_line, mean_line = list(times), list(rows["mean"])
    if band is not None:
        percent, low, high = band
        ax.fill_between(times, rows[column(low)], rows[column(high)], color="tab:blue", alpha=0.25,
                        linewidth=0, label=f"{percent}% interval")
    point = "median" if "q0.5" in rows else "mean"  # a quantile head forecasts its median
    ax.plot(times_line, mean_line, color="tab:blue", linewidth=1.8, label=f"forecast ({point})",
            marker="o" if horizon <= 3 else None, markersize=3)


def _draw_scored(ax: Axes, rows: pd.DataFrame, horizon: int, window: int | None,
                 band: tuple[int, float, float] | None, column: Any) -> None:
    truth = rows[rows["step"] == 1].drop_duplicates("time").set_index("time")["actual"]
    for extra in rows[rows["step"] > 1].drop_duplicates("time").itertuples():  # the truth after the last origin
        if extra.time not in truth.index:
            truth.loc[extra.time] = extra.actual
    truth = truth.sort_index()
    shown = truth.iloc[-(window or max(200, default_window(pd.Index(truth.index), horizon))):]
    ax.plot(shown.index, shown.to_numpy(), color="black", linewidth=1, label="actual")
    first_time = shown.index[0]
    if horizon == 1:  # one point per origin: one line through all of them
        paths = [rows[rows["time"] >= first_time]]
    else:  # every H-th origin, ending with the last one, so that the paths tile the window
        origins = list(dict.fromkeys(rows["origin"]))[::-1][::horizon][::-1]
        paths = [path for origin in origins if (path := rows[rows["origin"] == origin])["time"].iloc[0] >= first_time]
    for i, path in enumerate(paths):
        colour = "tab:blue" if i % 2 == 0 else "tab:orange"
        if band is not None:
            percent, low, high = band
            ax.fill_between(path["time"], path[column(low)], path[column(high)], color=colour, alpha=0.2,
                            linewidth=0, label=None if i else f"{percent}% interval")
        ax.plot(path["time"], path["mean"], color=colour, linewidth=1.4,
                label=None if i else (f"forecasts: steps 1-{horizon} from every {horizon}th origin (colours alternate)"
                                      if horizon > 1 else "forecast (1 step ahead)"))


def plot_attention(weights: np.ndarray, path: str | Path | None = None, ax: Axes | None = None) -> Axes:
    """Attention weights [B, L'] (one row per window) over the LSTM outputs, and their mean."""
    from matplotlib.figure import Figure

    weights = np.atleast_2d(np.asarray(weights))
    fig = Figure(figsize=(9, 4.5)) if ax is None else ax.figure
    ax = ax or fig.add_subplot()
    steps = np.arange(weights.shape[1]) - weights.shape[1] + 1  # 0 = the last input step
    if len(weights) > 1:
        image = ax.imshow(weights, aspect="auto", cmap="viridis", interpolation="nearest",
                          extent=(steps[0] - 0.5, steps[-1] + 0.5, len(weights) - 0.5, -0.5))
        fig.colorbar(image, ax=ax, label="attention weight")
        ax.set_ylabel("window")
    else:
        ax.bar(steps, weights[0], color="tab:blue")
        ax.set_ylabel("attention weight")
    ax.set_xlabel("input position (0 = last step)")
    ax.set_title("Attention over the LSTM outputs (query: the last state)")
    if path is not None:
        _save(fig, path)
    return ax


# ---------------------------------------------------------------------------- backtest
def plot_backtest(result: Any, path: str | Path | None = None, *, series: str | None = None,
                  target: str | None = None, context: int | None = None, ax: Axes | None = None) -> Axes:
    """A rolling-origin backtest (:class:`lstmcast.evaluation.backtest.BacktestResult`): the truth,
    each fold's H-step LSTM forecast (each fold its own colour, named in the legend with its
    origin), the seasonal-naive forecast of the same origins and the origins marked.

    Draws one (series, target): the first of each unless named. ``context`` rows of truth
    before the first origin are shown (default 2 H). Writes a PNG when ``path`` is given.
    """
    from matplotlib.figure import Figure

    table = result.forecasts
    target = target or table["target"].iloc[0]
    if target not in set(table["target"]):
        raise ValueError(f"Unknown target {target!r}; the backtest forecast {sorted(set(table['target']))}.")
    table = table[table["target"] == target]
    truth = result.actuals[result.actuals["target"] == target]
    if "series" in table:
        series = series or table["series"].iloc[0]
        if series not in set(table["series"]):
            raise ValueError(
                f"Unknown series {series!r}; the backtest has {', '.join(map(str, table['series'].unique()[:5]))}"
                f"{', ...' if table['series'].nunique() > 5 else ''}."
            )
        table = table[table["series"] == series]
        truth = truth[truth["series"] == series]
    context = 2 * int(result.settings.get("horizon", 1)) if context is None else context
    first_origin = table["origin"].iloc[0]
    first = int((pd.Index(truth["time"]) < first_origin).sum())
    truth = truth.iloc[max(first - context, 0):]
    fig = Figure(figsize=(10, 4.5), layout="constrained") if ax is None else ax.figure
    ax = ax or fig.add_subplot()
    ax.plot(truth["time"], truth["actual"], color="black", linewidth=1, label="actual")
    folds = sorted(table["fold"].unique())
    palette = ["tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown", "tab:pink",
               "tab:olive", "tab:cyan"]
    many = len(folds) > len(palette)
    dated = np.issubdtype(np.asarray(table["time"]).dtype, np.datetime64)
    for i, fold in enumerate(folds):
        rows = table[table["fold"] == fold]
        origin = rows["origin"].iloc[0]
        when = pd.Timestamp(origin).strftime("%Y-%m-%d %H:%M") if dated else str(origin)
        colour = palette[i % 2] if many else palette[i]
        label = (f"LSTM, fold {int(fold) + 1} (origin {when})" if not many
                 else "LSTM forecasts (folds alternate colours)" if i == 0 else None)
        ax.plot(rows["time"], rows["mean"], color=colour, linewidth=1.6, label=label)
        ax.plot(rows["time"], rows["seasonal_naive"], color="grey", linestyle=":", linewidth=1)
        ax.axvline(origin, color="grey", linestyle="--", linewidth=0.6)
    ax.plot([], [], color="grey", linestyle=":", linewidth=1, label="seasonal naive")  # legend entries
    ax.plot([], [], color="grey", linestyle="--", linewidth=0.6, label="forecast origins")
    name = target if series is None else f"{series} / {target}"
    settings = result.settings
    horizon = settings.get("horizon")
    ax.set_title(f"Backtest of {name}: {settings.get('folds')} folds of {horizon} steps, origins "
                 f"{settings.get('step')} steps apart, {'refit per fold' if settings.get('refit') else 'no refit'}")
    ax.set_xlabel("time")
    ax.set_ylabel(str(target))
    ax.grid(alpha=0.3)
    _format_time_axis(ax, table["time"])
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
    if path is not None:
        _save(fig, path)
    return ax


# ---------------------------------------------------------------------------- tuning
def plot_tune_history(trials: Sequence[tuple[int, float | None, str]], path: str | Path | None = None, *,
                      baseline: int | None = None) -> Axes:
    """Hyper-parameter search: each trial's best validation loss (scaled units, log axis) by trial
    number, the best so far, and the base configuration marked. ``trials``: (number, value,
    state) with state ``COMPLETE``, ``PRUNED`` or ``FAIL``."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(9, 4.5), layout="constrained")
    ax = fig.add_subplot()
    done = [(n, v) for n, v, s in trials if s == "COMPLETE" and v is not None and np.isfinite(v)]
    pruned = [(n, v) for n, v, s in trials if s == "PRUNED" and v is not None and np.isfinite(v)]
    if not done:
        raise ValueError("No completed trial to plot.")
    numbers, values = zip(*sorted(done), strict=True)
    ax.scatter(numbers, values, color="tab:blue", s=18, label="completed trial", zorder=3)
    if pruned:
        ax.scatter(*zip(*pruned, strict=True), color="tab:grey", marker="x", s=18,
                   label="pruned trial (loss when stopped)", zorder=3)
    ax.step(numbers, np.minimum.accumulate(values), where="post", color="tab:red", label="best so far")
    if baseline is not None and baseline in numbers:
        ax.scatter([baseline], [values[numbers.index(baseline)]], s=90, facecolors="none", edgecolors="black",
                   label="base configuration", zorder=4)
    shown = [*values, *(v for _, v in pruned)]
    if min(shown) > 0 and max(shown) / min(shown) > 3:
        _log_axis(ax)
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # trials are whole numbers
    ax.set_xlabel("trial")
    ax.set_ylabel("best validation loss (scaled units)")
    ax.set_title(f"Search history: {len(done)} completed, {len(pruned)} pruned, "
                 f"best {min(values):.4g} (trial {numbers[int(np.argmin(values))]})")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    if path is not None:
        _save(fig, path)
    return ax


def plot_tune_curves(curves: dict[int, dict[int, float]], path: str | Path | None = None, *,
                     best: int | None = None, pruned: Sequence[int] = ()) -> Axes:
    """Validation loss per epoch (scaled units, log axis) of every trial; the best trial drawn
    bold, pruned trials dashed where they were stopped."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(9, 4.5), layout="constrained")
    ax = fig.add_subplot()
    curves = {n: c for n, c in curves.items() if c}
    if not curves:
        raise ValueError("No trial reported a validation loss per epoch.")
    labelled: set[str] = set()
    for number, curve in sorted(curves.items()):
        epochs = sorted(curve)
        kind = "best trial" if number == best else "pruned trial" if number in pruned else "trial"
        style = {"best trial": dict(color="tab:red", linewidth=2.2, zorder=3),
                 "pruned trial": dict(color="tab:grey", linewidth=0.8, linestyle="--", alpha=0.7),
                 "trial": dict(color="tab:blue", linewidth=0.9, alpha=0.6)}[kind]
        label = (f"best trial ({number})" if kind == "best trial" else kind) if kind not in labelled else None
        labelled.add(kind)
        ax.plot(epochs, [curve[e] for e in epochs], label=label, **style)
    values = [v for c in curves.values() for v in c.values()]
    if min(values) > 0 and max(values) / min(values) > 3:
        _log_axis(ax)
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("epoch")
    ax.set_ylabel("validation loss (scaled units)")
    ax.set_title(f"Learning curves of {len(curves)} trials (the pruner stops the dashed ones)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    if path is not None:
        _save(fig, path)
    return ax


def plot_tune_importances(importances: dict[str, float], path: str | Path | None = None) -> Axes:
    """How much of the validation loss's variation across trials each searched key explains
    (Optuna's fANOVA importances, summing to 1), largest on top."""
    from matplotlib.figure import Figure

    if not importances:
        raise ValueError("No parameter importances to plot.")
    items = sorted(importances.items(), key=lambda kv: kv[1])
    fig = Figure(figsize=(8, 0.9 + 0.38 * len(items)), layout="constrained")
    ax = fig.add_subplot()
    ax.barh([k for k, _ in items], [v for _, v in items], color="tab:blue")
    for i, (_, v) in enumerate(items):
        ax.text(v, i, f" {v:.2f}", va="center", fontsize=8)
    ax.set_xlabel("share of the validation loss's variation explained")
    ax.set_xlim(0, max(v for _, v in items) * 1.15)
    ax.set_title("Which settings mattered (config keys searched)")
    if path is not None:
        _save(fig, path)
    return ax
