"""Standard benchmark protocols, exactly as published, as pure data/numpy functions.

No model and no torch here: each protocol gives the arrays a model must forecast and a
scoring function, so any forecaster (or a baseline from :mod:`.baselines`) plugs in.

ETTh1 / ETTh2, long-horizon protocol (Informer, AAAI 2021; DLinear, AAAI 2023)
    Shapes: T rows, C = 7 channels, N windows, L input length, H horizon.

    frame = load_ett("../shared/data/ETTh1.csv")                    # [T, 7]
    inputs, targets = ett_test_windows(frame, input_length=336, horizon=96)
    score_ett(forecast(inputs), targets)  # inputs [N, L, 7] -> forecast [N, H, 7]
    # -> {"mse": ..., "mae": ...}

M4 Hourly (Makridakis et al., IJF 2020)
    414 series, horizon 48, seasonality 24.

    series = load_m4_hourly("../shared/data/m4_hourly_train.csv", "../shared/data/m4_hourly_test.csv")
    score_m4([forecast(s.train) for s in series], series)  # one [48] forecast per series
    # -> {"smape": ..., "mase": ..., "owa": ..., "smape_naive2": ..., "mase_naive2": ...}

These loaders read the fixed benchmark files only (checked against their documented
layout); user data goes through :mod:`lstmcast.data`. The M4 functions live in
:mod:`lstmcast.evaluation.m4` and are re-exported here.
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view
from numpy.typing import ArrayLike

from lstmcast.errors import DataError
from lstmcast.evaluation.m4 import (
    M4_HOURLY_HORIZON,
    M4_HOURLY_SEASON,
    M4Series,
    load_m4,
    load_m4_hourly,
    score_m4,
)

__all__ = [
    "ETT_BATCH_SIZE",
    "ETT_CHANNELS",
    "ETT_HORIZONS",
    "M4_HOURLY_HORIZON",
    "M4_HOURLY_SEASON",
    "M4Series",
    "ett_scaler",
    "ett_splits",
    "ett_test_windows",
    "ett_window_count",
    "ett_windows",
    "load_ett",
    "load_m4",
    "load_m4_hourly",
    "scale_ett",
    "score_ett",
    "score_m4",
]

# =========================================================================== ETT

ETT_CHANNELS: tuple[str, ...] = ("HUFL", "HULL", "MUFL", "MULL", "LUFL", "LULL", "OT")
"""The 7 channels of ETTh1/ETTh2, in file order (``OT``, oil temperature, is the usual target)."""

ETT_HORIZONS: tuple[int, ...] = (96, 192, 336, 720)
"""Horizons of the long-horizon protocol."""

ETT_BATCH_SIZE = 32
"""Batch size of the published evaluation loop, whose last partial batch is dropped."""

# 12 / 4 / 4 months of 30 days of hourly rows; rows from 14400 on are unused.
_ETT_BORDERS = {"train": (0, 8640), "val": (8640, 11520), "test": (11520, 14400)}
_ETT_ROWS = 14400


def ett_splits() -> dict[str, slice]:
    """Row ranges of the ETT-hour splits (of the *targets*; inputs may reach back).

    Returns:
        ``{"train": slice(0, 8640), "val": slice(8640, 11520), "test": slice(11520, 14400)}``,
        i.e. rows 0..8639, 8640..11519 and 11520..14399. Rows 14400.. are not used.
    """
    return {name: slice(start, stop) for name, (start, stop) in _ETT_BORDERS.items()}


def load_ett(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read ``ETTh1.csv`` / ``ETTh2.csv``.

    Returns:
        DataFrame ``[T, 7]``: a ``DatetimeIndex`` named ``date`` and the float64 columns
        :data:`ETT_CHANNELS` in file order (T = 17,420 for the published files).
    Raises:
        FileNotFoundError: if the file is missing.
        DataError: if the columns or the length do not match the ETT-hour layout.
    """
    frame = pd.read_csv(path)
    expected = ["date", *ETT_CHANNELS]
    if list(frame.columns) != expected:
        raise DataError(
            f"{os.fspath(path)!r} is not an ETT-hour file: expected columns {expected}, got "
            f"{list(frame.columns)}. Use the unmodified ETTh1.csv/ETTh2.csv from zhouhaoyi/ETDataset."
        )
    if len(frame) < _ETT_ROWS:
        raise DataError(
            f"{os.fspath(path)!r} has {len(frame)} rows; the ETT protocol needs at least "
            f"{_ETT_ROWS} (train + val + test). Use the complete, unmodified file."
        )
    frame["date"] = pd.to_datetime(frame["date"])
    return frame.set_index("date").astype(np.float64)


def _ett_values(data: pd.DataFrame | ArrayLike) -> np.ndarray:
    values = np.asarray(data.to_numpy() if isinstance(data, pd.DataFrame) else data, np.float64)
    if values.ndim != 2 or values.shape[0] < _ETT_ROWS:
        raise ValueError(
            f"ETT data must be 2-D [T, C] with T >= {_ETT_ROWS} rows, got shape {values.shape}. "
            "Pass the frame from load_ett() (or its .to_numpy())."
        )
    return values


