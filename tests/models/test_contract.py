"""One contract, every model variant: shapes, learning, save/load, determinism, errors.

Variants are options of one network and one config (STYLE habit 8): this suite runs each
combination below through the same checks.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from lstmcast import ConfigError, Forecaster
from lstmcast.config import ModelConfig
from lstmcast.models import GRUEncoder, LSTMEncoder, LSTMForecastNet
from lstmcast.models.ensemble import MedianEnsemble
from lstmcast.models.variants import VARIANTS as MODEL_VARIANTS
from tests.conftest import dated_frame, tiny_config

VARIANTS = list(MODEL_VARIANTS)


def config_for(name: str, **train):
    """The shared variant ``name`` on this suite's frame: target y, past covariate x1, future x2."""
    variant = MODEL_VARIANTS[name]
    data: dict = {"targets": ("y",), "input_length": 24, "horizon": 3, "features": ("x1",)}
    if "no-past" in variant.needs:
        data["features"] = ()
    if "future" in variant.needs:
        data["future_features"] = ("x2",)
    if "targets" in variant.needs:
        data["targets"] = ("y", "x1")
    if "time" in variant.needs:
        data["time_col"] = "date"
    base = tiny_config(data=data, train={"max_epochs": 2, **train})
    return base.with_overrides(variant.overrides)


@pytest.fixture(scope="module")
def frame():
    return dated_frame(300)


@pytest.fixture(scope="module")
def future(frame):
    last = pd.Timestamp(frame["date"].iloc[-1])
    times = pd.date_range(last, periods=4, freq="h")[1:]
    return pd.DataFrame({"date": times, "x2": [0.1, 0.2, 0.3]})


@pytest.mark.parametrize("name", list(VARIANTS))
def test_variant_contract(name, frame, future, tmp_path):
    config = config_for(name)
    forecaster = Forecaster(config)
    assert forecaster.fit(frame) is forecaster
    d = forecaster.config.data
    # shapes: the network maps [B, L, F] (+ [B, H, Kf]) to [B, H, T, P]
    net = forecaster.network_
    x = torch.zeros(5, d.input_length, len(forecaster.channels))
    fut = torch.zeros(5, d.horizon, forecaster.n_future) if forecaster.n_future else None
    n_params = {"point": 1, "gaussian": 2, "quantile": len(config.model.quantiles)}[config.model.head]
    assert net(x, fut).shape == (5, d.horizon, len(d.targets), n_params)
    # predict: one row per step and target, quantile columns for probabilistic heads
    kwargs = {"future": future} if d.future_features else {}
    forecast = forecaster.predict(frame, **kwargs).to_frame()
    assert len(forecast) == d.horizon * len(d.targets)
    assert np.isfinite(forecast["mean"]).all()
    if config.model.head != "point":
        q = forecast[["q0.1", "q0.5", "q0.9"]].to_numpy()
        assert (np.diff(q, axis=1) >= 0).all()  # quantiles never cross
    # save -> load gives identical predictions
    loaded = Forecaster.load(forecaster.save(tmp_path / "m"))
    pd.testing.assert_frame_equal(loaded.predict(frame, **kwargs).to_frame(), forecast)
    # determinism on CPU: the same seed gives the same weights
    again = Forecaster(config).fit(frame)
    for (k, a), b in zip(net.state_dict().items(), again.network_.state_dict().values(), strict=True):
        assert torch.equal(a, b), k


@pytest.mark.parametrize("name", ["plain", "bi+attention+stacked", "gru", "quantile", "recursive", "channel-independent",
                                  "patches", "covariates"])
def test_variant_learns(name, frame):
    config = config_for(name, max_epochs=8, learning_rate=0.01)
    result = Forecaster(config).fit(frame).history_
    assert result.history[-1].train_loss < 0.7 * result.history[0].train_loss


INVALID = [
    ({"model": {"strategy": "recursive"}, "data": {"features": ("x1",)}}, "past-only features"),
    ({"model": {"strategy": "recursive", "head": "gaussian"}, "data": {"features": ()}}, "supports model.head=point only"),
    ({"model": {"channel_independent": True}, "data": {"features": ("x1",)}}, "covariates cannot be used"),
    ({"model": {"attention": True, "attention_heads": 3, "hidden_size": 8}}, "must divide the LSTM output width"),
    ({"model": {"head": "quantile", "quantiles": (0.9, 0.1)}}, "distinct, increasing levels"),
    ({"model": {"conformal": True}}, "needs model.head=gaussian or quantile"),
    ({"model": {"patch_length": 5}}, "must divide data.input_length=24"),
    ({"data": {"scaler": "robust"}}, "data.scaler must be one of minmax, standard, none"),
    ({"data": {"features": ("y",)}}, "listed twice"),
    ({"model": {"encoder": "transformer"}}, "model.encoder must be one of lstm, gru; got 'transformer'"),
]


