"""Baselines: hand-computed forecasts, the M4 Naive2 steps against a literal port, properties."""

from __future__ import annotations

from math import sqrt

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from lstmcast.data.io import infer_frequency
from lstmcast.evaluation import baselines as B
from lstmcast.scoring.baselines import centered_moving_average, seasonally_adjusted


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


def test_seasonally_adjusted_only_positive_seasonal_rows():
    pattern = np.array([0.5, 1.0, 1.5, 1.0])
    seasonal = 10 * np.tile(pattern, 6)
    rows = np.stack([seasonal, seasonal - 6.0, np.linspace(1.0, 2.0, 24)])  # positive / has a negative / no cycle
    adjusted, si = seasonally_adjusted(rows, 4)
    np.testing.assert_allclose(si[0], [50, 100, 150, 100])
    np.testing.assert_allclose(adjusted[0], 10.0)
    np.testing.assert_array_equal(si[1:], 100.0)  # multiplicative: never for a non-positive row
    np.testing.assert_allclose(adjusted[1:], rows[1:], rtol=1e-15)
    same, ones = seasonally_adjusted(rows, 1)
    np.testing.assert_allclose(same, rows, rtol=1e-15)
    assert ones.shape == (3, 1)


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
    got3 = centered_moving_average(x, 3)
    np.testing.assert_allclose(got3, pd.Series(x).rolling(3, center=True).mean().to_numpy())
    got4 = centered_moving_average(x, 4)
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


# Every pandas frequency family, old and new spellings, anchors and multiples:
# (freq, all plausible periods, main one first).
FREQUENCIES = [
    ("h", (24, 168)),
    ("H", (24, 168)),
    ("2h", (12, 84)),
    ("3h", (8, 56)),
    ("5h", ()),  # no whole number of steps per day or per week
    ("7h", (24,)),  # weekly cycle only
    ("30min", (48, 336)),
    ("30T", (48, 336)),
    ("15min", (96, 672)),
    ("5min", (288, 2016)),
    ("min", (1440, 10080)),
    ("T", (1440, 10080)),
    ("s", (60, 3600)),
    ("S", (60, 3600)),
    ("10s", (360, 8640)),
    ("ms", (1000,)),
    ("L", (1000,)),
    ("us", ()),
    ("ns", ()),
    ("D", (7, 365)),
    ("2D", (183,)),
    ("7D", (52,)),
    ("B", (5,)),
    ("C", (5,)),
    ("bh", (8, 40)),
    ("BH", (8, 40)),
    ("W", (52,)),
    ("W-SUN", (52,)),
    ("2W-MON", (26,)),
    ("M", (12,)),
    ("MS", (12,)),
    ("ME", (12,)),
    ("BMS", (12,)),
    ("3MS", (4,)),
    ("5M", ()),
    ("SMS", (24,)),
    ("SME-15", (24,)),
    ("Q", (4,)),
    ("QS", (4,)),
    ("QE-DEC", (4,)),
    ("QS-OCT", (4,)),
    ("2QS", (2,)),
    ("Y", ()),
    ("YE", ()),
    ("YS-JAN", ()),
    ("A", ()),
    (None, ()),
    ("nonsense?", ()),
    ("X", ()),
    ("1", ()),  # the step of an integer index, from data.io.infer_frequency
]


@pytest.mark.parametrize(("freq", "periods"), FREQUENCIES)
def test_seasonal_periods(freq, periods):
    assert B.seasonal_periods(freq) == periods


@pytest.mark.parametrize(("freq", "periods"), FREQUENCIES)
def test_seasonality_from_freq_is_the_main_period(freq, periods):
    assert B.seasonality_from_freq(freq) == (periods[0] if periods else 1)


def test_half_hourly_is_daily_and_weekly_not_one_hour():
    assert B.seasonality_from_freq("30min") == 48
    assert B.seasonal_periods("30min") == (48, 336)


