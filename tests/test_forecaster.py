import json

import numpy as np
import pandas as pd
import pytest
import torch

from lstmcast import Forecaster
from lstmcast.config import ForecastConfig
from lstmcast.errors import ConfigError, DataError, ModelFileError, NotFittedError
from tests.conftest import dated_frame, tiny_config


@pytest.fixture(scope="module")
def fitted():
    from lstmcast.data.synthetic import noisy_sine

    frame = noisy_sine(300, seed=1)
    return Forecaster(tiny_config()).fit(frame), frame


def test_fit_returns_self_and_sets_learned_state(fitted):
    forecaster, _ = fitted
    assert forecaster.network_ is not None and "__single__" in forecaster.scalers_
    assert len(forecaster.history_.history) == 3


def test_unfitted_use_raises():
    with pytest.raises(NotFittedError, match="not fitted yet"):
        Forecaster(tiny_config()).predict(pd.DataFrame({"value": np.zeros(30)}))


def test_scaler_is_fitted_on_the_training_part_only(sine):
    forecaster = Forecaster(tiny_config(data={"scaler": "minmax"})).fit(sine)
    n_train = 300 - 30 - 60  # val 10%, test 20%
    scaler = forecaster.scalers_["__single__"]
    train = sine["value"].to_numpy()[:n_train]
    assert scaler.offset_[0] == pytest.approx((train.max() + train.min()) / 2)
    assert scaler.scale_[0] == pytest.approx((train.max() - train.min()) / 2)


def test_predict_gives_the_next_horizon_steps(hourly):
    config = tiny_config(data={"targets": ("y",), "features": ("x1",), "horizon": 4, "input_length": 24})
    forecaster = Forecaster(config).fit(hourly)
    forecast = forecaster.predict(hourly).to_frame()
    assert list(forecast.columns) == ["time", "target", "step", "mean"]
    assert list(forecast["step"]) == [1, 2, 3, 4]
    expected = pd.date_range(hourly["date"].iloc[-1], periods=5, freq="h")[1:]
    assert list(pd.to_datetime(forecast["time"])) == list(expected)
    assert np.isfinite(forecast["mean"]).all()


def test_multivariate_targets_shape(hourly):
    config = tiny_config(data={"targets": ("y", "x1"), "features": ("x2",), "horizon": 3, "input_length": 24})
    forecaster = Forecaster(config).fit(hourly)
    forecast = forecaster.predict(hourly).to_frame()
    assert len(forecast) == 6 and set(forecast["target"]) == {"y", "x1"}
    scores = forecaster.evaluate(hourly)
    assert set(scores["per_target"]) == {"y", "x1"}
    assert scores["baselines"]["naive"]["rmse"] > 0


def test_save_load_gives_identical_predictions(tmp_path, fitted):
    forecaster, frame = fitted
    path = forecaster.save(tmp_path / "model")
    loaded = Forecaster.load(path)
    a = forecaster.predict(frame).to_frame()
    b = loaded.predict(frame).to_frame()
    pd.testing.assert_frame_equal(a, b)
    meta = json.loads((path / "meta.json").read_text())
    assert meta["lstmcast_version"] and meta["channels"] == ["value"]
    assert meta["ranges"]["__single__"]["train"] == ["0", "209"]
    assert {p.name for p in path.iterdir()} >= {"config.json", "scaler.json", "weights.safetensors", "meta.json"}


def test_failed_save_leaves_previous_model_intact(tmp_path, fitted):
    forecaster, _ = fitted
    path = forecaster.save(tmp_path / "model")
    before = (path / "weights.safetensors").read_bytes()

    def crash(_path):
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        forecaster.save(path, extras={"plot.png": crash})
    assert (path / "weights.safetensors").read_bytes() == before
    Forecaster.load(path)
    assert [p.name for p in tmp_path.iterdir()] == ["model"]  # no staging directory left behind


def test_load_refuses_missing_and_tampered_files(tmp_path, fitted):
    forecaster, _ = fitted
    path = forecaster.save(tmp_path / "model")
    weights = path / "weights.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(ModelFileError, match="modified after the model was saved"):
        Forecaster.load(path)
    weights.unlink()
    with pytest.raises(ModelFileError, match="missing weights.safetensors"):
        Forecaster.load(path)
    with pytest.raises(ModelFileError, match="does not exist"):
        Forecaster.load(tmp_path / "nope")


def test_predict_with_columns_that_differ_from_training(fitted):
    forecaster, _ = fitted
    with pytest.raises(DataError, match=r"Column\(s\) 'value' not found in the data; columns are: 'price'"):
        forecaster.predict(pd.DataFrame({"price": np.zeros(30)}))


