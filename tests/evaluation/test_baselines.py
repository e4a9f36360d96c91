"""Baselines: hand-computed forecasts, the M4 Naive2 steps against a literal port, properties."""

from __future__ import annotations

from math import sqrt

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from lstmcast.evaluation import baselines as B


def _one(values) -> np.ndarray:
    """One univariate series -> history [1, L, 1]."""
    return np.asarray(values, dtype=float)[None, :, None]


# --------------------------------------------------------------------------- hand-computed values


def test_naive_repeats_last_value():
    out = B.naive(_one([1, 2, 3, 4]), 3)
    assert out.shape == (1, 3, 1)
    np.testing.assert_array_equal(out[0, :, 0], [4, 4, 4])


def test_seasonal_naive_repeats_last_season():
    np.testing.assert_array_equal(B.seasonal_naive(_one([1, 2, 3, 4]), 3, 2)[0, :, 0], [3, 4, 3])
    np.testing.assert_array_equal(
        B.seasonal_naive(_one([1, 2, 3, 4, 5]), 7, 3)[0, :, 0], [3, 4, 5, 3, 4, 5, 3]
    )


def test_seasonal_naive_needs_a_full_season():
    with pytest.raises(ValueError, match="L=3 < season=4"):
        B.seasonal_naive(_one([1, 2, 3]), 2, 4)


def test_drift_extends_first_to_last_line():
    # slope (4 - 1) / 3 = 1
    np.testing.assert_allclose(B.drift(_one([1, 2, 0, 4]), 3)[0, :, 0], [5, 6, 7])
    with pytest.raises(ValueError, match="at least 2 past steps"):
        B.drift(_one([1]), 2)


def test_window_mean():
    np.testing.assert_allclose(B.window_mean(_one([1, 2, 3, 4]), 2)[0, :, 0], [2.5, 2.5])


def test_channels_and_windows_are_independent():
    history = np.array(
        [
            [[1, 10], [2, 20], [3, 40]],  # window 0, channels (a, b)
            [[5, 0], [4, 0], [3, 0]],  # window 1
        ],
        dtype=float,
    )  # [N=2, L=3, C=2]
    np.testing.assert_allclose(B.naive(history, 2), [[[3, 40], [3, 40]], [[3, 0], [3, 0]]])
    np.testing.assert_allclose(B.drift(history, 1), [[[4, 55]], [[2, 0]]])
    np.testing.assert_allclose(B.window_mean(history, 1), [[[2, 70 / 3]], [[4, 0]]])


def test_naive2_on_exact_multiplicative_seasonality():
    # level 10 times indices (0.5, 1, 1.5, 1): the 2x4 moving average is exactly 10, the
    # indices are recovered exactly, and Naive2 equals the seasonal naive forecast.
    pattern = np.array([0.5, 1.0, 1.5, 1.0])
    y = 10 * np.tile(pattern, 6)  # L = 24 >= 3 * 4
    assert B.seasonality_test(y, 4)
    np.testing.assert_allclose(B.deseasonalize(y, 4), [50, 100, 150, 100])
    np.testing.assert_allclose(B.naive2(_one(y), 6, 4)[0, :, 0], [5, 10, 15, 10, 5, 10])


def test_naive2_phase_follows_series_length():
    # drop the first value: the last observation now sits at cycle position (L-1) % 4 = 2
    pattern = np.array([0.5, 1.0, 1.5, 1.0])
    y = (10 * np.tile(pattern, 6))[1:]  # starts at 10, ends at 10 (position 3 of the pattern)
    np.testing.assert_allclose(B.naive2(_one(y), 4, 4)[0, :, 0], [5, 10, 15, 10])


def test_naive2_is_naive_when_not_seasonal():
    rng = np.random.default_rng(0)
    short = _one(rng.uniform(1, 2, size=11))  # L < 3 * season: never seasonal (M4/R guard)
    np.testing.assert_array_equal(B.naive2(short, 5, 4), B.naive(short, 5))
    trend = _one(np.arange(1.0, 101.0))  # no cycle at lag 7 beyond the trend's ACF decay
    np.testing.assert_allclose(B.naive2(trend, 5, 1), B.naive(trend, 5))


