"""Series prepared for training: which series learn, how each is scaled, padded and split.

Forecast-first (no fractions, no ``bounds_fn``): the last ``data.val_steps`` target rows of each
series validate when the series can spare them; a series shorter than a window is padded on the
left with its first row (at most ``L - MIN_INPUT`` rows); the scaler is fitted on the rows that
train. Benchmark protocols split by ``data.val_fraction`` / ``data.test_fraction`` or by explicit
``bounds_fn(n_rows)`` bounds instead.

Symbols: n rows of a series, C channels, L input_length, H horizon.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from lstmcast.config import DataConfig
from lstmcast.data.prepare import SeriesData, pad_left
from lstmcast.data.scaling import Scaler
from lstmcast.data.splits import SplitBounds, check_length
from lstmcast.errors import DataError

MIN_INPUT = 2  # observed rows a training window needs before its first target (the rest is padding)

BoundsFn = Callable[[int], SplitBounds]


@dataclass
class TrainPart:
    """One series prepared for training: scaled (and left-padded) values and its split."""

    key: str
    scaled: np.ndarray  # [pad + n, C] float32
    bounds: SplitBounds  # over the padded rows
    pad: int
    scaler: Scaler
    index: pd.Index  # the series' time index (unpadded)

    def ranges(self) -> dict[str, list[str]]:
        """Time spans of the training, validation and test rows (padding excluded)."""
        b, pad, index = self.bounds, self.pad, self.index

        def span(lo: int, hi: int) -> list[str]:
            lo, hi = max(lo - pad, 0), max(hi - pad, 0)
            return [str(index[lo]), str(index[hi - 1])] if hi > lo else []

        return {"train": span(0, b.train_end), "val": span(b.train_end, b.val_end),
                "test": span(b.val_end, b.n_rows)}


def trainable_series(series: list[SeriesData], data: DataConfig,
                     bounds_fn: BoundsFn | None) -> tuple[list[SeriesData], list[str]]:
    """Series long enough to learn from, and the keys of those left out."""
    if bounds_fn is not None or data.uses_fractions:
        return series, []  # benchmark protocols: every series must fit (checked in prepare_part)
    need = data.horizon + MIN_INPUT
    keep = [s for s in series if len(s.values) >= need]
    skipped = [s.key for s in series if len(s.values) < need]
    if not keep:
        raise DataError(
            f"Every series is too short to learn from: a training window needs horizon={data.horizon} target "
            f"rows plus at least {MIN_INPUT} input rows, and the longest series has "
            f"{max(len(s.values) for s in series)}. Use a smaller data.horizon or longer series."
        )
    return keep, skipped


def prepare_part(s: SeriesData, data: DataConfig, bounds_fn: BoundsFn | None, holdout: bool) -> TrainPart:
    """Scale one series (scaler fitted on its training rows only) and split it; ``holdout=False``
    is the refit after validation, where every row trains."""
    L, H, n = input_length_of(data), data.horizon, len(s.values)
    if bounds_fn is not None or data.uses_fractions:
        if bounds_fn is None:
            bounds = check_length(n, L, H, data.val_fraction, data.test_fraction, what=s.label)
            if not holdout:
                bounds = SplitBounds(n, n, n)
        else:
            bounds = bounds_fn(n)
            if not len(bounds.target_starts("train", L, H)):
                raise DataError(
                    f"{s.label} has {n} rows and bounds_fn leaves rows 0..{bounds.train_end - 1} for "
                    f"training: no window of input_length={L} + horizon={H} fits. Give it more training "
                    "rows or use smaller data.input_length / data.horizon."
                )
        scaler = Scaler(data.scaler).fit(s.values[: bounds.train_end])
        return TrainPart(s.key, scaler.transform(s.values).astype(np.float32), bounds, 0, scaler, s.index)
    # forecast-first: the last val_steps targets validate, when the series can spare them
    val = data.validation_steps if holdout and n - data.validation_steps >= H + MIN_INPUT else 0
    pad = min(max(0, L + H + val - n), max(L - MIN_INPUT, 0))
    scaler = Scaler(data.scaler).fit(s.values[: n - val])
    scaled, _ = pad_left(scaler.transform(s.values).astype(np.float32), n + pad)
    rows = n + pad
    return TrainPart(s.key, scaled, SplitBounds(rows, rows - val, rows), pad, scaler, s.index)


def skipped_message(skipped: list[str], kept: int, data: DataConfig) -> str:
    """The warning for series too short to learn from."""
    shown = ", ".join(repr(k) for k in skipped[:5]) + (f" and {len(skipped) - 5} more" if len(skipped) > 5 else "")
    return (f"{len(skipped)} series with fewer than horizon + {MIN_INPUT} = {data.horizon + MIN_INPUT} rows "
            f"were left out of training ({shown}); the model learned from the other {kept}. They are still "
            "forecast (scaled by their own history, padded on the left).")


def input_length_of(data: DataConfig) -> int:
    """``data.input_length`` of a resolved config (``fit`` fills it in before training)."""
    if data.input_length is None:
        raise ValueError("data.input_length is not resolved yet; resolve the config first.")
    return int(data.input_length)
