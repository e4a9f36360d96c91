"""The LSTM tools wired into the forecaster and the CLI: Forecaster.inspect, `lstmcast inspect`,
`lstmcast gradient-flow`, `lstmcast long-dependency`, and model.forget_bias."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from lstmcast.cli import main
from lstmcast.config import ModelConfig
from lstmcast.errors import ConfigError
from lstmcast.forecaster import Forecaster
from lstmcast.lstm import ExplicitLSTM, LSTMTrace, record
from lstmcast.models.network import LSTMForecastNet
from tests.conftest import dated_frame, tiny_config

FAST = ["--set", "train.max_epochs=2", "--set", "model.hidden_size=8", "--quiet"]


@pytest.fixture(scope="module")
def csv(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("data") / "hourly.csv"
    dated_frame(200).to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def model_dir(csv, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("model") / "m"
    code = main(["train", "--data", str(csv), "--target", "y", "--features", "x1", "--input-length", "24",
                 "--horizon", "6", "--out", str(out), "--set", "model.num_layers=2",
                 "--set", "model.bidirectional=true", *FAST])
    assert code == 0
    return out


def run_json(args, capsys) -> dict:
    capsys.readouterr()
    assert main([*args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def error_of(args, capsys) -> str:
    capsys.readouterr()
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return err


def test_forecaster_inspect_records_what_the_lstm_sees(sine, tmp_path):
    forecaster = Forecaster(tiny_config(model=dict(num_layers=2))).fit(sine)
    result = forecaster.inspect(sine, windows=3, out=tmp_path)
    trace = result.trace
    assert isinstance(trace, LSTMTrace)
    assert trace.shape == (2, 1, 3, 12, 8)  # layers, directions, windows, input_length, hidden_size
    assert len(result.frame) == 6 * 2 * 3 * 12 * 8
    for path in result.paths.values():
        assert Path(path).stat().st_size > 1000
    # the recorded top layer is what the network's LSTM outputs on the same (scaled) windows
    windows = forecaster.windows(sine, "test")
    x = torch.as_tensor(np.ascontiguousarray(windows.x[-3:]), dtype=torch.float32)
    expected, _ = forecaster.network_.lstm(x)
    np.testing.assert_allclose(trace.output_sequence(), expected.detach().numpy(), atol=1e-5)
    with pytest.raises(ConfigError, match="windows must be a positive integer"):
        forecaster.inspect(sine, windows=0)


def test_cli_inspect_json_and_files(model_dir, csv, tmp_path, capsys):
    payload = run_json(["inspect", "--model", str(model_dir), "--data", str(csv), "--windows", "2",
                        "--out", str(tmp_path)], capsys)
    assert payload["command"] == "inspect"
    assert payload["shape"] == {"layers": 2, "directions": 2, "sequences": 2, "steps": 24, "hidden_size": 8}
    assert len(payload["layers"]) == 4 and 0 < payload["layers"][0]["mean_forget"] < 1
    assert {"lstm_gates_l0", "lstm_gates_l1_backward", "lstm_forget_cell", "trace"} <= set(payload["paths"])
    assert all(Path(p).stat().st_size > 1000 for p in payload["paths"].values())
    assert isinstance(payload["reading"], list)
    capsys.readouterr()
    assert main(["inspect", "--model", str(model_dir), "--data", str(csv)]) == 0
    assert "remembering" in capsys.readouterr().out


def test_cli_inspect_explains_a_sine_model_and_draws_its_input(sine, tmp_path, capsys):
    forecaster = Forecaster(tiny_config(train=dict(max_epochs=1))).fit(sine)
    model = tmp_path / "sine_model"
    forecaster.save(model)
    data = tmp_path / "sine.csv"
    sine.to_csv(data, index=False)
    payload = run_json(["inspect", "--model", str(model), "--data", str(data), "--out", str(tmp_path / "o")], capsys)
    # a barely trained LSTM: gates near their initial 0.5, which the command says in words
    assert any("forget gates sit near 0.5" in s for s in payload["reading"])
    assert Path(payload["paths"]["lstm_gates_l0"]).stat().st_size > 1000


def test_cli_inspect_recall_demo(tmp_path, capsys):
    payload = run_json(["inspect", "--recall-demo", "--quick", "--windows", "4", "--out", str(tmp_path)], capsys)
    assert payload["shape"] == {"layers": 1, "directions": 1, "sequences": 4, "steps": 10, "hidden_size": 8}
    assert payload["source"].startswith("the recall task (lstm-chrono, 8 units, T=10")
    assert {"lstm_gates_l0", "lstm_forget_cell", "trace"} <= set(payload["paths"])


def test_cli_inspect_bad_input(model_dir, csv, tmp_path, capsys):
    assert "--windows must be at least 1" in error_of(
        ["inspect", "--model", str(model_dir), "--data", str(csv), "--windows", "0"], capsys)
    missing = tmp_path / "nope"
    assert "nope" in error_of(["inspect", "--model", str(missing), "--data", str(csv)], capsys)
    assert "needs --model DIR and --data FILE" in error_of(["inspect", "--model", str(model_dir)], capsys)
    assert "leave out --model and --data" in error_of(["inspect", "--recall-demo", "--model", str(model_dir)],
                                                      capsys)
    assert "at most its 64 sequences" in error_of(["inspect", "--recall-demo", "--windows", "65"], capsys)
    assert "not both" in error_of(["inspect", "--model", str(model_dir), "--data", str(csv), "--demo-series"],
                                  capsys)


def test_cli_gradient_flow_quick_and_on_a_model(model_dir, csv, tmp_path, capsys):
    payload = run_json(["gradient-flow", "--quick", "--seeds", "0,3", "--out", str(tmp_path / "flow")], capsys)
    models = {row["model"] for row in payload["horizons"]}
    assert {"rnn", "gru", "lstm-fb0", "lstm-fb1"} <= models
    assert set(payload["recall_accuracy"]) == models
    assert {row["seed"] for row in payload["horizons"]} == {0, 3}
    assert len(payload["summary"]) == len(models) * 2 and all(row["seeds"] == 2 for row in payload["summary"])
    assert set(payload["rnn_matrix_norms"]["init"]) == {"0", "3"}  # JSON keys
    for name in ("gradient_flow_init", "gradient_flow_trained", "gradient_flow_cell", "forget_path",
                 "memory_path_init", "memory_path_trained", "gradient_summary"):
        assert Path(payload["paths"][name]).stat().st_size > 100
    assert "--threshold must be between 0 and 1" in error_of(["gradient-flow", "--quick", "--threshold", "2"], capsys)
    assert "--seeds takes comma-separated integers" in error_of(["gradient-flow", "--quick", "--seeds", "a"], capsys)
    payload = run_json(["gradient-flow", "--model", str(model_dir), "--data", str(csv), "--windows", "4"], capsys)
    (row,) = payload["horizons"]
    assert row["model"] == "forecaster" and row["length"] == 24
    assert "needs --data FILE" in error_of(["gradient-flow", "--model", str(model_dir)], capsys)


def test_cli_long_dependency_quick(tmp_path, capsys):
    payload = run_json(["long-dependency", "--quick", "--out", str(tmp_path)], capsys)
    assert set(payload["accuracy"]) == {"rnn", "gru", "lstm-fb1", "lstm-fb1 (variable lag)"}
    assert set(payload["accuracy"]["rnn"]) == {"5", "10"}
    assert len(payload["runs"]) == 8 and Path(payload["paths"]["plot"]).stat().st_size > 1000
    assert "--jobs must be at least 1" in error_of(["long-dependency", "--quick", "--jobs", "0"], capsys)


def test_cli_long_dependency_ablation_options(capsys):
    payload = run_json(["long-dependency", "--quick", "--models", "lstm-fb3,lstm-chrono-forget",
                        "--variable-lag", "", "--lengths", "4", "--seeds", "0,1", "--max-steps", "5"], capsys)
    assert set(payload["accuracy"]) == {"lstm-fb3", "lstm-chrono-forget"}
    assert len(payload["runs"]) == 4 and all(run["steps"] <= 5 for run in payload["runs"])
    assert {run["seed"] for run in payload["runs"]} == {0, 1}
    payload = run_json(["long-dependency", "--quick", "--models", "rnn", "--variable-lag", "lstm-fb2",
                        "--lengths", "4", "--max-steps", "5"], capsys)
    assert set(payload["accuracy"]) == {"rnn", "lstm-fb2 (variable lag)"}
    assert "unknown model(s) lstm-xl" in error_of(["long-dependency", "--models", "rnn,lstm-xl"], capsys)
    assert "--lengths takes comma-separated integers >= 2" in error_of(["long-dependency", "--lengths", "1"],
                                                                      capsys)
    assert "--max-steps must be at least 1" in error_of(["long-dependency", "--quick", "--max-steps", "0"], capsys)


@pytest.mark.parametrize("value", [0.0, 1.0])
def test_model_forget_bias_sets_the_forget_gate(value):
    config = ModelConfig(hidden_size=4, num_layers=2, bidirectional=True, forget_bias=value)
    net = LSTMForecastNet(n_inputs=1, n_targets=1, n_future=0, horizon=1, config=config)
    for name, bias_ih in net.lstm.named_parameters():
        if name.startswith("bias_ih"):
            bias_hh = dict(net.lstm.named_parameters())[name.replace("bias_ih", "bias_hh")]
            torch.testing.assert_close((bias_ih + bias_hh)[4:8].detach(), torch.full((4,), value))
    # with zero weights the forget gate is then exactly sigmoid(value)
    explicit = ExplicitLSTM.from_torch(net.lstm)
    with torch.no_grad():
        for name, parameter in explicit.named_parameters():
            if name.startswith("weight"):
                parameter.zero_()
    trace = record(explicit, torch.zeros(1, 3, 1))
    np.testing.assert_allclose(trace.forget, 1 / (1 + np.exp(-value)), rtol=1e-6)
