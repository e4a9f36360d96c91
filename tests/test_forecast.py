"""Forecast: our frame, the Nixtla frame (straight into utilsforecast), and the pictures."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from lstmcast import Forecaster
from lstmcast.errors import DataError
from lstmcast.evaluation import metrics
from lstmcast.forecast import Forecast, interval_levels
from tests.conftest import dated_frame, tiny_config


def shops(n_series: int = 5, n: int = 200) -> pd.DataFrame:
    """Hourly sales of ``n_series`` shops in long format (columns date, shop, sales)."""
    parts = []
    for k in range(n_series):
        frame = dated_frame(n, columns=1, seed=k).rename(columns={"y": "sales"})
        frame["sales"] = frame["sales"] * (k + 1) + 10 * (k + 1)
        frame.insert(1, "shop", f"shop{k}")
        parts.append(frame)
    return pd.concat(parts, ignore_index=True)


@pytest.fixture(scope="module")
def quantile_model() -> tuple[Forecaster, pd.DataFrame]:
    frame = shops()
    config = tiny_config(data=dict(targets=("sales",), series_col="shop", time_col="date", input_length=24,
                                   horizon=6),
                         model=dict(head="quantile", quantiles=(0.1, 0.5, 0.9)))
    return Forecaster(config).fit(frame), frame


def test_interval_levels_pair_symmetric_quantiles():
    assert interval_levels((0.1, 0.5, 0.9)) == [(80, 0.1, 0.9)]
    assert interval_levels((0.05, 0.1, 0.5, 0.9, 0.95)) == [(90, 0.05, 0.95), (80, 0.1, 0.9)]
    assert interval_levels((0.5,)) == [] and interval_levels((0.1, 0.7)) == []


def test_nixtla_frame_of_a_future_forecast(quantile_model):
    forecaster, frame = quantile_model
    forecast = forecaster.predict(frame)
    ours, nixtla = forecast.to_frame(), forecast.to_frame(style="nixtla")
    assert list(nixtla.columns) == ["unique_id", "ds", "LSTM", "LSTM-median", "LSTM-lo-80", "LSTM-hi-80"]
    assert sorted(nixtla["unique_id"].unique()) == [f"shop{k}" for k in range(5)]
    np.testing.assert_array_equal(nixtla["LSTM"], ours["mean"])
    np.testing.assert_array_equal(nixtla["LSTM-lo-80"], ours["q0.1"])
    np.testing.assert_array_equal(nixtla["LSTM-hi-80"], ours["q0.9"])
    assert (nixtla["ds"] > frame["date"].max()).all()
    assert list(forecast.to_frame(style="nixtla", model="MyLSTM").columns)[2] == "MyLSTM"
    with pytest.raises(ValueError, match="style='darts'.*'lstmcast' or 'nixtla'"):
        forecast.to_frame(style="darts")  # type: ignore[arg-type]


def test_nixtla_frame_goes_straight_into_utilsforecast_evaluate(quantile_model):
    from utilsforecast.evaluation import evaluate
    from utilsforecast.losses import coverage, mae, rmse, smape

    forecaster, frame = quantile_model
    hist = forecaster.historical_forecasts(frame)
    nixtla = hist.to_frame(style="nixtla")
    assert list(nixtla.columns[:4]) == ["unique_id", "cutoff", "ds", "y"]
    scores = evaluate(nixtla, metrics=[mae, rmse, smape, coverage], models=["LSTM"], level=[80])
    assert set(scores["unique_id"]) == {f"shop{k}" for k in range(5)}
    assert scores["cutoff"].nunique() == nixtla["cutoff"].nunique()  # one row per (series, cutoff, metric)
    per_series = scores.groupby(["unique_id", "metric"])["LSTM"].mean()
    ours = hist.to_frame()
    for shop, rows in ours.groupby("series"):
        by_metric = per_series[shop]
        # utilsforecast scores each (series, cutoff); every cutoff has H points, so their mean is ours
        assert by_metric["mae"] == pytest.approx(metrics.mae(rows["actual"], rows["mean"]), rel=1e-9)
        # our sMAPE is in percent (0-200); utilsforecast's is the fraction (0-1): 200x
        assert 200 * by_metric["smape"] == pytest.approx(metrics.smape(rows["actual"], rows["mean"]), rel=1e-9)
        inside = ((rows["actual"] >= rows["q0.1"]) & (rows["actual"] <= rows["q0.9"])).mean()
        assert by_metric["coverage_level80"] == pytest.approx(inside, rel=1e-9)


def test_nixtla_ids_of_several_targets_and_of_one_series():
    times = pd.date_range("2024-01-01", periods=2, freq="D")
    frame = pd.DataFrame({"time": np.repeat(times, 2), "target": ["a", "b"] * 2, "step": [1, 1, 2, 2],
                          "mean": [1.0, 2.0, 3.0, 4.0]})
    assert list(Forecast(frame).to_frame(style="nixtla")["unique_id"]) == ["a", "b", "a", "b"]
    many = frame.assign(series="s1")
    assert list(Forecast(many).to_frame(style="nixtla")["unique_id"]) == ["s1/a", "s1/b"] * 2


# ---------------------------------------------------------------------------- pictures
def picture(path) -> np.ndarray:
    image = np.asarray(Image.open(path).convert("RGB"), dtype=np.int16)
    assert image.shape[0] > 200 and image.shape[1] > 300
    return image


def blue_pixels(image: np.ndarray) -> int:
    """Pixels of matplotlib's tab:blue line (31, 119, 180) or of the band drawn in it."""
    r, b = image[..., 0], image[..., 2]
    return int(((b - r > 60) & (b > 150)).sum())