def ett_scaler(data: pd.DataFrame | ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Z-score statistics fitted on the training rows 0..8639 only.

    Inputs:
        data: ``[T, C]`` raw values (the frame from :func:`load_ett`).
    Returns:
        ``(mean [C], std [C])`` with the *population* std (``ddof=0``, as sklearn's
        ``StandardScaler`` used by the published code).
    """
    values = _ett_values(data)
    train = values[_ETT_BORDERS["train"][0] : _ETT_BORDERS["train"][1]]
    return train.mean(axis=0), train.std(axis=0)


def scale_ett(data: pd.DataFrame | ArrayLike) -> np.ndarray:
    """Scale every row with the training-rows statistics of :func:`ett_scaler`.

    ``[T, C] -> [T, C]`` float64. The published metrics are computed on this scale.
    """
    values = _ett_values(data)
    mean, std = ett_scaler(values)
    return (values - mean) / std


def _check_split(split: str) -> tuple[int, int]:
    try:
        return _ETT_BORDERS[split]
    except KeyError:
        raise ValueError(
            f"Unknown ETT split {split!r}. Valid splits: {', '.join(_ETT_BORDERS)}."
        ) from None


def _check_positive(name: str, value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}.")
    return int(value)


def ett_window_count(
    split: str,
    input_length: int = 336,
    horizon: int = 96,
    *,
    drop_last_batch: bool = True,
    batch_size: int = ETT_BATCH_SIZE,
) -> int:
    """Number of windows of a split under the protocol.

    Targets of window ``i`` are rows ``first + i .. first + i + H - 1`` inside the split,
    with ``first = max(split start, L)`` (training windows cannot reach before row 0; val and
    test inputs reach back into the previous split). That gives ``stop - first - H + 1``
    windows (``2880 - H + 1`` for test), or ``floor(that / batch_size) * batch_size`` with
    ``drop_last_batch``: the published evaluation iterates the test set in batches of 32 with
    ``drop_last=True`` and no shuffling, so it scores only the first full batches.
    """
    start, stop = _check_split(split)
    input_length = _check_positive("input_length", input_length)
    horizon = _check_positive("horizon", horizon)
    batch_size = _check_positive("batch_size", batch_size)
    first = max(start, input_length)
    count = stop - first - horizon + 1
    if count < 1:
        raise ValueError(
            f"The {split} split (rows {start}..{stop - 1}) holds no window of input_length="
            f"{input_length} and horizon={horizon}. Use a shorter input or horizon."
        )
    if drop_last_batch:
        count = (count // batch_size) * batch_size
        if count == 0:
            raise ValueError(
                f"The {split} split has fewer windows than one batch of {batch_size}; pass "
                "drop_last_batch=False or a smaller batch_size."
            )
    return count


def ett_windows(
    scaled: ArrayLike,
    split: str = "test",
    input_length: int = 336,
    horizon: int = 96,
    *,
    drop_last_batch: bool = True,
    batch_size: int = ETT_BATCH_SIZE,
) -> tuple[np.ndarray, np.ndarray]:
    """Input and target windows of one split, at stride 1, as read-only views (no copies).

    Inputs:
        scaled: ``[T, C]`` scaled values (from :func:`scale_ett`), T >= 14400.
        split: ``"train"``, ``"val"`` or ``"test"``.
        input_length: L (336 in DLinear, 96 in Informer-style setups).
        horizon: H, one of :data:`ETT_HORIZONS` for the published tables.
        drop_last_batch: keep only the first ``floor(n / batch_size) * batch_size`` windows
            (the convention of the published test figures, see :func:`ett_window_count`).
    Returns:
        ``inputs [N, L, C]`` and ``targets [N, H, C]``; window ``i``'s targets are rows
        ``first + i ..`` and its inputs the L rows before. Both are views of ``scaled``
        (``np.shares_memory`` is true); copy before writing to them.
    """
    values = np.asarray(scaled)
    if values.ndim != 2 or values.shape[0] < _ETT_ROWS:
        raise ValueError(
            f"scaled must be 2-D [T, C] with T >= {_ETT_ROWS}, got shape {values.shape}. "
            "Pass scale_ett(load_ett(path))."
        )
    count = ett_window_count(
        split, input_length, horizon, drop_last_batch=drop_last_batch, batch_size=batch_size
    )
    start, _ = _check_split(split)
    first_input = max(start, input_length) - input_length
    span = values[first_input : first_input + count + input_length + horizon - 1]
    windows = sliding_window_view(span, input_length + horizon, axis=0)  # [N, C, L+H]
    windows = windows.transpose(0, 2, 1)  # [N, C, L+H] -> [N, L+H, C]
    return windows[:, :input_length, :], windows[:, input_length:, :]


def ett_test_windows(
    frame: pd.DataFrame | ArrayLike,
    input_length: int = 336,
    horizon: int = 96,
    *,
    drop_last_batch: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Scaled test windows of the long-horizon protocol in one call.

    ``frame [T, 7]`` (raw, from :func:`load_ett`) -> ``inputs [N, L, 7]``, ``targets [N, H, 7]``
    with ``N = floor((2880 - H + 1) / 32) * 32`` (or ``2880 - H + 1`` without
    ``drop_last_batch``); views of one scaled array. For the univariate setting, scaled
    channel-wise in the same way, take ``[..., -1:]`` (``OT``).
    """
    return ett_windows(
        scale_ett(frame), "test", input_length, horizon, drop_last_batch=drop_last_batch
    )


def score_ett(pred: ArrayLike, true: ArrayLike) -> dict[str, float]:
    """MSE and MAE on the scaled data, averaged over windows, steps and channels.

    Inputs:
        pred, true: ``[N, H, C]`` same shape (forecast and :func:`ett_windows` targets).
    Returns:
        ``{"mse": float, "mae": float}`` (round to 3 decimals to compare with the tables).
    """
    p = np.asarray(pred, dtype=np.float64)
    t = np.asarray(true, dtype=np.float64)
    if p.shape != t.shape or p.ndim != 3 or p.size == 0:
        raise ValueError(
            f"pred and true must both be non-empty [N, H, C] arrays of the same shape, got "
            f"pred {p.shape} and true {t.shape}. Forecast every window of ett_windows()."
        )
    err = p - t
    return {"mse": float(np.mean(err * err)), "mae": float(np.mean(np.abs(err)))}
