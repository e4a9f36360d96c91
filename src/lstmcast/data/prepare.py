"""Frames or request arrays -> per-series arrays and windows: the one data-preparation path.

Training, ``Forecaster.predict``, evaluation, export parity and the HTTP service all turn their
input into :class:`SeriesData` here, scale it with :func:`scaler_for` (the one rule for series
unseen in training) and cut the model's input window with :func:`last_window`.

Symbols: n rows of a series, C channels (see :class:`~lstmcast.data.layout.ChannelLayout`),
L input_length, H horizon, T targets, Kf known-future channels.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from lstmcast.config import DataConfig
from lstmcast.data.features import calendar_columns, calendar_values
from lstmcast.data.io import (
    NIXTLA_COLUMNS,
    TIME_CANDIDATES,
    prepare_frame,
    regular_arrays,
    series_groups,
)
from lstmcast.data.layout import ChannelLayout
from lstmcast.data.scaling import Scaler
from lstmcast.errors import ConfigError, DataError

SINGLE = "__single__"  # the key of the one series of a single-series model


@dataclass
class SeriesData:
    """One prepared series: its key, time index and values [n, C] in original units
    (targets, past covariates, future covariates, calendar features)."""

    key: str
    index: pd.Index
    values: np.ndarray

    @property
    def label(self) -> str:
        """How messages name the series."""
        return "The series" if self.key == SINGLE else f"Series {self.key!r}"


def infer_targets(frame: pd.DataFrame, data: DataConfig) -> tuple[str, ...]:
    """The configured targets, or the one numeric column that is not a time, id or covariate."""
    if data.targets:
        return data.targets
    skip = {data.time_col, data.series_col, *data.features, *data.future_features}
    numeric = [c for c in frame.columns if c not in skip and pd.api.types.is_numeric_dtype(frame[c])
               and str(c).lower() not in TIME_CANDIDATES]
    if len(numeric) != 1:
        raise ConfigError(
            "Name the column(s) to forecast: DataConfig(targets=[...]) or --target COL. "
            f"Numeric columns found: {[str(c) for c in numeric]}."
        )
    return (str(numeric[0]),)


def resolve_columns(frame: pd.DataFrame, data: DataConfig) -> DataConfig:
    """``data`` with what the frame says filled in: the target when one numeric column is left,
    and the NeuralForecast / StatsForecast long layout (``unique_id``, ``ds``, ``y``) recognised
    when no series / time column is named."""
    import dataclasses

    columns = set(map(str, frame.columns))
    if data.series_col is None and data.time_col is None and set(NIXTLA_COLUMNS) <= columns \
            and "unique_id" not in data.input_columns:
        import warnings

        from lstmcast.data.io import DataNote

        data = dataclasses.replace(data, series_col="unique_id", time_col="ds",
                                   targets=data.targets or ("y",))
        warnings.warn("read as the NeuralForecast/StatsForecast long layout: series column 'unique_id', time "
                      f"column 'ds', target(s) {list(data.targets)}", DataNote, stacklevel=3)
    return dataclasses.replace(data, targets=infer_targets(frame, data))


def layout_for(data: DataConfig, targets: Sequence[str], calendar: Sequence[str] = ()) -> ChannelLayout:
    return ChannelLayout(tuple(targets), data.features, data.future_features, tuple(calendar))


def series_arrays(frame: pd.DataFrame, data: DataConfig, layout: ChannelLayout | None,
                  source: str, targets: Sequence[str] | None = None) -> tuple[list[SeriesData], ChannelLayout]:
    """Split a (long) frame into per-series arrays in the layout's channel order.

    ``layout`` is the trained model's; ``None`` (training) builds it from ``data`` and ``targets``,
    with the calendar features suited to the data's spacing when ``data.calendar_features``.
    """
    columns = list(layout.columns) if layout is not None else [*(targets or data.targets),
                                                              *data.features, *data.future_features]
    fast = regular_arrays(frame, columns, time_col=data.time_col, source=source) if data.series_col is None else None
    if fast is not None:
        index, values = fast
    else:
        tidy = prepare_frame(frame, columns, time_col=data.time_col, series_col=data.series_col,
                             fill=data.fill, fill_gaps=data.fill_gaps, source=source)
        index, values = tidy.index, tidy[columns].to_numpy(np.float64)
    if data.series_col is None:
        spans = [(SINGLE, 0, len(values))]
    else:  # one sort and one array for every series: no per-series pandas indexing (10k series)
        codes, keys, order = series_groups(tidy[data.series_col])
        if (codes < 0).any():  # prepare_frame refuses empty ids; never drop rows silently here
            raise DataError(f"{source} has rows without a series id in column {data.series_col!r}.")
        index, values = index[order], values[order]
        ends = np.cumsum(np.bincount(codes, minlength=len(keys)))
        spans = [(str(k), int(lo), int(hi)) for k, lo, hi in zip(keys, [0, *ends[:-1]], ends, strict=True)]
    if layout is None:
        first = index[spans[0][1] : spans[0][2]]
        calendar = calendar_columns(first) if data.calendar_features else []
        layout = layout_for(data, targets or data.targets, calendar)
    out = []
    for key, lo, hi in spans:
        rows, times = values[lo:hi], index[lo:hi]
        if layout.calendar:
            rows = np.concatenate([rows, calendar_values(times, layout.calendar)], axis=1)
        out.append(SeriesData(key, times, rows))
    return out, layout


def request_series(key: str, index: pd.Index, columns: np.ndarray, layout: ChannelLayout) -> SeriesData:
    """A series given as arrays (the HTTP service): raw columns [n, len(layout.columns)] plus the
    calendar channels computed from ``index``."""
    values = np.asarray(columns, dtype=np.float64)
    if layout.calendar:
        values = np.concatenate([values, calendar_values(index, layout.calendar)], axis=1)
    return SeriesData(key, index, values)


def scaler_for(scalers: Mapping[str, Scaler], key: str, values: np.ndarray, kind: str) -> Scaler:
    """The scaler of series ``key``: its training scaler, or -- for a series unseen in training --
    one fitted on all the rows of its history that are given (``values`` [n, C])."""
    scaler = scalers.get(key)
    if scaler is None:
        scaler = Scaler(kind).fit(values)
    return scaler


def pad_left(values: np.ndarray, length: int) -> tuple[np.ndarray, int]:
    """Repeat the first row so ``values`` [n, C] has at least ``length`` rows; returns (rows, pad)."""
    pad = max(0, length - len(values))
    if not pad:
        return values, 0
    return np.concatenate([np.repeat(values[:1], pad, axis=0), values]), pad


def last_window(series: SeriesData, input_length: int) -> tuple[np.ndarray, int]:
    """The model's input for a forecast after the end of ``series``: raw [L, C] and how many rows
    were padded (a series shorter than L is padded on the left with its first row)."""
    if not len(series.values):
        raise DataError(f"{series.label} has no rows; the model needs at least one to forecast.")
    window, pad = pad_left(series.values[-input_length:], input_length)
    return window, pad


def future_block(series: SeriesData, layout: ChannelLayout, data: DataConfig, future: pd.DataFrame | None,
                 times: pd.Index, steps: int) -> np.ndarray | None:
    """Raw known-future channels for the ``steps`` forecast times after ``series``: [steps, Kf]."""
    if not layout.n_future:
        return None
    parts = []
    if layout.future:
        if future is None:
            raise DataError(
                f"This model uses known-future covariates {list(layout.future)}: pass their values "
                f"for the {steps} steps after the data (Python: predict(frame, future=...); "
                "CLI: --future FILE)."
            )
        rows = future
        if data.series_col is not None and data.series_col in future:
            rows = future[future[data.series_col].astype(str) == series.key]
        tidy = prepare_frame(rows, list(layout.future), time_col=data.time_col, fill=data.fill,
                             source="the future covariates")
        if not isinstance(tidy.index, pd.RangeIndex):
            tidy = tidy[tidy.index > series.index[-1]]
        if len(tidy) < steps:
            raise DataError(
                f"The future covariates have {len(tidy)} rows after the end of the data for series "
                f"{series.key!r}; the model needs {steps} (one per forecast step)."
            )
        parts.append(tidy[list(layout.future)].to_numpy(np.float64)[:steps])
    if layout.calendar:
        parts.append(calendar_values(times, layout.calendar))
    return np.concatenate(parts, axis=1)