def test_plot_of_a_future_forecast_draws_history_forecast_and_band(quantile_model, tmp_path):
    forecaster, frame = quantile_model
    forecast = forecaster.predict(frame)
    fig = forecast.plot(frame, tmp_path / "forecast.png", series="shop2")
    ax = fig.axes[0]
    labels = ax.get_legend_handles_labels()[1]
    assert labels == ["history", "80% interval", "forecast (median)"]  # the quantile head forecasts its median
    history_line, mean_line = ax.get_lines()[0], ax.get_lines()[-1]
    shown = frame[frame["shop"] == "shop2"]
    # the recent history, not the whole file: the default window, at least 100 steps
    assert len(history_line.get_xdata()) == 100
    np.testing.assert_allclose(history_line.get_ydata(), shown["sales"].iloc[-100:])
    np.testing.assert_allclose(mean_line.get_ydata()[1:], forecast.to_frame().query("series == 'shop2'")["mean"])
    assert ax.get_title() == "series shop2"
    assert blue_pixels(picture(tmp_path / "forecast.png")) > 500


def test_plot_grid_of_many_series_names_the_subset(quantile_model, tmp_path):
    forecaster, frame = quantile_model
    fig = forecaster.predict(frame).plot(frame, tmp_path / "grid.png", max_series=4)
    visible = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_title() for ax in visible] == [f"series shop{k}" for k in range(4)]
    assert "(4 of 5 series shown)" in fig._suptitle.get_text()
    picture(tmp_path / "grid.png")
    with pytest.raises(DataError, match=r"Series \['shop9'\] are not in this forecast; it has 5 series"):
        forecaster.predict(frame).plot(frame, series=["shop9"])
    with pytest.raises(DataError, match="level=0.5: this forecast's quantiles"):
        forecaster.predict(frame).plot(frame, level=0.5)


def test_plot_of_scored_forecasts_tiles_the_window_with_full_paths(quantile_model, tmp_path):
    forecaster, frame = quantile_model
    hist = forecaster.historical_forecasts(frame)
    fig = hist.plot(path=tmp_path / "scored.png", series="shop0")
    ax = fig.axes[0]
    lines = ax.get_lines()
    assert lines[0].get_label() == "actual"
    paths = lines[1:]
    assert all(len(line.get_xdata()) == 6 for line in paths)  # the whole horizon of each origin
    starts = [pd.Timestamp(line.get_xdata()[0]) for line in paths]
    assert all(b - a == pd.Timedelta(hours=6) for a, b in itertools.pairwise(starts))
    assert "6-step forecasts scored against the truth" in fig._suptitle.get_text()
    picture(tmp_path / "scored.png")


def test_long_series_are_shown_over_the_last_seasons(tmp_path):
    n = 24 * 60  # 60 days of hourly points
    times = pd.date_range("2024-01-01", periods=n, freq="h")
    history = pd.DataFrame({"date": times, "y": np.sin(np.arange(n) / 24 * 2 * np.pi)})
    future = pd.DataFrame({"time": pd.date_range(times[-1], periods=25, freq="h")[1:], "target": "y",
                           "step": np.arange(1, 25), "mean": 0.0})
    fig = Forecast(future).plot(history, tmp_path / "long.png")
    shown = fig.axes[0].get_lines()[0].get_xdata()
    assert len(shown) == 192  # 8 horizons of 24 = 8 days, not 60 days squeezed into one panel
    full = Forecast(future).plot(history, window=n)
    assert len(full.axes[0].get_lines()[0].get_xdata()) == n  # the full range on request
    picture(tmp_path / "long.png")
