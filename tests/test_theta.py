"""The Theta method (lstmcast.scoring.theta), exponential smoothing (lstmcast.scoring.ets) and the
forecast's statistical part (model.theta_weight, model.ets_weight):
the method against M4's published benchmark and an exact SES optimum, the weight's choice, and
one combined forecast on every path (predict, a saved model, evaluate, the service)."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest

from lstmcast import DataConfig, ForecastConfig, Forecaster, ModelConfig, TrainConfig
from lstmcast.errors import ConfigError
from lstmcast.evaluation.m4 import load_m4_hourly, score_m4
from lstmcast.fitting.combination import MIN_THETA_SERIES, candidates, choose_weights, pick
from lstmcast.scoring.ets import damped, ets
from lstmcast.scoring.statistical import of_histories
from lstmcast.scoring.theta import ses_fit, theta


def test_m4_hourly_reproduces_the_published_theta_benchmark(data_dir):
    # M4 (Makridakis et al., IJF 2020), the Theta benchmark on Hourly: sMAPE 18.138, MASE 2.455, OWA 1.006
    series = load_m4_hourly(data_dir / "m4_hourly_train.csv", data_dir / "m4_hourly_test.csv")
    forecasts = of_histories("theta", [s.train[:, None] for s in series], 48, 24, rows=10**6)[..., 0]
    scores = score_m4(list(forecasts), series)
    assert (round(scores["smape"], 3), round(scores["mase"], 3), round(scores["owa"], 3)) == (18.138, 2.455, 1.006)


def test_ses_fit_finds_the_least_squares_alpha_and_level():
    scipy_optimize = pytest.importorskip("scipy.optimize")
    rng = np.random.default_rng(3)
    y = np.cumsum(rng.normal(0.2, 1.0, size=(4, 60)), axis=1) + 20

    def sse(params, row):
        alpha, level = params
        total = 0.0
        for value in row:
            total += (value - level) ** 2
            level = alpha * value + (1 - alpha) * level
        return total

    alpha, _ = ses_fit(y)
    for k, row in enumerate(y):
        best = scipy_optimize.minimize(sse, x0=[0.5, row[0]], args=(row,), bounds=[(1e-4, 0.9999), (None, None)])
        ours = min(sse([alpha[k], l0], row) for l0 in np.linspace(row[0] - 5, row[0] + 5, 2001))
        assert ours <= best.fun * (1 + 1e-4)


def test_a_straight_line_is_continued_at_half_its_slope():
    # theta = 2 line through a line is the line; SES of it ends on its last value; the mean with the
    # line's extension climbs at half the slope (the Theta method's known damping of a trend)
    y = 10 + 0.5 * np.arange(40.0)
    forecast = theta(y[None, :, None], 5)[0, :, 0]
    np.testing.assert_allclose(forecast, 29.5 + 0.25 * np.arange(1, 6), atol=1e-3)


def test_a_seasonal_positive_series_is_adjusted_and_a_non_positive_one_is_not():
    t = np.arange(96)
    season = 1 + 0.5 * np.sin(2 * np.pi * t / 12)
    y = 50 * season
    forecast = theta(y[None, :, None], 12, 12)[0, :, 0]
    np.testing.assert_allclose(forecast, y[-12:], rtol=1e-3)  # a pure season repeats
    shifted = theta((y - 80)[None, :, None], 12, 12)[0, :, 0]  # negative values: no multiplicative season
    assert np.ptp(shifted) < 0.2 * np.ptp(y)


def _damped_sse(y: np.ndarray, alpha: float, beta: float, phi: float) -> float:
    """The damped trend's in-sample squared one-step errors, step by step (the reference)."""
    k = min(len(y), 10)
    slope, intercept = np.polyfit(np.arange(k), y[:k], 1)
    level, trend, sse = intercept - phi * slope, slope, 0.0
    for value in y:
        expected = level + phi * trend
        error = value - expected
        sse += error * error
        new = alpha * value + (1 - alpha) * expected
        trend = beta / alpha * (new - level) + (1 - beta / alpha) * phi * trend  # Holt's form, beta* = beta / alpha
        level = new
    return sse