@pytest.mark.parametrize("spec,message", INVALID, ids=[m for _, m in INVALID])
def test_invalid_combinations_are_named_and_explained(spec, message):
    data = {"targets": ("y",), "input_length": 24, **spec.get("data", {})}
    with pytest.raises(ConfigError, match=message):
        tiny_config(data=data, model=spec.get("model", {}))


def test_missing_future_covariates_at_predict_time(frame):
    forecaster = Forecaster(config_for("covariates")).fit(frame)
    with pytest.raises(Exception, match=r"known-future covariates \['x2'\]: pass their values for the 3 steps"):
        forecaster.predict(frame)
    short = pd.DataFrame({"date": pd.date_range(frame["date"].iloc[-1], periods=2, freq="h")[1:], "x2": [0.0]})
    with pytest.raises(Exception, match="have 1 rows after the end of the data .* needs 3"):
        forecaster.predict(frame, future=short)


def test_calendar_features_need_timestamps():
    frame = pd.DataFrame({"y": np.sin(np.arange(200) / 5)})
    with pytest.raises(Exception, match="calendar_features=true needs a date/time column"):
        Forecaster(tiny_config(data={"targets": ("y",), "calendar_features": True})).fit(frame)


def test_recursive_rollout_feeds_predictions_back():
    torch.manual_seed(0)
    net = LSTMForecastNet(1, 1, 0, 4, ModelConfig(hidden_size=4, strategy="recursive", head="point",
                                                     normalization="none")).eval()
    x = torch.randn(2, 10, 1)
    out = net(x)[..., 0]  # [B, H, T]
    window = x
    for k in range(4):
        step = net.step(window)[:, 0, :, 0]
        torch.testing.assert_close(out[:, k], step)
        window = torch.cat([window[:, 1:], step.unsqueeze(1)], dim=1)


def test_instance_normalisation_makes_the_forecast_shift_equivariant():
    torch.manual_seed(0)
    net = LSTMForecastNet(1, 1, 0, 3, ModelConfig(hidden_size=4, normalization="last")).eval()
    x = torch.randn(2, 10, 1)
    torch.testing.assert_close(net(x + 5.0), net(x) + 5.0)


def test_standard_instance_normalisation_is_affine_equivariant():
    """The default: a window shifted and stretched gives the forecast shifted and stretched
    (every quantile), so a trend or a level shift never takes the LSTM outside its range."""
    torch.manual_seed(0)
    net = LSTMForecastNet(1, 1, 0, 3, ModelConfig(hidden_size=4)).eval()  # standard norm, quantile head
    x = torch.randn(2, 10, 1)
    torch.testing.assert_close(net(3.0 * x + 7.0), 3.0 * net(x) + 7.0, rtol=1e-4, atol=1e-4)
    flat = torch.zeros(1, 10, 1) + 4.0  # a constant window is not divided by zero
    assert torch.isfinite(net(flat)).all()


def test_inspect_returns_and_plots_attention_weights(frame, tmp_path):
    forecaster = Forecaster(config_for("attention")).fit(frame)
    result = forecaster.inspect(frame, windows=4, out=tmp_path)
    assert result.attention.shape == (4, 24)
    np.testing.assert_allclose(result.attention.sum(axis=1), 1.0, rtol=1e-5)  # a softmax over positions
    assert (tmp_path / "attention.png").stat().st_size > 1000
    assert Forecaster(config_for("plain")).fit(frame).inspect(frame).attention is None


def test_the_encoder_is_the_configured_module_and_lstm_weights_keep_their_names():
    lstm = LSTMForecastNet(2, 1, 0, 3, ModelConfig(hidden_size=4))
    gru = LSTMForecastNet(2, 1, 0, 3, ModelConfig(hidden_size=4, encoder="gru"))
    assert isinstance(lstm.encoder, torch.nn.LSTM) and isinstance(gru.encoder, torch.nn.GRU)
    # model directories saved before the encoder seam hold lstm.* weights: the names are unchanged
    assert {k for k in lstm.state_dict() if k.startswith("lstm.")} == {
        "lstm.weight_ih_l0", "lstm.weight_hh_l0", "lstm.bias_ih_l0", "lstm.bias_hh_l0"}
    assert {k.split(".")[0] for k in gru.state_dict()} == {"gru", "head"}
    assert LSTMEncoder.onnx_ops == ("LSTM",) and GRUEncoder.onnx_ops == ("GRU",)
    ensemble = MedianEnsemble([lstm, LSTMForecastNet(2, 1, 0, 3, ModelConfig(hidden_size=4))])
    assert ensemble.encoder is lstm.encoder and ensemble.lstm is lstm.lstm  # the old name still reads


