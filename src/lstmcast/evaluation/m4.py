"""M4 Hourly (Makridakis et al., IJF 2020): 414 series, horizon 48, seasonality 24.

    series = load_m4_hourly("data/m4_hourly_train.csv", "data/m4_hourly_test.csv")
    score_m4([forecast(s.train) for s in series], series)  # one [48] forecast per series
    # -> {"smape": ..., "mase": ..., "owa": ..., "smape_naive2": ..., "mase_naive2": ...}

Pure data/numpy functions; :mod:`lstmcast.evaluation.protocols` re-exports every name.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from lstmcast.errors import DataError
from lstmcast.scoring import metrics
from lstmcast.scoring.baselines import naive2

__all__ = ["M4_HOURLY_HORIZON", "M4_HOURLY_SEASON", "M4Series", "load_m4", "load_m4_hourly", "score_m4"]


M4_HOURLY_HORIZON = 48
"""Forecast horizon of M4 Hourly."""

M4_HOURLY_SEASON = 24
"""Seasonal period of M4 Hourly (used by MASE and Naive2)."""


@dataclass(frozen=True)
class M4Series:
    """One M4 series: its id, training values ``[T]`` and official test values ``[H]``."""

    id: str
    train: np.ndarray
    test: np.ndarray


def _read_m4_wide(path: str | os.PathLike[str]) -> tuple[list[str], list[np.ndarray]]:
    frame = pd.read_csv(path)
    if frame.columns[0] != "V1":
        raise DataError(
            f"{os.fspath(path)!r} is not an M4 file: expected the wide layout with first column "
            f"'V1' (series id) then values, got first column {frame.columns[0]!r}."
        )
    ids = frame["V1"].astype(str).tolist()
    values = frame.iloc[:, 1:].to_numpy(dtype=np.float64)  # [S, max T], NaN-padded
    rows = []
    for sid, row in zip(ids, values, strict=True):
        n = int(np.sum(~np.isnan(row)))
        if np.isnan(row[:n]).any():
            raise DataError(f"Series {sid!r} in {os.fspath(path)!r} has missing values inside it.")
        rows.append(row[:n].copy())
    return ids, rows


def load_m4_hourly(
    train_path: str | os.PathLike[str], test_path: str | os.PathLike[str]
) -> list[M4Series]:
    """Read M4 Hourly (``Hourly-train.csv``, ``Hourly-test.csv``) into a list of series.

    Returns:
        414 :class:`M4Series` in file order (``H1`` .. ``H414``), ``train`` of 700 or 960
        values and ``test`` of :data:`M4_HOURLY_HORIZON` = 48 values.
    Raises:
        DataError: if the ids of the two files differ or a test series is not 48 long.
    """
    return load_m4(train_path, test_path, M4_HOURLY_HORIZON, "Hourly")


def load_m4(train_path: str | os.PathLike[str], test_path: str | os.PathLike[str], horizon: int,
            frequency: str) -> list[M4Series]:
    """Read one M4 frequency's files (``{frequency}-train.csv``, ``{frequency}-test.csv``, e.g.
    ``"Weekly"`` with ``horizon=13``): every series in file order, its test part ``horizon`` long.

    Raises:
        DataError: if the ids of the two files differ or a test series is not ``horizon`` long.
    """
    train_ids, trains = _read_m4_wide(train_path)
    test_ids, tests = _read_m4_wide(test_path)
    if train_ids != test_ids:
        raise DataError(
            f"The train and test files list different series ({len(train_ids)} vs "
            f"{len(test_ids)} ids, or a different order). Pass the matching {frequency} files."
        )
    out = []
    for sid, train, test in zip(train_ids, trains, tests, strict=True):
        if test.size != horizon:
            raise DataError(
                f"Series {sid!r} has {test.size} test values; M4 {frequency} has {horizon}. "
                f"Check that the test file is {frequency}-test.csv."
            )
        out.append(M4Series(sid, train, test))
    return out


def _naive2_forecasts(series: Sequence[M4Series], horizon: int, season: int) -> list[np.ndarray]:
    """Naive2 for every series, batched by training length: ``S x [T_s] -> S x [H]``."""
    out: list[np.ndarray | None] = [None] * len(series)
    by_length: dict[int, list[int]] = {}
    for i, s in enumerate(series):
        by_length.setdefault(s.train.size, []).append(i)
    for members in by_length.values():
        history = np.stack([series[i].train for i in members])[:, :, None]  # [S', T, 1]
        forecast = naive2(history, horizon, season)[:, :, 0]  # [S', H]
        for i, f in zip(members, forecast, strict=True):
            out[i] = f
    return [f for f in out if f is not None]  # every slot is filled: each series has a length


def score_m4(
    forecasts: np.ndarray | Sequence[ArrayLike],
    series: Sequence[M4Series],
    season: int = M4_HOURLY_SEASON,
) -> dict[str, float]:
    """sMAPE, MASE and OWA of forecasts for M4 series, as the competition computes them.

    * sMAPE (percent) and MASE are computed per series over its horizon and then averaged
      over series. MASE scales by the in-sample MAE of the seasonal naive forecast at lag
      ``season`` on the series' *whole training* series.
    * OWA uses the dataset-level averages: ``((sMAPE / sMAPE_N2) + (MASE / MASE_N2)) / 2``,
      where N2 is Naive2 (:func:`lstmcast.evaluation.baselines.naive2` on each series' whole
      training series, seasonality test and decomposition included) on the same series.

    Forecasts are scored as given (the benchmark scripts clip negative forecasts to 0 before
    scoring; do that in the forecaster if wanted).

    Inputs:
        forecasts: ``[S, H]`` array, or S arrays ``[H]``, one per series in ``series`` order.
        series: the S :class:`M4Series` (e.g. from :func:`load_m4_hourly`).
        season: seasonal period (24 for Hourly).
    Returns:
        ``{"smape", "mase", "owa", "smape_naive2", "mase_naive2"}``.
    """
    if len(series) == 0:
        raise ValueError("series is empty; pass the list from load_m4_hourly().")
    if len(forecasts) != len(series):
        raise ValueError(
            f"Got {len(forecasts)} forecasts for {len(series)} series; pass one forecast per "
            "series, in the same order."
        )
    smapes = np.empty((2, len(series)))
    mases = np.empty((2, len(series)))
    horizon = series[0].test.size
    references = _naive2_forecasts(series, horizon, season)
    for i, (s, f, ref) in enumerate(zip(series, forecasts, references, strict=True)):
        f = np.asarray(f, dtype=np.float64)
        if f.shape != s.test.shape:
            raise ValueError(
                f"Forecast {i} (series {s.id!r}) has shape {f.shape}; expected {s.test.shape}, "
                "one value per test step."
            )
        for row, pred in enumerate((f, ref)):
            smapes[row, i] = metrics.smape(s.test, pred)
            mases[row, i] = metrics.mase(s.test, pred, s.train, season=season)
    smape, smape_n2 = (float(v) for v in smapes.mean(axis=1))
    mase, mase_n2 = (float(v) for v in mases.mean(axis=1))
    return {
        "smape": smape,
        "mase": mase,
        "owa": metrics.owa(smape, mase, smape_n2, mase_n2),
        "smape_naive2": smape_n2,
        "mase_naive2": mase_n2,
    }
