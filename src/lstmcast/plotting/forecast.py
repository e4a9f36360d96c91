"""The forecast picture: history, forecast and band per series; or the scored historical forecasts."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from lstmcast.errors import DataError
from lstmcast.plotting.common import format_time_axis, save_png

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from lstmcast.forecast import Forecast


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
    from lstmcast.forecast import quantile_column

    frame = forecast.to_frame()
    target = target or str(frame["target"].iloc[0])
    if target not in set(frame["target"].astype(str)):
        raise DataError(f"target={target!r} is not in this forecast; its targets are "
                        f"{sorted(set(frame['target'].astype(str)))}.")
    frame = frame[frame["target"].astype(str) == target]
    has_series = "series" in frame
    all_series = list(dict.fromkeys(frame["series"].astype(str))) if has_series else []
    chosen = _chosen_series(all_series, has_series, series, max_series)
    band = _band(forecast.quantiles, level)
    horizon = int(frame["step"].max())
    scored = "origin" in frame
    past = (_history_series(history, target, series_col, chosen) if history is not None and not scored
            else None)

    panels: list[str | None] = [*chosen] if chosen else [None]
    fig, axes = _panel_grid(len(panels))
    for ax, key in zip(axes, panels, strict=False):
        rows = frame if key is None else frame[frame["series"].astype(str) == key]
        if scored:
            _draw_scored(ax, rows, horizon, window, band, quantile_column)
        else:
            _draw_future(ax, rows, None if past is None else past[key], horizon, window, band, quantile_column)
        format_time_axis(ax, pd.Index(rows["time"]))
        if key is not None:  # one series: the figure's title says it all
            ax.set_title(f"series {key}", fontsize=10)
        ax.grid(alpha=0.3)
        if len(panels) == 1:
            ax.set_ylabel(target)
    handles, labels = axes[0].get_legend_handles_labels()
    axes[0].legend(handles, labels, loc="best", fontsize=8)
    what = (f"{target}: {horizon}-step forecasts scored against the truth" if scored
            else f"{target}: forecast of the next {horizon} steps")
    if has_series and len(chosen) < len(all_series):
        what += f" ({len(chosen)} of {len(all_series)} series shown)"
    fig.suptitle(title or what, fontsize=11)
    if path is not None:
        save_png(fig, path)
    return fig


def _panel_grid(n: int) -> tuple[Figure, np.ndarray]:
    """A figure of ``n`` panels (one wide panel, else a grid of 2 or 3 columns) and its ``n`` Axes;
    the grid's spare cells are hidden."""
    from matplotlib.figure import Figure

    ncols = 1 if n == 1 else 2 if n <= 4 else 3
    nrows = -(-n // ncols)
    fig = Figure(figsize=(10, 4.5) if n == 1 else (5.2 * ncols, 3.2 * nrows), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for ax in axes[n:]:
        ax.set_visible(False)
    return fig, axes


def _chosen_series(all_series: list[str], has_series: bool, series: Sequence[str] | str | None,
                   max_series: int) -> list[str]:
    """The series to draw: those named (each must be in the forecast), else the first ``max_series``."""
    if isinstance(series, str):
        series = [series]
    if series is None:
        return all_series[:max_series]
    if not has_series:
        raise DataError("series= names series, but this forecast is of a single series.")
    missing = [s for s in series if s not in all_series]
    if missing:
        raise DataError(f"Series {missing} are not in this forecast; it has {len(all_series)} series, "
                        f"e.g. {all_series[:5]}.")
    return list(series)


def _band(quantiles: tuple[float, ...], level: float | None) -> tuple[int, float, float] | None:
    """The central interval drawn, as (percent, low, high): the one of ``level``, else the widest
    the quantiles hold; None for a point forecast."""
    from lstmcast.forecast import interval_levels

    intervals = interval_levels(quantiles)
    if level is not None:
        intervals = [i for i in intervals if i[0] == round(100 * level)]
        if not intervals:
            raise DataError(f"level={level}: this forecast's quantiles {list(quantiles)} hold no "
                            f"central {level:.0%} interval.")
    return intervals[0] if intervals else None


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