@pytest.mark.parametrize("freq", ["30min", "h", "D", "W-SUN", "MS", "QS-OCT", "YS-JAN", "B", "15min"])
def test_periods_of_what_pandas_infers_and_of_offsets(freq):
    idx = pd.date_range("2000-06-05", periods=20, freq=freq)
    inferred = infer_frequency(idx)  # what the forecaster and backtest pass
    expected = B.seasonal_periods(freq)
    assert B.seasonal_periods(inferred) == expected
    assert B.seasonal_periods(idx.freq) == expected  # a DateOffset is accepted too


def test_seasonality_from_freq_rejects_non_strings():
    with pytest.raises(TypeError, match="pandas frequency string"):
        B.seasonality_from_freq(24)  # type: ignore[arg-type]


def test_seasonality_from_freq_agrees_with_pandas_index():
    idx = pd.date_range("2020-01-01", periods=5, freq="h")
    assert B.seasonality_from_freq(idx.freqstr) == 24


# --------------------------------------------------------------------------- from a whole history


def test_seasonal_naive_from_history_longer_than_any_window():
    y = np.arange(1000.0)
    out = B.forecast_from_history("seasonal_naive", y, 400, 336)
    np.testing.assert_array_equal(out[:336], y[-336:])
    np.testing.assert_array_equal(out[336:], y[-336:-272])
    # the same as the window baseline on the whole series, [T] -> [H]
    np.testing.assert_array_equal(out, B.seasonal_naive(y[None, :, None], 400, 336)[0, :, 0])


def test_history_baselines_keep_the_shape_of_several_targets():
    y = np.stack([np.arange(10.0), 10 * np.arange(10.0)], axis=1)  # [T=10, C=2]
    out = B.forecast_from_history("naive", y, 3)
    assert out.shape == (3, 2)
    np.testing.assert_array_equal(out, [[9, 90]] * 3)


def test_unavailable_baselines_say_why():
    assert B.unavailable_reason("seasonal_naive", 200, 336) == (
        "seasonal naive (m=336) needs one full season of history: 336 steps, the series has 200"
    )
    assert "pass season=m" in B.unavailable_reason("seasonal_naive", 200, 1)
    assert "at least 2 past values" in B.unavailable_reason("drift", 1)
    assert B.unavailable_reason("naive", 1) is None
    with pytest.raises(ValueError, match=r"Seasonal naive \(m=48\) needs one full season of history: 48 steps, the series has 30\."):
        B.forecast_from_history("seasonal_naive", np.ones(30), 5, 48)
    with pytest.raises(ValueError, match="Unknown baseline 'arima'"):
        B.unavailable_reason("arima", 10)


def test_missing_values_in_the_used_history_are_an_error_not_nan():
    y = np.arange(10.0)
    y[-1] = np.nan
    with pytest.raises(ValueError, match=r"naive gives missing values.*contains NaN.*data\.fill"):
        B.forecast_from_history("naive", y, 2)


def test_history_baselines_never_drop_a_row():
    y = 10 + np.sin(2 * np.pi * np.arange(400) / 48)
    rows = B.history_baselines(y, 48, B.seasonal_periods("30min"), names=("naive", "seasonal_naive", "naive2"))
    labels = [r.label for r in rows]
    assert labels == ["naive", "seasonal_naive[m=48]", "seasonal_naive[m=336]", "naive2[m=48]", "naive2[m=336]"]
    assert all(r.forecast is not None and r.forecast.shape == (48,) for r in rows)
    np.testing.assert_allclose(rows[1].forecast, y[-48:])
    short = B.history_baselines(y[:100], 48, (48, 336))
    missing = {r.label: r.reason for r in short if r.forecast is None}
    assert missing == {"seasonal_naive[m=336]": "Seasonal naive (m=336) needs one full season of history: "
                       "336 steps, the series has 100."}
    none = B.history_baselines(y, 6, ())  # no period known: the row is there, with its reason
    (seasonal,) = [r for r in none if r.name == "seasonal_naive"]
    assert seasonal.forecast is None and "needs a seasonal period m >= 2" in seasonal.reason


def test_history_must_be_one_series():
    with pytest.raises(ValueError, match=r"history must be one whole series \[T\]"):
        B.forecast_from_history("naive", np.ones((2, 3, 1)), 1)


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
