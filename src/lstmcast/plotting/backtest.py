"""The backtest picture: the truth, each fold's forecast and the seasonal-naive one."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from lstmcast.plotting.common import format_time_axis, save_png

if TYPE_CHECKING:
    from matplotlib.axes import Axes


def _selection(result: Any, series: str | None, target: str | None) -> tuple[pd.DataFrame, pd.DataFrame,
                                                                            str | None, str]:
    """The forecasts and the truth of one (series, target): the first of each unless named."""
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
    return table, truth, series, target


def plot_backtest(result: Any, path: str | Path | None = None, *, series: str | None = None,
                  target: str | None = None, context: int | None = None, ax: Axes | None = None) -> Axes:
    """A rolling-origin backtest (:class:`lstmcast.evaluation.backtest.BacktestResult`): the truth,
    each fold's H-step LSTM forecast (each fold its own colour, named in the legend with its
    origin), the seasonal-naive forecast of the same origins and the origins marked.

    Draws one (series, target): the first of each unless named. ``context`` rows of truth
    before the first origin are shown (default 2 H). Writes a PNG when ``path`` is given.
    """
    from matplotlib.figure import Figure

    table, truth, series, target = _selection(result, series, target)
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
    format_time_axis(ax, table["time"])
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
    if path is not None:
        save_png(fig, path)
    return ax