def test_a_model_directory_without_the_encoder_key_loads_as_lstm(frame, tmp_path):
    import hashlib
    import json

    forecaster = Forecaster(config_for("plain")).fit(frame)
    path = forecaster.save(tmp_path / "m")
    raw = json.loads((path / "config.json").read_text())
    del raw["model"]["encoder"]  # as written before model.encoder existed
    (path / "config.json").write_text(json.dumps(raw))
    meta = json.loads((path / "meta.json").read_text())
    meta["sha256"]["config.json"] = hashlib.sha256((path / "config.json").read_bytes()).hexdigest()
    (path / "meta.json").write_text(json.dumps(meta))
    loaded = Forecaster.load(path)
    assert loaded.config_.model.encoder == "lstm"
    pd.testing.assert_frame_equal(loaded.predict(frame).to_frame(), forecaster.predict(frame).to_frame())


def test_gate_introspection_refuses_a_gru_model_by_name(frame):
    forecaster = Forecaster(config_for("gru")).fit(frame)
    with pytest.raises(ConfigError, match=r"inspect records LSTM gates .*\(model.encoder='gru'\), which has none"):
        forecaster.inspect(frame)
    with pytest.raises(ConfigError, match="model.encoder='gru' has no forget gate"):
        LSTMForecastNet(2, 1, 0, 3, ModelConfig(hidden_size=4, encoder="gru", forget_bias=1.0))


def test_gradient_flow_on_a_gru_model_says_why_it_cannot(frame, tmp_path, capsys):
    from lstmcast.cli import main

    forecaster = Forecaster(config_for("gru")).fit(frame)
    forecaster.save(tmp_path / "model")
    frame.to_csv(tmp_path / "data.csv", index=False)
    code = main(["gradient-flow", "--model", str(tmp_path / "model"), "--data", str(tmp_path / "data.csv")])
    err = capsys.readouterr().err
    assert code == 2
    assert "gradient-flow records LSTM gates" in err and "model.encoder='gru'" in err and "Traceback" not in err


def test_seasonal_skip_forecasts_the_residual_over_the_seasonal_naive():
    # with the head's weights at zero the network's correction is 0: the output is the seasonal naive
    for normalization in ("none", "standard"):
        net = LSTMForecastNet(1, 1, 0, 5, ModelConfig(hidden_size=4, head="point", seasonal_skip=3,
                                                      normalization=normalization))
        for p in net.head.parameters():
            torch.nn.init.zeros_(p)
        x = torch.arange(20.0).reshape(2, 10, 1)
        out = net(x)[..., 0, 0]  # [B, H]
        expected = torch.tensor([[7.0, 8, 9, 7, 8], [17.0, 18, 19, 17, 18]])
        assert torch.allclose(out, expected), (normalization, out)


@pytest.mark.parametrize("off", [{"seasonal_skip": 0}, {"strategy": "recursive"}])
def test_skip_cycles_without_a_skip_is_refused(off):
    with pytest.raises(ConfigError, match=r"model.skip_cycles=2 averages the cycles of a seasonal skip, which "
                                          r"model.seasonal_skip=0 / model.strategy='recursive' turn off; "
                                          r"set model.skip_cycles=1\."):
        ModelConfig(skip_cycles=2, **off)


def test_skip_cycles_average_the_window_cycles_at_the_last_cycles_level():
    # (the test above leaves skip_cycles at 1, the default, which a model saved before the key reads)
    for normalization in ("none", "standard"):
        net = LSTMForecastNet(1, 1, 0, 5, ModelConfig(hidden_size=4, head="point", seasonal_skip=3, skip_cycles=2,
                                                      normalization=normalization))
        for p in net.head.parameters():
            torch.nn.init.zeros_(p)
        x = torch.tensor([9.0, 9, 9, 9, 1, 5, 3, 3, 3, 3]).reshape(1, 10, 1)
        # cycles [1, 5, 3] and [3, 3, 3]: their mean [2, 4, 3], at the last cycle's level (3 - 3 = +0)
        assert torch.allclose(net(x)[0, :, 0, 0], torch.tensor([2.0, 4, 3, 2, 4])), normalization
        x[0, 7:] += 6.0  # the last cycle 6 higher: the mean profile moves up to its level, +3 over the two cycles' mean
        assert torch.allclose(net(x)[0, :, 0, 0], torch.tensor([8.0, 10, 9, 8, 10])), normalization


@pytest.mark.parametrize(("model", "data", "message"), [
    ({"seasonal_skip": 3, "strategy": "recursive"}, {"features": ()}, "does not apply to model.strategy='recursive'"),
    ({"seasonal_skip": 30}, {}, "model.seasonal_skip=30 needs a window of at least that many steps; data.input_length is 24"),
    ({"seasonal_skip": 12, "skip_cycles": 3}, {}, "model.skip_cycles=3 needs 3 cycles of model.seasonal_skip=12 steps "
                                                  "in the window; data.input_length is 24. Set model.skip_cycles=2"),
])
def test_seasonal_skip_misuse_is_named(frame, model, data, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        Forecaster(tiny_config(data={"targets": ("y",), "input_length": 24, "horizon": 3, **data}, model=model)).fit(frame)