def test_centered_moving_average_odd_and_even_match_pandas():
    rng = np.random.default_rng(1)
    x = rng.uniform(1, 5, size=50)
    got3 = B._centered_moving_average(x, 3)
    np.testing.assert_allclose(got3, pd.Series(x).rolling(3, center=True).mean().to_numpy())
    got4 = B._centered_moving_average(x, 4)
    ref4 = np.roll(
        pd.Series(x).rolling(4, center=True).mean().rolling(2, center=True).mean().to_numpy(), -1
    )
    np.testing.assert_allclose(got4, ref4)


# --------------------------------------------------------------------------- M4 reference port


def _m4_acf(data, k):
    m = np.mean(data)
    s1 = sum((data[i] - m) * (data[i - k] - m) for i in range(k, len(data)))
    s2 = sum((data[i] - m) ** 2 for i in range(len(data)))
    return float(s1 / s2)


def _m4_seasonality_test(original_ts, ppy):
    # R's SeasonalityTest (acf(1) squared) and its 3 * ppy length guard
    if len(original_ts) < 3 * ppy:
        return False
    s = _m4_acf(original_ts, 1) ** 2
    for i in range(2, ppy):
        s = s + (_m4_acf(original_ts, i) ** 2)
    limit = 1.645 * (sqrt((1 + 2 * s) / len(original_ts)))
    return (abs(_m4_acf(original_ts, ppy))) > limit


def _m4_moving_averages(ts_init, window):
    if window % 2 == 0:  # R decompose; M4's Python switches on len(ts_init) instead
        ts_ma = pd.Series(ts_init).rolling(window, center=True).mean()
        ts_ma = ts_ma.rolling(2, center=True).mean()
        ts_ma = np.roll(ts_ma, -1)
    else:
        ts_ma = pd.Series(ts_init).rolling(window, center=True).mean().to_numpy()
    return ts_ma


def _m4_deseasonalize(original_ts, ppy):
    if _m4_seasonality_test(original_ts, ppy):
        ma_ts = _m4_moving_averages(original_ts, ppy)
        le_ts = original_ts * 100 / ma_ts
        le_ts = np.hstack((le_ts, np.full((ppy - (len(le_ts) % ppy)), np.nan)))
        le_ts = np.reshape(le_ts, (-1, ppy))
        si = np.nanmean(le_ts, 0)
        norm = np.sum(si) / (ppy * 100)
        si = si / norm
    else:
        si = np.full(ppy, 100)
    return si


def _m4_naive2(ts, fh, ppy):
    si = _m4_deseasonalize(ts, ppy)
    last = ts[-1] * 100 / si[(len(ts) - 1) % ppy]
    return np.array([last * si[i % ppy] / 100 for i in range(len(ts), len(ts) + fh)])


@pytest.mark.parametrize(("length", "season"), [(48, 4), (61, 7), (73, 12), (100, 24), (30, 3)])
def test_naive2_matches_m4_port(length, season):
    rng = np.random.default_rng(length)
    t = np.arange(length)
    batch = []
    for amplitude in (0.0, 0.05, 0.3, 0.8):  # from non-seasonal to strongly seasonal
        y = (
            50
            + 0.2 * t
            + 20 * amplitude * np.sin(2 * np.pi * t / season)
            + rng.normal(0, 2, length)
        )
        batch.append(y)
    history = np.stack(batch, axis=-1)[None]  # [1, L, C=4]
    got = B.naive2(history, 9, season)
    for c, y in enumerate(batch):
        assert bool(B.seasonality_test(y, season)) == _m4_seasonality_test(y, season)
        np.testing.assert_allclose(
            B.deseasonalize(y, season), _m4_deseasonalize(y, season), rtol=1e-12
        )
        np.testing.assert_allclose(got[0, :, c], _m4_naive2(y, 9, season), rtol=1e-12)


def test_acf_matches_m4_loop():
    y = np.random.default_rng(3).normal(size=40)
    for k in (1, 2, 5, 12):
        assert B.acf(y, k) == pytest.approx(_m4_acf(y, k))


# --------------------------------------------------------------------------- registry and checks