def test_series_too_short_names_the_minimum():
    with pytest.raises(DataError, match="has 16 rows, but input_length=12.* need at least 19"):
        Forecaster(tiny_config()).fit(pd.DataFrame({"value": np.arange(16.0)}))


def test_bad_sizes_are_config_errors():
    with pytest.raises(ConfigError, match="data.horizon must be an integer >= 1; got 0"):
        tiny_config(data={"horizon": 0})
    with pytest.raises(ConfigError, match="data.input_length must be an integer >= 1"):
        tiny_config(data={"input_length": -3})


def test_targets_are_inferred_only_when_unambiguous(hourly):
    with pytest.raises(ConfigError, match="Name the column"):
        Forecaster(ForecastConfig()).fit(hourly)


def test_seeded_runs_are_identical(sine):
    a = Forecaster(tiny_config()).fit(sine)
    b = Forecaster(tiny_config()).fit(sine)
    for (name, x), (_, y) in zip(a.network_.state_dict().items(), b.network_.state_dict().items(), strict=True):
        assert torch.equal(x, y), name


def test_many_series_long_format():
    frames = []
    for k, key in enumerate(["a", "b", "c"]):
        f = dated_frame(120, columns=1, seed=k)
        f["y"] = f["y"] * (k + 1) + 10 * k  # different levels: per-series scalers matter
        f["id"] = key
        frames.append(f)
    frame = pd.concat(frames, ignore_index=True)
    config = tiny_config(data={"targets": ("y",), "series_col": "id", "input_length": 24, "horizon": 2})
    forecaster = Forecaster(config).fit(frame)
    assert set(forecaster.scalers_) == {"a", "b", "c"}
    forecast = forecaster.predict(frame).to_frame()
    assert list(forecast["series"]) == ["a", "a", "b", "b", "c", "c"]
    means = forecast.groupby("series")["mean"].mean()
    assert means["c"] > means["a"]  # forecasts come back in each series' own units


def test_historical_forecasts_carry_actuals(fitted):
    forecaster, frame = fitted
    hist = forecaster.historical_forecasts(frame).to_frame()
    assert len(hist) == 60
    np.testing.assert_allclose(hist["actual"], frame["value"].to_numpy()[-60:])


def _two_series() -> pd.DataFrame:
    """Two hourly series in the unique_id / ds / y layout."""
    t = np.arange(120)
    return pd.DataFrame({"unique_id": np.repeat(["a", "b"], 120),
                         "ds": np.tile(pd.date_range("2024-01-01", periods=120, freq="h"), 2),
                         "y": np.concatenate([np.sin(2 * np.pi * t / 24), 3 + np.cos(2 * np.pi * t / 12)])})


def test_polars_and_pyarrow_frames_fit_predict_and_backtest_like_pandas():
    """A polars DataFrame and a pyarrow Table are converted at the edge: fitting on them gives the
    same weights, and predict, historical_forecasts and backtest the same numbers, as the frame."""
    pa = pytest.importorskip("pyarrow")
    pl = pytest.importorskip("polars", reason="polars is optional (requirements/dev.txt installs it)")
    frame = _two_series()
    config = tiny_config(data=dict(targets=("y",), time_col="ds", series_col="unique_id", input_length=24,
                                   horizon=3), train=dict(max_epochs=2))
    others = {"polars": pl.from_pandas(frame), "pyarrow": pa.Table.from_pandas(frame, preserve_index=False)}
    base = Forecaster(config).fit(frame)
    expected = base.predict(frame).to_frame()
    history = base.historical_forecasts(frame).to_frame()
    folds = Forecaster(config).backtest(frame, folds=2, refit=False).folds
    assert len(expected) == 2 * 3 and len(history) > 0 and set(folds["fold"]) == {0, 1}
    for name, other in others.items():
        assert not isinstance(other, pd.DataFrame)
        fitted = Forecaster(config).fit(other)
        for key, value in base.network_.state_dict().items():
            torch.testing.assert_close(fitted.network_.state_dict()[key], value, rtol=0, atol=0, msg=name)
        pd.testing.assert_frame_equal(fitted.predict(other).to_frame(), expected, obj=f"predict({name})")
        pd.testing.assert_frame_equal(base.predict(other).to_frame(), expected, obj=f"predict({name})")
        pd.testing.assert_frame_equal(base.historical_forecasts(other).to_frame(), history,
                                      obj=f"historical_forecasts({name})")
        pd.testing.assert_frame_equal(Forecaster(config).backtest(other, folds=2, refit=False).folds, folds,
                                      obj=f"backtest({name})")