def test_the_damped_fit_picks_the_grid_point_of_least_squared_error():
    from lstmcast.scoring.ets import ALPHAS, BETA_SHARES, PHIS, damped_fit

    y = 50 + np.cumsum(np.random.default_rng(3).normal(0.5, 2.0, 60))
    params, _, _, sse = damped_fit(y[None, :])
    grid = {(a, a * s, p): _damped_sse(y, a, a * s, p) for a in ALPHAS for s in BETA_SHARES for p in PHIS}
    best = min(grid, key=grid.__getitem__)
    np.testing.assert_allclose(params[0], best, rtol=1e-12)
    np.testing.assert_allclose(sse[0], grid[best], rtol=1e-9)


def test_the_damped_trend_bends_a_line_and_repeats_a_season():
    line = 10.0 + 2.0 * np.arange(40)
    forecast = damped(line[None, :, None], 8)[0, :, 0]
    steps = np.diff(np.concatenate([[line[-1]], forecast]))
    assert np.all(steps > 0) and np.all(np.diff(steps) <= 1e-9) and steps[0] == pytest.approx(2.0, rel=0.05)
    season = np.tile(np.array([1.0, 2.0, 3.0, 2.0]), 12) * 10
    np.testing.assert_allclose(damped(season[None, :, None], 8, 4)[0, :, 0], season[-8:], rtol=1e-3)
    assert damped(np.array([[[5.0]]]), 3).ravel().tolist() == [5.0, 5.0, 5.0]
    assert np.isnan(damped(np.array([[[1.0], [np.nan], [3.0]]]), 2)).all()


def test_choose_theta_weight_needs_enough_series_and_prefers_the_better_forecast():
    rng = np.random.default_rng(0)
    truth = rng.normal(size=(20, 6, 1))
    history = rng.normal(size=(20, 24, 1))
    network = truth + rng.normal(0, 1, size=truth.shape)
    keys = [f"s{k}" for k in range(20)]
    def choose(mean, stat, keys, **fixed):
        return choose_weights(mean, truth, {"theta": stat}, history, keys, ets=0.0, **fixed)

    assert choose(network, truth.copy(), keys)["weight"] == 1.0
    assert choose(truth.copy(), network, keys)["weight"] == 0.0
    half = choose(truth - 1.0, truth + 1.0, keys)
    assert half["weight"] == 0.5 and half["scaled_mae"]["combined"] < half["scaled_mae"]["network"]
    few = choose(network, truth.copy(), ["one"] * 20)
    assert few["weight"] == 0.0 and f"from {MIN_THETA_SERIES} or more" in few["reason"]
    # both methods: the network, Theta and ETS off by +2, -1 and -1: a third each is exact
    both = choose_weights(truth + 2.0, truth, {"theta": truth - 1.0, "ets": truth - 1.0}, history, keys)
    assert round(both["weight"] + both["ets_weight"], 6) == 0.7  # |2 - 3 (a + b)| is least on the grid at 0.7
    assert both["scaled_mae"]["combined"] < 0.2 * both["scaled_mae"]["ets"]
    only_ets = choose_weights(network, truth, {"theta": network, "ets": truth.copy()}, history, keys, theta=0.0)
    assert (only_ets["weight"], only_ets["ets_weight"]) == (0.0, 1.0)
    # both left to choose (the default): the mean of the two, never a and b apart, even where Theta alone
    # would validate better; Theta alone only where the mean's weight is 0
    mean_of_two = choose_weights(network, truth, {"theta": network, "ets": truth.copy()}, history, keys)
    assert mean_of_two["weight"] == mean_of_two["ets_weight"] == 0.5
    preferred = choose_weights(network, truth, {"theta": truth.copy(), "ets": network}, history, keys)
    assert preferred["weight"] == preferred["ets_weight"] == 0.5
    theta_alone = choose_weights(network, truth, {"theta": truth.copy(), "ets": truth + 20.0}, history, keys)
    assert (theta_alone["weight"], theta_alone["ets_weight"]) == (1.0, 0.0)
    given = choose_weights(network, truth, {"theta": truth.copy(), "ets": truth + 20.0}, history, keys,
                           pairs=[(0.0, 0.0), (0.3, 0.3)])
    assert (given["weight"], given["ets_weight"]) == (0.0, 0.0)  # the least error among the pairs given
    kept = choose_weights(network, truth, {"theta": truth.copy(), "ets": truth.copy()}, history, keys, theta=0.2)
    assert kept["weight"] == 0.2 and kept["ets_weight"] == 0.8


