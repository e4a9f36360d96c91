"""Rolling-origin backtest: no fold ever learns from data after its origin, refit vs no refit,
per-fold metrics, the baselines, the JSON and CLI outputs on a user CSV."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from lstmcast.cli import main
from lstmcast.config import ForecastConfig
from lstmcast.data.scaling import Scaler
from lstmcast.errors import ConfigError, DataError
from lstmcast.evaluation.backtest import (
    BACKTEST_BASELINES,
    METRICS,
    backtest,
    fold_origins,
    plot_backtest,
)
from lstmcast.forecaster import Forecaster

N, L, H = 240, 24, 12


def _frame(n: int = N, seed: int = 0) -> pd.DataFrame:
    t = np.arange(n)
    rng = np.random.default_rng(seed)
    value = 10 + np.sin(2 * np.pi * t / 24) + 0.01 * t + 0.1 * rng.normal(size=n)
    return pd.DataFrame({"date": pd.date_range("2024-01-01", periods=n, freq="h"), "y": value})


def _config(**train) -> ForecastConfig:
    return ForecastConfig.from_dict({
        "data": {"input_length": L, "horizon": H, "val_fraction": 0.1},
        "model": {"hidden_size": 4},
        "train": {"max_epochs": 2, "batch_size": 64, "threads": 1, **train},
    })


@pytest.fixture
def fits(monkeypatch):
    """Record every Forecaster.fit: the frame it was given and the fitted forecaster."""
    calls: list[tuple[pd.DataFrame, Forecaster]] = []
    original = Forecaster.fit

    def spy(self, frame, *args, **kwargs):
        out = original(self, frame, *args, **kwargs)
        calls.append((frame.copy(), self))
        return out

    monkeypatch.setattr(Forecaster, "fit", spy)
    return calls


def test_fold_origins_are_spaced_by_step_and_end_at_the_last_horizon():
    assert fold_origins(100, 3, 5, 10) == [80, 85, 90]
    assert fold_origins(100, 1, 5, 10) == [90]


def test_refit_folds_never_train_on_data_after_their_origin(fits):
    frame = _frame()
    result = backtest(_config(), frame, folds=3, step=H, refit=True)
    origins = [frame["date"].iloc[o] for o in fold_origins(N, 3, H, H)]
    assert len(fits) == 3
    for k, ((seen, forecaster), origin) in enumerate(zip(fits, origins, strict=True)):
        assert seen.index.max() < origin  # every row given to fit is before the fold's origin
        assert len(seen) == fold_origins(N, 3, H, H)[k]
        # the final model's scaler is refitted on this fold's rows only (all of them: the refit
        # learns from every row before the origin), not on the whole frame
        expected = Scaler(forecaster.config_.data.scaler).fit(seen[["y"]].to_numpy())
        np.testing.assert_allclose(forecaster.scalers_["__single__"].offset_, expected.offset_)
        assert forecaster.meta_["refit"]
        assert result.training[k]["trained_through"] < origin
    assert list(result.fold_metrics("lstm").index) == [0, 1, 2]
    assert (result.folds["trained_through"] < result.folds["origin"]).all()


def test_forecasts_do_not_change_when_data_after_the_origin_changes():
    frame = _frame()
    last_origin = fold_origins(N, 3, H, H)[-1]
    changed = frame.copy()
    changed.loc[last_origin:, "y"] += 100.0  # the last fold's truth, never its inputs
    a = backtest(_config(), frame, folds=3, refit=True).forecasts
    b = backtest(_config(), changed, folds=3, refit=True).forecasts
    np.testing.assert_array_equal(a["mean"], b["mean"])
    np.testing.assert_array_equal(a["seasonal_naive"], b["seasonal_naive"])
    assert not np.array_equal(a["actual"], b["actual"])


def test_no_refit_trains_once_before_the_first_origin(fits):
    frame = _frame()
    origins = fold_origins(N, 3, 6, H)
    result = backtest(_config(), frame, folds=3, step=6, refit=False)
    assert len(fits) == 1
    assert fits[0][0].index.max() < frame["date"].iloc[origins[0]]
    assert len(result.training) == 1 and result.training[0]["folds"] == [0, 1, 2]
    # later folds read newer rows as input only: changing rows from the first origin on leaves the
    # first fold's forecast alone but changes the later ones (their input windows moved)
    changed = frame.copy()
    changed.loc[origins[0]:, "y"] += 5.0
    other = backtest(_config(), changed, folds=3, step=6, refit=False).forecasts
    mine = result.forecasts
    np.testing.assert_array_equal(mine.loc[mine.fold == 0, "mean"], other.loc[other.fold == 0, "mean"])
    assert not np.allclose(mine.loc[mine.fold == 2, "mean"], other.loc[other.fold == 2, "mean"])


def test_refit_and_no_refit_agree_on_the_first_fold_and_differ_after():
    frame = _frame()
    refit = backtest(_config(), frame, folds=2, refit=True)
    once = backtest(_config(), frame, folds=2, refit=False)
    assert len(refit.training) == 2 and len(once.training) == 1
    first = refit.forecasts.fold == 0
    np.testing.assert_allclose(refit.forecasts.loc[first, "mean"], once.forecasts.loc[first, "mean"], rtol=1e-6)
    assert not np.allclose(refit.forecasts.loc[~first, "mean"], once.forecasts.loc[~first, "mean"])


def test_per_fold_metrics_shape_and_baselines():
    frame = _frame()
    result = backtest(_config(), frame, folds=4, step=6)
    methods = ["lstm", *BACKTEST_BASELINES]
    assert result.folds.shape[0] == 4 * len(methods)
    assert set(result.folds["method"]) == set(methods)
    for method in methods:
        table = result.fold_metrics(method)
        assert table.shape == (4, len(METRICS)) and list(table.columns) == list(METRICS)
        assert np.isfinite(table.to_numpy()).all()
    assert set(result.overall) == set(methods)
    assert result.settings["season"] == 24 and result.settings["step"] == 6
    # naive repeats the value before the origin; MAE of the fold checks out by hand
    origin = fold_origins(N, 4, 6, H)[1]
    rows = result.forecasts[result.forecasts.fold == 1]
    np.testing.assert_allclose(rows["naive"], frame["y"].iloc[origin - 1])
    np.testing.assert_allclose(rows["actual"], frame["y"].iloc[origin : origin + H])
    np.testing.assert_allclose(rows["window_mean"], frame["y"].iloc[origin - L : origin].mean())
    mae = np.mean(np.abs(rows["actual"] - rows["naive"]))
    assert result.fold_metrics("naive").loc[1, "mae"] == pytest.approx(mae)
    # overall MAE is the mean over equal-sized folds, RMSE pools the squared errors
    folds = result.fold_metrics("lstm")
    assert result.overall["lstm"]["mae"] == pytest.approx(folds["mae"].mean())
    assert result.overall["lstm"]["rmse"] == pytest.approx(np.sqrt((folds["rmse"] ** 2).mean()))
    # seasonal naive is near-perfect on this series; its MASE is well below naive's
    assert result.overall["seasonal_naive"]["mase"] < result.overall["naive"]["mase"]


def test_many_series_of_different_lengths(tmp_path):
    a, b = _frame(240, seed=1), _frame(200, seed=2)
    frame = pd.concat([a.assign(id="a"), b.assign(id="b")], ignore_index=True)
    config = _config().with_overrides(["data.series_col=id", "data.targets=y"])
    result = backtest(config, frame, folds=2)
    assert set(result.forecasts["series"]) == {"a", "b"}
    assert result.forecasts.groupby(["fold", "series"]).size().eq(H).all()
    record = result.training[0]
    assert record["rows"] == {"a": 240 - 2 * H, "b": 200 - 2 * H}
    ax = plot_backtest(result, tmp_path / "b.png", series="b")
    assert (tmp_path / "b.png").stat().st_size > 0 and "b / y" in ax.get_title()


def test_result_to_dict_is_json_ready():
    result = backtest(_config(), _frame(), folds=2)
    payload = json.loads(json.dumps(result.to_dict(), default=str))
    assert set(payload["baselines"]) == set(BACKTEST_BASELINES)
    assert set(payload["metrics"]) == set(METRICS)
    assert [f["fold"] for f in payload["per_fold"]] == [0, 1]
    assert set(payload["per_fold"][0]) >= {"origin", "trained_through", "lstm", "naive"}


def test_errors_name_the_problem_and_the_fix():
    frame = _frame()
    with pytest.raises(ConfigError, match="Backtest folds must be a positive integer; got 0"):
        backtest(_config(), frame, folds=0)
    with pytest.raises(ConfigError, match="Backtest step must be a positive integer; got -1"):
        backtest(_config(), frame, folds=2, step=-1)
    with pytest.raises(DataError, match=r"The data has 240 rows: 30 folds 12 steps apart .* Use at most \d+ folds"):
        backtest(_config(), frame, folds=30)
    result = backtest(_config(), frame, folds=1)
    with pytest.raises(ValueError, match="Unknown method 'arima'; this backtest scored lstm, naive"):
        result.fold_metrics("arima")
    with pytest.raises(ValueError, match="Unknown target 'z'"):
        plot_backtest(result, target="z")


def test_forecaster_backtest_delegates():
    result = Forecaster(_config()).backtest(_frame(), folds=2, step=3, refit=False)
    assert result.settings["folds"] == 2 and result.settings["refit"] is False


# ---------------------------------------------------------------------------- CLI


@pytest.fixture
def csv(tmp_path):
    path = tmp_path / "sales.csv"
    _frame().rename(columns={"y": "sales"}).to_csv(path, index=False)
    return path


def _cli_args(csv, out):
    return ["backtest", "--data", str(csv), "--target", "sales", "--input-length", str(L), "--horizon", str(H),
            "--set", "model.hidden_size=4", "--set", "train.max_epochs=2", "--set", "train.threads=1",
            "--quiet", "--out", str(out)]


def test_cli_backtest_json_on_a_user_csv(csv, tmp_path, capsys):
    out = tmp_path / "bt"
    assert main([*_cli_args(csv, out), "--folds", "2", "--no-refit", "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["command"] == "backtest" and payload["folds"] == 2 and payload["refit"] is False
    assert payload["step"] == H and payload["horizon"] == H and payload["targets"] == ["sales"]
    assert set(payload["metrics"]) == set(METRICS)
    assert set(payload["baselines"]) == set(BACKTEST_BASELINES)
    assert len(payload["per_fold"]) == 2 and len(payload["training"]) == 1
    for name in ("backtest.png", "folds.csv", "forecasts.csv", "backtest.json"):
        assert (out / name).stat().st_size > 0
    assert len(pd.read_csv(out / "folds.csv")) == 2 * 5


def test_cli_backtest_prints_tables(csv, tmp_path, capsys):
    assert main([*_cli_args(csv, tmp_path / "bt"), "--folds", "2", "--step", "6"]) == 0
    text = capsys.readouterr().out
    assert "2 folds, step 6" in text and "seasonal_naive" in text and "MASE per fold" in text
    assert "backtest.png" in text


def test_cli_backtest_reports_too_many_folds(csv, tmp_path, capsys):
    assert main([*_cli_args(csv, tmp_path / "bt"), "--folds", "40"]) == 2
    err = capsys.readouterr().err
    assert "lstmcast backtest: error: The data has 240 rows: 40 folds" in err and "Use at most" in err


def test_backtest_with_an_explicit_time_column(tmp_path, capsys):
    """`--time-col` named explicitly (not auto-detected) works as auto-detection does."""
    path = tmp_path / "t.csv"
    _frame().rename(columns={"date": "time"}).to_csv(path, index=False)
    args = ["backtest", "--data", str(path), "--target", "y", "--time-col", "time", "--folds", "2", "--input-length",
            str(L), "--horizon", str(H), "--set", "train.max_epochs=1", "--set", "model.hidden_size=4", "--json",
            "--quiet"]
    capsys.readouterr()
    assert main(args) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["folds"] == 2 and set(payload["baselines"]) == set(BACKTEST_BASELINES)
