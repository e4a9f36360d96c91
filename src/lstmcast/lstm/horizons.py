"""Reading gradient-norm curves: the gradient horizon, the e-folding length, one row of them per
model, stage and seed (:func:`gradient_horizons`) and the median and range over seeds
(:func:`seed_summary`). Pure functions of arrays and frames; :mod:`lstmcast.lstm.gradflow`
measures the curves (and re-exports everything here)."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pandas as pd

from lstmcast.errors import ConfigError, DataError

__all__ = [
    "HORIZON_COLUMNS",
    "NORM_COLUMNS",
    "efolding_length",
    "format_horizon",
    "gradient_horizon",
    "gradient_horizons",
    "seed_summary",
]

#: Columns of :func:`gradient_norms`' frame.
NORM_COLUMNS: tuple[str, ...] = ("step", "distance", "h_grad_norm", "c_grad_norm", "forget_path")


def gradient_horizon(norms: np.ndarray | list[float], threshold: float = 1e-3) -> int | None:
    """Distance at which ``norms`` first drops below ``threshold * norms[0]``; ``None`` if never.

    Input: ``norms [K]`` ordered by distance from the loss (``norms[0]`` at the last step,
    ``norms[k]`` ``k`` steps earlier). Pure function.
    """
    values = np.asarray(norms, dtype=np.float64)
    if values.ndim != 1 or values.size == 0:
        raise DataError(f"norms must be a non-empty 1-D sequence ordered by distance, got shape {values.shape}.")
    if not 0.0 < threshold < 1.0:
        raise ConfigError(f"threshold must be in (0, 1), got {threshold}.")
    if not np.isfinite(values[0]) or values[0] <= 0.0:
        raise DataError(
            f"The norm at distance 0 must be positive and finite to define a horizon, got {values[0]}."
        )
    below = np.flatnonzero(values < threshold * values[0])
    return int(below[0]) if below.size else None


def efolding_length(norms: np.ndarray | list[float], start: int = 1) -> float:
    """Steps over which ``norms`` shrinks by a factor ``e``: ``-1 / slope`` of the least-squares
    line through ``(k, log norms[k])`` for ``k >= start``; ``inf`` when it does not shrink.

    Input: ``norms [K]`` ordered by distance from the loss, as for :func:`gradient_horizon`.
    ``start=1`` leaves out distance 0, where an LSTM's ``dL/dh`` is the loss's own projection and
    the first step back drops by the gate weights alone. Zeros (underflow) and non-finite values
    are left out of the fit. For ``norms = r**k`` the result is ``-1 / log(r)``. Pure function.
    """
    values = np.asarray(norms, dtype=np.float64)
    if values.ndim != 1:
        raise DataError(f"norms must be a 1-D sequence ordered by distance, got shape {values.shape}.")
    if not isinstance(start, int) or start < 0:
        raise ConfigError(f"start must be a non-negative integer, got {start!r}.")
    distance = np.arange(values.size)[start:]
    values = values[start:]
    keep = np.isfinite(values) & (values > 0)
    if keep.sum() < 2:
        raise DataError(
            f"An e-folding length needs at least two positive, finite norms from distance {start} on; "
            f"got {int(keep.sum())}."
        )
    slope = np.polyfit(distance[keep], np.log(values[keep]), 1)[0]
    return math.inf if slope >= 0 else float(-1.0 / slope)


def format_horizon(horizon: int | float | None, length: int) -> str:
    """``'12 steps'`` or ``'beyond the sequence (> L-1)'`` for a missing horizon."""
    if horizon is None or pd.isna(horizon):
        return f"beyond the sequence (> {length - 1})"
    return f"{int(horizon)} steps"


#: The per-seed columns :func:`gradient_horizons` returns, besides the grouping keys.
HORIZON_COLUMNS: tuple[str, ...] = (
    "length", "h_horizon", "c_horizon", "path_horizon", "h_efold", "c_efold", "path_efold",
    "h_horizon_text", "forget_path_end",
)


def gradient_horizons(norms: pd.DataFrame, threshold: float = 1e-3) -> pd.DataFrame:
    """Summarise a :func:`gradient_flow` (or :func:`gradient_norms`) frame into horizons.

    One row per ``model``, ``stage`` and ``seed`` (those of the three present) with ``length``,
    ``h_horizon``, ``c_horizon`` and ``path_horizon`` (nullable integers: ``<NA>`` means beyond
    the sequence, or not applicable for ``c``/``path`` on an RNN or GRU), the e-folding lengths
    ``h_efold``, ``c_efold``, ``path_efold`` (floats, ``inf`` when the norm does not shrink, NaN
    when not applicable), the readable ``h_horizon_text`` and the forget-gate product over the
    whole sequence (``forget_path_end``).
    """
    missing = [c for c in NORM_COLUMNS if c not in norms.columns]
    if missing:
        raise DataError(f"norms is missing the columns {missing}; pass the frame gradient_flow returns.")
    keys = [k for k in ("model", "stage", "seed") if k in norms.columns]
    groups = norms.groupby(keys, sort=False) if keys else [((), norms)]
    rows = []
    for key, group in groups:
        group = group.sort_values("distance")
        length = len(group)
        row = dict(zip(keys, key if isinstance(key, tuple) else (key,), strict=True))
        row["length"] = length
        for column, name in (("h_grad_norm", "h"), ("c_grad_norm", "c"), ("forget_path", "path")):
            values = group[column].to_numpy()
            applicable = not np.isnan(values).all()
            row[f"{name}_horizon"] = gradient_horizon(values, threshold) if applicable else pd.NA
            row[f"{name}_efold"] = efolding_length(values) if applicable else np.nan
        row["h_horizon_text"] = format_horizon(row["h_horizon"], length)
        row["forget_path_end"] = float(group["forget_path"].iloc[-1])
        rows.append(row)
    frame = pd.DataFrame(rows)[[*keys, *HORIZON_COLUMNS]]
    for name in ("h_horizon", "c_horizon", "path_horizon"):
        frame[name] = frame[name].astype("Int64")
    return frame


def _median_range(values: np.ndarray, text: Callable[[float], str]) -> str:
    """``'38 (36–51)'``: median and range of ``values`` (``inf`` allowed), or the one value."""
    low, high = text(float(values.min())), text(float(values.max()))
    if len(values) == 1 or low == high:
        return low
    return f"{text(float(np.median(values)))} ({low}–{high})"


def _steps_text(beyond: str) -> Callable[[float], str]:
    """A horizon as text: whole steps, or ``beyond`` for an infinite one."""
    return lambda value: beyond if math.isinf(value) else f"{value:.0f}"


def seed_summary(horizons: pd.DataFrame) -> pd.DataFrame:
    """Median and range over seeds of :func:`gradient_horizons`' per-seed rows, as text.

    One row per ``model`` and ``stage``: ``seeds`` (how many) and, for each horizon and e-folding
    length, ``'median (min–max)'`` (one value when all seeds agree); a horizon beyond the sequence is written ``>L-1`` and counts
    as larger than any measured one. ``forget_path_end`` is given the same way in 2 significant
    digits.
    """
    keys = [k for k in ("model", "stage") if k in horizons.columns]
    if "seed" not in horizons.columns:
        raise DataError("horizons has no 'seed' column; pass gradient_horizons of a gradient_flow frame.")
    rows = []
    for key, group in horizons.groupby(keys, sort=False):
        length = int(group["length"].iloc[0])
        row = dict(zip(keys, key if isinstance(key, tuple) else (key,), strict=True))
        row["seeds"] = len(group)
        for name in ("h", "c", "path"):
            efold = group[f"{name}_efold"].to_numpy(dtype=np.float64)
            if np.isnan(efold).all():  # not applicable (c and path of an RNN or GRU)
                row[f"{name}_horizon"] = row[f"{name}_efold"] = "-"
                continue
            # a missing horizon is beyond the sequence: larger than any measured one
            horizon = group[f"{name}_horizon"].astype("Float64").fillna(math.inf).to_numpy(dtype=np.float64)
            row[f"{name}_horizon"] = _median_range(horizon, _steps_text(f">{length - 1}"))
            row[f"{name}_efold"] = _median_range(efold, lambda v: "inf" if math.isinf(v) else f"{v:.1f}")
        ends = group["forget_path_end"].to_numpy(dtype=np.float64)
        row["forget_path_end"] = "-" if np.isnan(ends).all() else _median_range(ends, lambda v: f"{v:.2g}")
        rows.append(row)
    return pd.DataFrame(rows)