def test_the_mean_of_the_two_stands_unless_its_weight_is_zero():
    mean_family, theta_alone = candidates(None, None)
    assert mean_family[0] == (0.0, 0.0) and mean_family[-1] == (0.5, 0.5) and len(mean_family) == 11
    assert theta_alone == [(w, 0.0) for w in (k / 10 for k in range(11))]
    errors = {p: 1.0 for p in {*mean_family, *theta_alone}}
    errors.update({(0.2, 0.2): 0.9, (0.7, 0.0): 0.5})  # the mean best at 0.4, Theta alone lower still
    assert pick([mean_family, theta_alone], errors.__getitem__) == (0.2, 0.2)
    errors[(0.2, 0.2)] = 1.1  # the mean best at 0 (ties go to the smaller total): Theta alone
    assert pick([mean_family, theta_alone], errors.__getitem__) == (0.7, 0.0)
    errors[(0.7, 0.0)] = 1.2  # neither helps: the network alone
    assert pick([mean_family, theta_alone], errors.__getitem__) == (0.0, 0.0)
    assert candidates(0.2, None) == [[(0.2, b) for b in (k / 10 for k in range(9))]]


def test_ranks_holding_different_series_choose_on_all_of_them():
    rng = np.random.default_rng(1)
    truth = rng.normal(size=(6, 4, 1))
    history = rng.normal(size=(6, 12, 1))
    local = [f"s{k}" for k in range(6)]  # 6 series here, 6 on the other rank: 12 in all
    alone = choose_weights(truth + 1.0, truth, {"theta": truth.copy()}, history, local, ets=0.0)
    assert alone["weight"] == 0.0 and alone["series"] == 6

    def two_ranks(values):  # the other rank holds windows that score alike
        return [2 * v for v in values]

    both = choose_weights(truth + 1.0, truth, {"theta": truth.copy()}, history, local, sync=two_ranks, ets=0.0)
    assert both["weight"] == 1.0 and both["series"] == 12 and both["windows"] == 12


@pytest.mark.parametrize("bad", [1.5, -0.1, True, "half"])
def test_theta_weight_outside_zero_one_is_refused(bad):
    with pytest.raises(ConfigError, match="model.theta_weight must be a number in"):
        ModelConfig(theta_weight=bad)
    with pytest.raises(ConfigError, match="model.ets_weight must be a number in"):
        ModelConfig(ets_weight=bad)


def test_the_two_weights_leave_the_network_its_share():
    assert ModelConfig(theta_weight=0.4, ets_weight=0.6).ets_weight == 0.6
    with pytest.raises(ConfigError, match=r"theta_weight \+ model.ets_weight must be at most 1"):
        ModelConfig(theta_weight=0.7, ets_weight=0.4)