@pytest.mark.parametrize("name", sorted(B.BASELINES))
def test_every_baseline_returns_n_h_c(name):
    history = np.random.default_rng(0).uniform(1, 2, size=(5, 30, 3))
    out = B.forecast_baseline(name, history, 7, season=4)
    assert out.shape == (5, 7, 3)
    assert out.dtype == np.float64
    assert np.isfinite(out).all()


def test_forecast_baseline_lists_valid_names():
    with pytest.raises(
        ValueError, match=r"Unknown baseline 'arima'\. Valid names: drift, naive, naive2"
    ):
        B.forecast_baseline("arima", _one([1, 2]), 1)


def test_history_must_be_3d():
    with pytest.raises(ValueError, match=r"history must be 3-D \[N, L, C\].*x\[None, :, None\]"):
        B.naive([1.0, 2.0, 3.0], 2)
    with pytest.raises(ValueError, match="history is empty"):
        B.naive(np.zeros((0, 3, 1)), 2)


@pytest.mark.parametrize("horizon", [0, -1, 2.5, True])
def test_horizon_must_be_positive_int(horizon):
    with pytest.raises(ValueError, match="horizon must be a positive int"):
        B.naive(_one([1.0]), horizon)


def test_season_must_be_positive_int():
    with pytest.raises(ValueError, match="season must be a positive int"):
        B.seasonal_naive(_one([1.0, 2.0]), 2, 0)


@pytest.mark.parametrize(
    ("freq", "season"),
    [
        ("h", 24),
        ("H", 24),
        ("2h", 12),
        ("5h", 1),
        ("D", 7),
        ("B", 5),
        ("W", 52),
        ("W-SUN", 52),
        ("M", 12),
        ("MS", 12),
        ("ME", 12),
        ("Q", 4),
        ("QE-DEC", 4),
        ("Y", 1),
        ("YE", 1),
        ("min", 60),
        ("T", 60),
        ("15min", 4),
        ("s", 60),
        (None, 1),
        ("nonsense?", 1),
        ("X", 1),
    ],
)
def test_seasonality_from_freq(freq, season):
    assert B.seasonality_from_freq(freq) == season


def test_seasonality_from_freq_rejects_non_strings():
    with pytest.raises(TypeError, match="pandas frequency string"):
        B.seasonality_from_freq(24)  # type: ignore[arg-type]


def test_seasonality_from_freq_agrees_with_pandas_index():
    idx = pd.date_range("2020-01-01", periods=5, freq="h")
    assert B.seasonality_from_freq(idx.freqstr) == 24


# --------------------------------------------------------------------------- properties

histories = st.tuples(st.integers(1, 3), st.integers(1, 20), st.integers(1, 3)).flatmap(
    lambda s: arrays(np.float64, s, elements=st.floats(0.1, 1e3))
)


@settings(max_examples=50, deadline=None)
@given(histories, st.integers(1, 10))
def test_season_one_reduces_to_naive(history, horizon):
    expected = B.naive(history, horizon)
    np.testing.assert_array_equal(B.seasonal_naive(history, horizon, 1), expected)
    np.testing.assert_allclose(B.naive2(history, horizon, 1), expected)


@settings(max_examples=50, deadline=None)
@given(histories, st.integers(1, 12), st.integers(1, 5))
def test_seasonal_naive_is_periodic_and_copies_history(history, horizon, season):
    length = history.shape[1]
    if length < season:
        return
    out = B.seasonal_naive(history, horizon, season)
    np.testing.assert_array_equal(
        out[:, : min(season, horizon)], history[:, length - season :][:, :horizon]
    )
    if horizon > season:
        np.testing.assert_array_equal(out[:, season:], out[:, :-season])


@settings(max_examples=50, deadline=None)
@given(histories, st.integers(1, 10))
def test_constant_history_gives_constant_forecasts(history, horizon):
    const = np.broadcast_to(history[:, :1, :], history.shape)
    for name in B.BASELINES:
        if name == "drift" and history.shape[1] < 2:
            continue
        out = B.forecast_baseline(name, const, horizon, season=1)
        np.testing.assert_allclose(out, np.broadcast_to(const[:, :1, :], out.shape))
