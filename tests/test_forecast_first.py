"""Forecast-first defaults: fit learns from the whole history, many series of unequal length,
a horizon chosen at predict time, ensembles, and the default model beating seasonal naive."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest
import torch

from lstmcast import DataConfig, ForecastConfig, Forecaster, TrainConfig
from lstmcast.cli import main
from lstmcast.errors import ConfigError, DataError, NotFittedError
from lstmcast.evaluation.baselines import seasonal_naive
from tests.conftest import tiny_config

FAST = TrainConfig(max_epochs=4, patience=0, batch_size=32)


def _monthly(n: int = 120, seed: int = 0, level: float = 100.0) -> pd.DataFrame:
    """Trend + yearly season + noise, monthly."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    y = level + 0.8 * t + 12 * np.sin(2 * np.pi * t / 12) + rng.normal(0, 1.5, n)
    return pd.DataFrame({"ds": pd.date_range("2010-01-01", periods=n, freq="MS"), "y": y})


def _long(lengths: dict[str, int]) -> pd.DataFrame:
    parts = []
    for k, (key, n) in enumerate(lengths.items()):
        part = _monthly(n, seed=k, level=50.0 * (k + 1))
        part.insert(0, "unique_id", key)
        parts.append(part)
    return pd.concat(parts, ignore_index=True)


def _config(**data) -> ForecastConfig:
    return ForecastConfig(DataConfig(targets=("y",), time_col="ds", horizon=6, **data),
                          train=dataclasses.replace(FAST))


def test_series_of_very_different_lengths_all_train_and_forecast():
    frame = _long({"long": 150, "mid": 40, "short": 14, "tiny": 7})  # L derived = 24 > short, tiny
    config = _config(series_col="unique_id")
    with pytest.warns(UserWarning, match=r"1 series with fewer than horizon \+ 2 = 8 rows.*'tiny'.*other 3"):
        f = Forecaster(config).fit(frame)
    assert f.config_.data.input_length == 24 and f.meta_["skipped_series"] == ["tiny"]
    assert set(f.scalers_) == {"long", "mid", "short"}
    forecast = f.predict(frame)
    table = forecast.to_frame()
    assert sorted(table["series"].unique()) == ["long", "mid", "short", "tiny"]
    assert table.groupby("series").size().eq(6).all() and np.isfinite(table["mean"]).all()
    assert any("padded on the left" in note and "short" in note for note in forecast.notes)


def test_every_series_too_short_is_a_clear_error():
    with pytest.raises(DataError, match="Every series is too short to learn from.*longest series has 5"):
        Forecaster(_config(series_col="unique_id")).fit(_long({"a": 5, "b": 4}))


def test_fit_uses_the_last_rows_and_never_changes_the_given_config():
    frame = _monthly(96)
    config = ForecastConfig(DataConfig(time_col="ds", horizon=6), train=FAST)  # target inferred
    a = Forecaster(config).fit(frame)
    assert a.config is config and config.data.targets == () and config.data.input_length is None
    assert a.config_.data.targets == ("y",)
    changed = frame.copy()
    changed.loc[changed.index[-3:], "y"] += 40.0  # only the last three rows
    b = Forecaster(config).fit(changed)
    diff = max(float((p - q).abs().max()) for p, q in zip(a.network_.state_dict().values(),
                                                         b.network_.state_dict().values(), strict=True))
    assert diff > 1e-6  # the final weights learned from the last rows
    assert a.meta_["refit"] and a.meta_["n_windows"]["final"] > a.meta_["n_windows"]["train"]
    assert a.meta_["ranges"]["__single__"]["val"][1] == str(frame["ds"].iloc[-1])