def _quarterly(n_series: int = 12, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    parts = []
    for k in range(n_series):
        n = 40 + 3 * k
        parts.append(pd.DataFrame({"unique_id": f"s{k}", "ds": pd.date_range("2000-01-01", periods=n, freq="QS"),
                                   "y": 100 + np.cumsum(rng.normal(0.3, 1.0, n))}))
    return pd.concat(parts, ignore_index=True)


def _config(weight: float | None, ets_weight: float | None = 0.0) -> ForecastConfig:
    return ForecastConfig(DataConfig(targets=("y",), series_col="unique_id", time_col="ds", horizon=4),
                          ModelConfig(hidden_size=8, ensemble=1, theta_weight=weight, ets_weight=ets_weight),
                          TrainConfig(max_epochs=2, patience=0))


def test_the_weight_is_chosen_on_validation_and_kept_in_the_model(tmp_path):
    frame = _quarterly()
    f = Forecaster(_config(None, None)).fit(frame)
    chosen = f.meta_["theta"]
    assert f.config_.model.theta_weight == chosen["weight"] and chosen["series"] == 12 and chosen["season"] == 4
    assert f.config_.model.ets_weight == chosen["ets_weight"]
    assert chosen["ets_weight"] in (0.0, chosen["weight"])  # the default: Theta alone or the mean of the two
    scores = chosen["scaled_mae"]
    assert scores["combined"] <= scores["network"] and {"theta", "ets"} <= set(scores)
    alone = Forecaster(_config(None, 0.0)).fit(frame).meta_["theta"]  # ETS off: Theta's weight on its own grid
    assert alone["ets_weight"] == 0.0 and "ets" not in alone["scaled_mae"]
    assert alone["scaled_mae"]["combined"] <= min(alone["scaled_mae"]["network"], alone["scaled_mae"]["theta"])
    saved = json.loads((f.save(tmp_path / "m") / "config.json").read_text())
    assert saved["model"]["theta_weight"] == chosen["weight"]
    assert saved["model"]["ets_weight"] == chosen["ets_weight"]


def test_one_combined_forecast_on_every_path(tmp_path):
    frame = _quarterly()
    f = Forecaster(_config(0.3, 0.2)).fit(frame)
    combined = f.predict(frame).to_frame()
    network = dataclasses.replace(f.model_, theta_weight=0.0, ets_weight=0.0).predict(frame).to_frame()
    stat = {}
    for key, group in frame.groupby("unique_id"):
        tail = group["y"].to_numpy()[-f.model_.theta_rows :][None, :, None]
        stat[key] = 0.3 * theta(tail, 4, 4)[0, :, 0] + 0.2 * ets(tail, 4, 4)[0, :, 0]
    expected = 0.5 * network["mean"].to_numpy() + np.concatenate([stat[k] for k in network["series"].unique()])
    np.testing.assert_allclose(combined["mean"], expected, rtol=1e-9)
    np.testing.assert_allclose(combined["q0.9"] - combined["mean"], network["q0.9"] - network["mean"], rtol=1e-9)

    path = f.save(tmp_path / "m")
    pd.testing.assert_frame_equal(Forecaster.load(path).predict(frame).to_frame(), combined)

    # evaluate on the last 4 rows of each series scores the same combination
    cut = frame[frame.groupby("unique_id").cumcount(ascending=False) >= 4]
    w = f.model_.holdout_windows(frame, season=4)
    mean, _ = f.model_.forecast_windows(w)
    np.testing.assert_allclose(mean[:, :, 0].reshape(-1), f.predict(cut).to_frame()["mean"], rtol=1e-6)

    from types import SimpleNamespace

    from lstmcast.serving.predictor import Predictor

    served = Predictor(path, backend="torch")
    requests = [SimpleNamespace(id=k, history={"y": g["y"].tolist()}, time=[t.isoformat() for t in g["ds"]], future=None)
                for k, g in frame.groupby("unique_id", sort=False)]
    answer = {fc["id"]: fc["mean"]["y"] for fc in served.predict(requests)["forecasts"]}
    for key, group in combined.groupby("series"):
        np.testing.assert_allclose(answer[key], group["mean"], rtol=1e-5)
    assert served.describe()["theta"] == {"weight": 0.3, "season": 4, "history_rows": f.model_.theta_rows}
    assert served.describe()["ets"] == {"weight": 0.2, "season": 4, "history_rows": f.model_.theta_rows}


def test_a_model_directory_without_the_key_forecasts_as_before(tmp_path):
    frame = _quarterly()
    f = Forecaster(_config(0.3, 0.2)).fit(frame)
    path = f.save(tmp_path / "m")
    config = json.loads((path / "config.json").read_text())
    config["model"].pop("theta_weight")
    config["model"].pop("ets_weight")
    (path / "config.json").write_text(json.dumps(config))
    meta = json.loads((path / "meta.json").read_text())
    import hashlib

    meta["sha256"]["config.json"] = hashlib.sha256((path / "config.json").read_bytes()).hexdigest()
    (path / "meta.json").write_text(json.dumps(meta))
    old = Forecaster.load(path)
    network = dataclasses.replace(f.model_, theta_weight=0.0, ets_weight=0.0).predict(frame).to_frame()
    pd.testing.assert_frame_equal(old.predict(frame).to_frame(), network)


def test_train_prints_the_weight_and_what_it_was_chosen_on(tmp_path, capsys):
    from lstmcast.cli import main

    path = tmp_path / "quarterly.csv"
    _quarterly().to_csv(path, index=False)
    assert main(["train", "--data", str(path), "--series-col", "unique_id", "--target", "y", "--horizon", "4",
                 "--out", str(tmp_path / "m"), "--set", "train.max_epochs=2", "--set", "model.ensemble=1",
                 "--set", "model.hidden_size=8", "--quiet"]) == 0
    out = capsys.readouterr().out
    saved = json.loads((tmp_path / "m" / "config.json").read_text())["model"]
    weights = f"theta_weight {saved['theta_weight']:g}, ets_weight {saved['ets_weight']:g}"
    assert f"{weights} (validation MAE / mean step: network " in out
    single = tmp_path / "one.csv"
    _quarterly(n_series=3).to_csv(single, index=False)
    assert main(["train", "--data", str(single), "--series-col", "unique_id", "--target", "y", "--horizon", "4",
                 "--out", str(tmp_path / "m3"), "--set", "train.max_epochs=1", "--set", "model.ensemble=1",
                 "--set", "model.hidden_size=8", "--quiet"]) == 0
    assert ("theta_weight 0, ets_weight 0 (the validation windows come from 3 series; the weights are chosen "
            "from 10 or more") in capsys.readouterr().out


def test_an_export_says_the_graph_is_the_network_alone(tmp_path):
    from lstmcast.export.exporter import export_model

    f = Forecaster(_config(0.3, 0.2)).fit(_quarterly())
    result = export_model(f, tmp_path / "model.onnx")
    assert any(n.startswith("The model's forecast is 0.5 * this graph's + 0.3 * the Theta method's "
                            "(lstmcast.scoring.theta) + 0.2 * exponential smoothing's") for n in result.notes)
    sidecar = json.loads(result.sidecar.read_text())
    assert sidecar["theta"] == {"weight": 0.3, "season": 4, "history_rows": f.model_.theta_rows}
    assert sidecar["ets"] == {"weight": 0.2, "season": 4, "history_rows": f.model_.theta_rows}


def test_ets_keeps_the_trend_where_it_pays_and_smooths_flat_where_it_does_not():
    rng = np.random.default_rng(5)
    trend = 100 + 3.0 * np.arange(48) + rng.normal(0, 1, 48)
    rising = ets(trend[None, :, None], 6)[0, :, 0]
    assert np.all(np.diff(rising) > 0) and rising[0] > trend[-3:].mean()
    np.testing.assert_allclose(rising, damped(trend[None, :, None], 6)[0, :, 0])
    flat = 100 + rng.normal(0, 1, 48)
    level = ets(flat[None, :, None], 6)[0, :, 0]
    np.testing.assert_allclose(level, level[0])  # simple smoothing: one level for every step
    assert abs(level[0] - 100) < 1.5
