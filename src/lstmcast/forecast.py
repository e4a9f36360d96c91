"""Forecast: the one result type. A tidy frame with one row per (series, origin, target, step)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from lstmcast.errors import DataError


def quantile_column(level: float) -> str:
    return f"q{level:g}"


class Forecast:
    """Point and probabilistic forecasts in original units.

    Columns of :meth:`to_frame`: ``series`` (many-series models), ``origin`` (historical
    forecasts), ``time``, ``target``, ``step`` (1..H), ``mean``, one ``q<level>`` column per
    quantile level (probabilistic heads), and ``actual`` when the truth is known.
    """

    def __init__(self, frame: pd.DataFrame, quantiles: tuple[float, ...] = ()) -> None:
        self._frame = frame.reset_index(drop=True)
        self.quantiles = tuple(quantiles)

    def to_frame(self) -> pd.DataFrame:
        return self._frame.copy()

    def __len__(self) -> int:
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
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
        self._frame.to_csv(tmp, index=False)
        os.replace(tmp, path)
        return path

    def values(self, column: str = "mean") -> np.ndarray:
        return self._frame[column].to_numpy()