def test_default_model_beats_seasonal_naive_after_the_end_of_the_file(tmp_path, capsys):
    """Trend + season, 12 steps after the end of the file: the defaults (train + predict) against
    seasonal naive, which cannot follow the trend."""
    full = _monthly(144, seed=3)
    history, future = full.iloc[:132], full.iloc[132:]
    path = tmp_path / "monthly.csv"
    history.to_csv(path, index=False)
    out = tmp_path / "model"
    assert main(["train", "--data", str(path), "--target", "y", "--horizon", "12", "--out", str(out),
                 "--set", "train.max_epochs=40", "--quiet", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["scored_on"] == "validation"
    derived = report["derived"]  # what the fit chose because the config left it open
    assert (derived["input_length"], derived["patch_length"], derived["seasonal_skip"]) == (24, 12, 0)
    assert set(derived["seasonal_strength"]) == {"12"} and derived["seasonal_strength"]["12"] > 0.75
    forecast = Forecaster.load(out).predict(history)
    mean = forecast.to_frame()["mean"].to_numpy()
    snaive = seasonal_naive(history["y"].to_numpy()[None, :, None], 12, 12)[0, :, 0]
    truth = future["y"].to_numpy()
    mae, mae_snaive = np.abs(mean - truth).mean(), np.abs(snaive - truth).mean()
    assert mae < mae_snaive, (mae, mae_snaive)


def test_predict_horizon_shorter_and_longer_than_trained():
    frame = _monthly(100)
    f = Forecaster(_config()).fit(frame)
    full = f.predict(frame).to_frame()
    short = f.predict(frame, horizon=3).to_frame()
    pd.testing.assert_frame_equal(short, full.iloc[:3].reset_index(drop=True))
    longer = f.predict(frame, horizon=15)
    table = longer.to_frame()
    assert len(table) == 15 and table["step"].tolist() == list(range(1, 16))
    assert (pd.to_datetime(table["time"]).diff().dropna().dt.days > 27).all()  # monthly steps
    np.testing.assert_allclose(table["mean"].to_numpy()[:6], full["mean"].to_numpy())
    assert any("rolled forward" in note for note in longer.notes)
    with pytest.raises(ConfigError, match="horizon must be a positive integer"):
        f.predict(frame, horizon=0)


def test_rolling_past_the_horizon_needs_future_inputs():
    frame = _monthly(100)
    frame["temp"] = np.cos(np.arange(100))
    f = Forecaster(_config(features=("temp",))).fit(frame)
    with pytest.raises(ConfigError, match="past covariates \\['temp'\\].*at most 6 steps"):
        f.predict(frame, horizon=7)


def test_ensemble_forecasts_the_median_of_its_members(tmp_path):
    frame = _monthly(90)
    config = dataclasses.replace(_config(), model=dataclasses.replace(_config().model, ensemble=3))
    f = Forecaster(config).fit(frame)
    assert [m["seed"] for m in f.meta_["ensemble"]] == [0, 1, 2]
    x = torch.randn(4, f.config_.data.input_length, 1)
    with torch.no_grad():
        members = torch.stack([m(x) for m in f.network_.members])
        torch.testing.assert_close(f.network_(x), members.median(dim=0).values)
    f.save(tmp_path / "m")
    again = Forecaster.load(tmp_path / "m")
    pd.testing.assert_frame_equal(again.predict(frame).to_frame(), f.predict(frame).to_frame())


def test_validation_scores_are_kept_and_name_the_baselines():
    f = Forecaster(_config()).fit(_monthly(100))
    scores = f.validation_
    assert scores["n_windows"] == 1 and scores["horizon"] == 6 and scores["season"] == 12
    assert {"naive", "seasonal_naive"} <= set(scores["baselines"])
    assert f.validation_forecast_.to_frame()["actual"].notna().all()


def test_format_1_model_directories_still_load(tmp_path):
    """A directory written before model.normalization existed (data.normalization, format 1)."""
    import hashlib

    frame = _monthly(80)
    single = _config(input_length=12)  # format 1 had no ensembles: one network
    f = Forecaster(dataclasses.replace(single, model=dataclasses.replace(single.model, ensemble=1))).fit(frame)
    path = f.save(tmp_path / "m")
    config = json.loads((path / "config.json").read_text())
    config["data"]["normalization"] = config["model"].pop("normalization")
    for key in ("val_steps",):
        config["data"].pop(key)
    for key in ("ensemble",):
        config["model"].pop(key)
    config["train"].pop("final_fit")
    (path / "config.json").write_text(json.dumps(config))
    meta = json.loads((path / "meta.json").read_text())
    meta["format_version"] = 1
    meta.pop("layout")
    meta["sha256"]["config.json"] = hashlib.sha256((path / "config.json").read_bytes()).hexdigest()
    (path / "meta.json").write_text(json.dumps(meta))
    old = Forecaster.load(path)
    assert old.config_.model.normalization == "standard"
    pd.testing.assert_frame_equal(old.predict(frame).to_frame(), f.predict(frame).to_frame())


def test_evaluate_holdout_trains_on_the_rest_and_scores_the_last_steps(tmp_path, capsys):
    path = tmp_path / "m.csv"
    _long({"a": 60, "b": 48}).to_csv(path, index=False)
    capsys.readouterr()
    assert main(["evaluate", "--data", str(path), "--target", "y", "--series-col", "unique_id", "--holdout", "6",
                 "--set", "train.max_epochs=2", "--quiet", "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["holdout"] == 6 and payload["n_windows"] == 2 and payload["horizon"] == 6
    assert {"naive", "seasonal_naive"} <= set(payload["baselines"])
    capsys.readouterr()
    assert main(["evaluate", "--data", str(path), "--target", "y"]) == 2
    assert "evaluate needs --model DIR" in capsys.readouterr().err


def test_sklearn_style_params_round_trip():
    f = Forecaster(_config())
    params = f.get_params()
    clone = Forecaster(**params)
    assert clone.config == f.config and clone is not f
    other = _config(input_length=8)
    assert f.set_params(config=other).config is other
    with pytest.raises(ConfigError, match="Unknown parameter"):
        f.set_params(hidden_size=3)
    # what sklearn.base.clone does: rebuild from get_params(deep=False), then check each is the same object
    rebuilt = type(f)(**f.get_params(deep=False))
    assert all(rebuilt.get_params()[k] is v for k, v in f.get_params(deep=False).items())


def test_sklearn_clone_gives_an_unfitted_forecaster_with_equal_params(sine):
    """sklearn.base.clone itself (requirements/dev.txt installs scikit-learn): the clone of a fitted
    forecaster has equal parameters, none of the learned state, and refuses to predict."""
    sklearn_base = pytest.importorskip("sklearn.base", reason="scikit-learn is a test dependency (requirements/dev.txt)")
    fitted = Forecaster(tiny_config()).fit(sine)
    copy = sklearn_base.clone(fitted)
    assert type(copy) is Forecaster and copy is not fitted
    assert copy.get_params() == fitted.get_params() and copy.config == fitted.config
    assert not [name for name in vars(copy) if name.endswith("_") and not name.startswith("_")]
    with pytest.raises(NotFittedError, match="not fitted yet"):
        copy.predict(sine)
    fitted.predict(sine)  # the original keeps its weights


@pytest.mark.parametrize(("extra", "message"), [
    (["--holdout", "6", "--model", "m"], "--holdout trains a fresh model; drop --model"),
    (["--holdout", "0"], "--holdout must be a positive number of steps; got 0"),
    (["--holdout", "6", "--horizon", "4"], "the model's horizon is 6; drop --horizon 4"),
    (["--holdout", "500"], "has no rows left after holding out the last 500"),
])
def test_evaluate_holdout_misuse_names_the_fix(tmp_path, capsys, extra, message):
    path = tmp_path / "m.csv"
    _monthly(60).to_csv(path, index=False)
    capsys.readouterr()
    assert main(["evaluate", "--data", str(path), "--target", "y", *extra, "--quiet"]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


@pytest.mark.parametrize(("freq", "horizon", "lengths", "window", "patch"), [
    ("h", 48, [1008, 700, 960], 336, 24),     # hourly: two weeks of hours, patches of a day
    ("h", 24, [11520], 336, 24),
    ("h", 48, [300, 250, 400], 96, 24),       # two weeks do not fit: the daily window, 2 x horizon
    ("h", 24, [60], 36, 0),                   # not even two days: capped at the median length - H
    ("30min", 336, [3696], 672, 48),          # half-hourly, a week ahead: 2 x horizon, patches of a day
    ("30min", 48, [6000], 96, 48),            # two weeks (672) exceed LONG_SEASON_WINDOW: two days
    ("D", 14, [1000], 28, 7),                 # daily: two years exceed LONG_SEASON_WINDOW: two weeks
    ("D", 14, [400], 28, 7),
    ("D", 300, [2000], 602, 7),               # a long horizon: 2 x horizon, rounded to whole weeks
    ("MS", 12, [132], 24, 12),                # monthly: one season only, as before
    ("QS", 8, [30], 16, 4),
    ("YS", 6, [20], 12, 0),                   # no season
])
def test_derived_window_covers_the_longest_season_the_history_allows(freq, horizon, lengths, window, patch):
    from lstmcast.defaults import resolve

    config = ForecastConfig(DataConfig(targets=("y",), horizon=horizon))
    resolved = resolve(config, freq, lengths)
    assert (resolved.data.input_length, resolved.model.patch_length) == (window, patch)
    assert config.data.input_length is None and config.model.patch_length is None  # never changed


def _hourly(n: int, seasonal: bool, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if seasonal:
        t = np.arange(n)
        return 20 + 5 * np.sin(2 * np.pi * t / 24) + 2 * np.sin(2 * np.pi * t / 168) + 0.3 * rng.normal(size=n)
    return 20 + np.cumsum(rng.normal(size=n))  # a random walk: last week says nothing about next week


def test_seasonal_strength_is_small_for_a_stable_season_and_above_one_for_a_random_walk():
    from lstmcast.defaults import SKIP_RATIO, strength_sums

    seasonal, naive = strength_sums([_hourly(1200, True, k) for k in range(3)], 24, 168, skip_last=24)
    assert seasonal / naive < 0.5 * SKIP_RATIO
    seasonal, naive = strength_sums([_hourly(1200, False, k) for k in range(3)], 24, 168, skip_last=24)
    assert seasonal / naive > 1.0
    assert strength_sums([np.ones(500), np.arange(3.0)], 24, 168) == (0.0, 0.0)  # flat or too short: not counted


@pytest.mark.parametrize("seasonal, given, skip", [(True, None, 168), (False, None, 0), (True, 0, 0), (False, 24, 24)])
def test_the_seasonal_skip_is_taken_where_the_season_is_strong_unless_the_config_says(seasonal, given, skip):
    n = 1200
    frame = pd.DataFrame({"ds": pd.date_range("2024-01-01", periods=n, freq="h"), "y": _hourly(n, seasonal)})
    config = ForecastConfig(DataConfig(targets=("y",), time_col="ds", horizon=24),
                            train=dataclasses.replace(FAST, max_epochs=1)).with_overrides(
        ["model.ensemble=1", "model.hidden_size=8", f"model.seasonal_skip={'none' if given is None else given}"])
    fitted = Forecaster(config).fit(frame)
    assert fitted.config_.data.input_length == 336 and fitted.config_.model.seasonal_skip == skip
    measured = fitted.meta_["seasonal_strength"]
    assert (set(measured) == {"168"}) if given is None else measured == {}
    assert np.isfinite(fitted.predict(frame).to_frame()["mean"]).all()


def test_train_says_what_it_derived_from_the_data(tmp_path, capsys):
    path = tmp_path / "hourly.csv"
    n = 1200
    pd.DataFrame({"ds": pd.date_range("2024-01-01", periods=n, freq="h"), "y": _hourly(n, True)}).to_csv(path, index=False)
    assert main(["train", "--data", str(path), "--target", "y", "--horizon", "24", "--out", str(tmp_path / "m"),
                 "--set", "train.max_epochs=1", "--set", "model.ensemble=1", "--set", "model.hidden_size=8",
                 "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "Derived from the data: input_length 336; patch_length 24; seasonal_skip 168 (seasonal strength 0." in out
    assert ("at period 168; the skip is taken at <= 0.75); theta_weight 0, ets_weight 0 (the validation windows "
            "come from 1 series; the weights are chosen from 10 or more (set model.theta_weight and "
            "model.ets_weight to fix them))." in " ".join(out.split()))


def test_the_seasonal_strength_counts_every_target():
    from lstmcast.defaults import strength_sums

    n = 1200
    frame = pd.DataFrame({"ds": pd.date_range("2024-01-01", periods=n, freq="h"), "a": _hourly(n, True),
                          "b": _hourly(n, False, seed=1)})
    config = ForecastConfig(DataConfig(targets=("a", "b"), time_col="ds", horizon=24),
                            train=dataclasses.replace(FAST, max_epochs=1)).with_overrides(
        ["model.ensemble=1", "model.hidden_size=8"])
    fitted = Forecaster(config).fit(frame)
    history = frame.iloc[:-24]  # the block before validation, as the fit measures it
    seasonal, naive = strength_sums([frame["a"].to_numpy(), frame["b"].to_numpy()], 24, 168, skip_last=24)
    assert fitted.meta_["seasonal_strength"]["168"] == pytest.approx(seasonal / naive, abs=1e-4)
    only_a = strength_sums([history["a"].to_numpy()], 24, 168)
    assert seasonal / naive > only_a[0] / only_a[1]  # the random walk in b weakens it


def test_continue_trains_the_validated_weights_on_every_window():
    frame = _monthly(96)
    base = ForecastConfig(DataConfig(time_col="ds", horizon=6, targets=("y",)), train=FAST)
    kept = Forecaster(base.with_overrides(["train.final_fit=none", "model.ensemble=1"])).fit(frame)
    cont = Forecaster(base.with_overrides(["train.final_fit=continue", "model.ensemble=1"])).fit(frame)
    # the same validated network (same seed, same validation split), then more training on every window
    assert cont.validation_ == kept.validation_
    best = cont.history_.best_epoch
    assert cont.meta_["refit"] and cont.meta_["final_fit"] == "the validated weights trained further on all rows"
    assert cont.meta_["n_windows"]["final"] > cont.meta_["n_windows"]["train"]
    assert any(e.startswith(f"continued on all {cont.meta_['n_windows']['final']} windows for "
                            f"{-(-best // 4)} epochs") for e in cont.history_.events)
    diff = max(float((p - q).abs().max()) for p, q in zip(kept.network_.state_dict().values(),
                                                         cont.network_.state_dict().values(), strict=True))
    assert diff > 1e-6  # the final weights moved on from the validated ones
    changed = frame.copy()
    changed.loc[changed.index[-3:], "y"] += 40.0  # only the last three rows (validation rows)
    other = Forecaster(base.with_overrides(["train.final_fit=continue", "model.ensemble=1"])).fit(changed)
    assert not np.allclose(other.predict(changed).to_frame()["mean"], cont.predict(changed).to_frame()["mean"])
    with pytest.raises(ConfigError, match="final_fit"):
        base.with_overrides(["train.final_fit=later"])
