"""Forecast: the one result type. A tidy frame with one row per (series, origin, target, step)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from lstmcast.errors import DataError

if TYPE_CHECKING:
    from matplotlib.figure import Figure

FrameStyle = Literal["lstmcast", "nixtla"]


def quantile_column(level: float) -> str:
    return f"q{level:g}"


def interval_levels(quantiles: Sequence[float]) -> list[tuple[int, float, float]]:
    """The central intervals a set of quantile levels holds, as (percent, low, high): levels
    (0.1, 0.5, 0.9) -> [(80, 0.1, 0.9)]; widest first."""
    levels = {round(q, 6) for q in quantiles}
    pairs = [(round(100 * (1 - 2 * q)), q, round(1 - q, 6)) for q in sorted(levels)
             if q < 0.5 and round(1 - q, 6) in levels]
    return sorted(pairs, reverse=True)


class Forecast:
    """Point and probabilistic forecasts in original units.

    Columns of :meth:`to_frame`: ``series`` (many-series models), ``origin`` (historical
    forecasts), ``time``, ``target``, ``step`` (1..H), ``mean``, one ``q<level>`` column per
    quantile level (probabilistic heads), and ``actual`` when the truth is known.
    """

    def __init__(self, frame: pd.DataFrame | Mapping[str, Any], quantiles: tuple[float, ...] = ()) -> None:
        # columns given as arrays become a frame when first read (predict at batch 1 stays cheap)
        self._columns: Mapping[str, Any] | None = None if isinstance(frame, pd.DataFrame) else frame
        self._table = frame.reset_index(drop=True) if isinstance(frame, pd.DataFrame) else None
        self.quantiles = tuple(quantiles)
        self.notes: list[str] = []  # what the forecast had to assume (padding, rolling past H)

    @property
    def _frame(self) -> pd.DataFrame:
        if self._table is None:
            self._table = pd.DataFrame(dict(self._columns or {}))
            self._columns = None
        return self._table

    def to_frame(self, style: FrameStyle = "lstmcast", model: str = "LSTM") -> pd.DataFrame:
        """The forecast as a DataFrame.

        ``style="lstmcast"`` (default): the columns listed above.

        ``style="nixtla"``: the long format of statsforecast / NeuralForecast / utilsforecast, so
        that ``utilsforecast.evaluation.evaluate`` and their plotting take it as it is:
        ``unique_id`` (the series; with several targets ``"<series>/<target>"``, or the target's
        name for a single series), ``cutoff`` (historical forecasts: the origin), ``ds``, ``y``
        (when the truth is known), ``<model>`` (the mean), and for every central interval the
        quantile levels hold ``<model>-lo-<percent>`` / ``<model>-hi-<percent>`` (levels 0.1 and
        0.9 -> ``LSTM-lo-80``, ``LSTM-hi-80``), plus ``<model>-median`` when 0.5 is a level.
        """
        if style == "lstmcast":
            return self._frame.copy()
        if style != "nixtla":
            raise ValueError(f"style={style!r}: expected 'lstmcast' or 'nixtla'.")
        frame = self._frame
        targets = frame["target"].astype(str)
        if "series" in frame:
            ids = frame["series"].astype(str)
            if targets.nunique() > 1:
                ids = ids + "/" + targets
        else:
            ids = targets
        out: dict[str, Any] = {"unique_id": ids.to_numpy()}
        if "origin" in frame:
            out["cutoff"] = frame["origin"].to_numpy()
        out["ds"] = frame["time"].to_numpy()
        if "actual" in frame:
            out["y"] = frame["actual"].to_numpy()
        out[model] = frame["mean"].to_numpy()
        if 0.5 in {round(q, 6) for q in self.quantiles}:
            out[f"{model}-median"] = frame[quantile_column(0.5)].to_numpy()
        for percent, low, high in interval_levels(self.quantiles):
            out[f"{model}-lo-{percent}"] = frame[quantile_column(low)].to_numpy()
            out[f"{model}-hi-{percent}"] = frame[quantile_column(high)].to_numpy()
        return pd.DataFrame(out)

    def plot(self, history: pd.DataFrame | None = None, path: str | Path | None = None, *,
             series: Sequence[str] | str | None = None, target: str | None = None,
             window: int | None = None, level: float | None = None, max_series: int = 6,
             series_col: str | None = None, title: str | None = None) -> Figure:
        """Draw the forecast: the recent history, the mean and the interval band; one panel per
        series (a grid, at most ``max_series``, or the ones named in ``series``).

        ``history`` is the frame the forecast was made from (the same columns as for
        ``Forecaster.predict``); ``window`` is how many past steps to show (default: a few
        seasons, at least 4x the horizon); ``level`` the interval drawn (default the widest
        available); ``series_col`` the history's series column (default: the column whose values
        name the forecast's series). Writes a PNG when ``path`` is given. See :func:`lstmcast.plotting.plot_forecast`.
        """
        from lstmcast.plotting import plot_forecast

        return plot_forecast(self, path, history=history, series=series, target=target, window=window,
                             level=level, max_series=max_series, series_col=series_col, title=title)

    def __len__(self) -> int:
        if self._columns is not None:
            return len(self._columns["mean"])
        return len(self._frame)

    def __repr__(self) -> str:
        return f"Forecast({len(self._frame)} rows, quantiles={list(self.quantiles)})\n{self._frame.head()}"

    @property
    def mean(self) -> pd.DataFrame:
        """Wide view: one row per time (and series), one column per target."""
        index = [c for c in ("series", "origin", "time") if c in self._frame]
        return self._frame.pivot_table(index=index, columns="target", values="mean", sort=False)

    def quantile(self, level: float) -> pd.Series:
        column = quantile_column(level)
        if column not in self._frame:
            raise DataError(
                f"Quantile {level} is not in this forecast; available levels: {list(self.quantiles) or 'none (point model)'}."
            )
        return self._frame[column]

    def interval(self, level: float = 0.8) -> tuple[pd.Series, pd.Series]:
        """Lower and upper bounds of the central ``level`` interval (e.g. 0.8 -> q0.1, q0.9)."""
        low, high = round((1 - level) / 2, 6), round(1 - (1 - level) / 2, 6)
        return self.quantile(low), self.quantile(high)

    def to_csv(self, path: str | Path) -> Path:
        """Write atomically (temp file + rename)."""
        from lstmcast._json import atomic_path

        with atomic_path(path) as tmp:
            self._frame.to_csv(tmp, index=False)
        return Path(path)

    def values(self, column: str = "mean") -> np.ndarray:
        return self._frame[column].to_numpy()
