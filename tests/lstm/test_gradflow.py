"""Gradient norms, horizons on constructed cases, and the forget-bias helpers."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from lstmcast.errors import ConfigError, DataError
from lstmcast.lstm import (
    ExplicitLSTM,
    GradientFlowConfig,
    gradient_flow,
    gradient_horizon,
    gradient_horizons,
    gradient_norms,
    set_chrono_bias,
    set_forget_bias,
)
from lstmcast.lstm.gradflow import (
    HORIZON_COLUMNS,
    NORM_COLUMNS,
    efolding_length,
    format_horizon,
    recurrent_matrix_norms,
    seed_summary,
)


def test_gradient_horizon_on_a_geometric_decay():
    norms = 0.5 ** np.arange(30)  # 0.5^9 = 1.95e-3, 0.5^10 = 9.8e-4
    assert gradient_horizon(norms) == 10
    assert gradient_horizon(norms, threshold=0.1) == 4
    assert gradient_horizon(np.ones(5)) is None
    assert format_horizon(None, 5) == "beyond the sequence (> 4)"
    assert format_horizon(10, 30) == "10 steps"


def test_gradient_horizon_rejects_bad_input():
    with pytest.raises(DataError, match="non-empty 1-D"):
        gradient_horizon([])
    with pytest.raises(DataError, match="must be positive and finite"):
        gradient_horizon([0.0, 1.0])
    with pytest.raises(ConfigError, match=r"threshold must be in \(0, 1\)"):
        gradient_horizon([1.0, 0.5], threshold=2.0)


def test_plain_rnn_with_scaled_identity_recurrence_decays_as_a_power():
    # W_hh = a I, no input weights, no bias, zero input: h stays 0 so tanh' = 1 and dL/dh_t = a^(L-1-t) u
    a, length = 0.5, 15
    rnn = nn.RNN(1, 3, batch_first=True)
    with torch.no_grad():
        rnn.weight_hh_l0.copy_(a * torch.eye(3))
        rnn.weight_ih_l0.zero_()
        rnn.bias_ih_l0.zero_()
        rnn.bias_hh_l0.zero_()
    frame = gradient_norms(rnn, torch.zeros(2, length, 1))
    assert list(frame.columns) == list(NORM_COLUMNS)
    by_distance = frame.sort_values("distance")
    np.testing.assert_allclose(by_distance["h_grad_norm"], a ** np.arange(length), rtol=1e-12)
    assert gradient_horizon(by_distance["h_grad_norm"].to_numpy()) == 10
    assert by_distance["c_grad_norm"].isna().all()


def test_lstm_cell_path_with_constant_forget_gate():
    # no weights at all: every gate is sigmoid(bias), so along the cell dc_L/dc_t = f^(L-1-t) exactly
    length, forget_bias = 60, 2.0
    lstm = nn.LSTM(1, 2, batch_first=True)
    with torch.no_grad():
        for parameter in lstm.parameters():
            parameter.zero_()
    set_forget_bias(lstm, forget_bias)
    frame = gradient_norms(lstm, torch.zeros(3, length, 1)).sort_values("distance")
    f = 1.0 / (1.0 + math.exp(-forget_bias))
    np.testing.assert_allclose(frame["forget_path"], f ** np.arange(length), rtol=1e-12)
    # h does not feed back (W_hh = 0), so dL/dc_t is the last step's value carried by the forget gates
    ratio = frame["c_grad_norm"].to_numpy() / frame["c_grad_norm"].iloc[0]
    np.testing.assert_allclose(ratio, f ** np.arange(length), rtol=1e-10)
    expected = math.ceil(math.log(1e-3) / math.log(f))  # first k with f^k < 1e-3
    assert gradient_horizon(frame["c_grad_norm"].to_numpy()) == expected == 55


def test_gradient_norms_leaves_the_module_alone_and_checks_its_input():
    lstm = nn.LSTM(2, 3, batch_first=True)
    before = {k: v.clone() for k, v in lstm.state_dict().items()}
    gradient_norms(lstm, torch.randn(2, 5, 2))
    assert all(torch.equal(before[k], v) for k, v in lstm.state_dict().items())
    assert next(lstm.parameters()).dtype == torch.float32
    with pytest.raises(DataError, match=r"F = input_size = 2, got \(2, 5, 3\)"):
        gradient_norms(lstm, torch.randn(2, 5, 3))
    with pytest.raises(ConfigError, match="one-layer, unidirectional GRU"):
        gradient_norms(nn.GRU(2, 3, num_layers=2, batch_first=True), torch.randn(2, 5, 2))


def test_stacked_bidirectional_lstm_measures_the_top_forward_layer():
    torch.manual_seed(0)
    lstm = nn.LSTM(2, 3, num_layers=2, bidirectional=True)  # time-major: inputs are still [B, L, F]
    frame = gradient_norms(lstm, torch.randn(4, 6, 2))
    assert len(frame) == 6 and frame[["h_grad_norm", "c_grad_norm", "forget_path"]].notna().all().all()
    assert frame.loc[frame["distance"] == 0, "forget_path"].item() == 1.0


@pytest.mark.parametrize("value", [0.0, 1.0, -2.5])
def test_set_forget_bias_sets_the_sum_of_the_forget_slice(value):
    lstm = nn.LSTM(3, 4, num_layers=2, bidirectional=True)
    before = {k: v.clone() for k, v in lstm.state_dict().items()}
    assert set_forget_bias(lstm, value) is lstm
    for name, tensor in lstm.state_dict().items():
        if name.startswith("bias_ih"):
            total = tensor + lstm.state_dict()[name.replace("bias_ih", "bias_hh")]
            torch.testing.assert_close(total[4:8], torch.full((4,), value))
            # the i, g and o slices are untouched
            torch.testing.assert_close(tensor[:4], before[name][:4])
            torch.testing.assert_close(tensor[8:], before[name][8:])
        elif name.startswith("weight"):
            assert torch.equal(tensor, before[name])


def test_forget_bias_sets_the_forget_gate_at_zero_weights():
    lstm = nn.LSTM(1, 2, batch_first=True, dtype=torch.float64)
    with torch.no_grad():
        for parameter in lstm.parameters():
            parameter.zero_()
    set_forget_bias(lstm, 1.0)
    steps = ExplicitLSTM.from_torch(lstm).unroll(torch.zeros(1, 3, 1, dtype=torch.float64)).steps[0][0]
    torch.testing.assert_close(steps[1].forget, torch.full((1, 2), 1 / (1 + math.exp(-1.0)), dtype=torch.float64))


def test_forget_bias_helpers_reject_what_they_cannot_change():
    with pytest.raises(ConfigError, match=r"got GRU.*no forget gate"):
        set_forget_bias(nn.GRU(2, 3), 1.0)
    with pytest.raises(ConfigError, match="bias=False"):
        set_forget_bias(nn.LSTM(2, 3, bias=False), 1.0)
    with pytest.raises(ConfigError, match="finite"):
        set_forget_bias(nn.LSTM(2, 3), float("nan"))
    with pytest.raises(ConfigError, match="max_length must be an integer >= 3"):
        set_chrono_bias(nn.LSTM(2, 3), 2)


def test_chrono_bias_spreads_forget_bias_and_closes_the_input_gate():
    lstm = set_chrono_bias(nn.LSTM(2, 64), 100, generator=torch.Generator().manual_seed(0))
    forget = (lstm.bias_ih_l0 + lstm.bias_hh_l0)[64:128].detach()
    input_bias = (lstm.bias_ih_l0 + lstm.bias_hh_l0)[:64].detach()
    assert forget.min() >= 0.0 and forget.max() <= math.log(99) + 1e-6
    assert forget.max() > 3.0  # some units remember for tens of steps
    torch.testing.assert_close(input_bias, -forget)


def test_quick_gradient_flow_returns_norms_and_horizons_per_seed():
    config = GradientFlowConfig.quick()
    frame = gradient_flow(config)
    assert list(frame.columns) == ["model", "stage", "seed", *NORM_COLUMNS]
    assert set(frame["model"]) == set(config.models)
    assert set(frame["stage"]) == {"init", "trained"}
    assert set(frame["seed"]) == set(config.seeds) == {0, 1}
    assert len(frame) == len(config.models) * 2 * len(config.seeds) * config.length
    assert set(frame.attrs["accuracy"]) == set(config.models)
    assert all(set(per_seed) == {0, 1} for per_seed in frame.attrs["accuracy"].values())
    for stage in ("init", "trained"):
        for seed in config.seeds:
            norms = frame.attrs["matrix_norms"]["rnn"][stage][seed]
            assert 0 < norms["spectral_radius"] <= norms["sigma_max"]
    lstm_rows = frame[frame["model"].str.startswith("lstm")]
    assert lstm_rows["c_grad_norm"].notna().all() and (lstm_rows["forget_path"] <= 1).all()
    # different seeds are different networks and batches
    rnn = frame[(frame["model"] == "rnn") & (frame["stage"] == "init")]
    assert not np.allclose(rnn[rnn["seed"] == 0]["h_grad_norm"], rnn[rnn["seed"] == 1]["h_grad_norm"])
    horizons = gradient_horizons(frame)
    assert list(horizons.columns) == ["model", "stage", "seed", *HORIZON_COLUMNS]
    assert len(horizons) == len(config.models) * 2 * len(config.seeds)
    assert horizons.loc[horizons["model"] == "rnn", "c_horizon"].isna().all()
    assert horizons.loc[horizons["model"] == "rnn", "c_efold"].isna().all()
    assert (horizons.loc[horizons["model"] == "rnn", "h_efold"] > 0).all()
    summary = seed_summary(horizons)
    assert len(summary) == len(config.models) * 2 and (summary["seeds"] == 2).all()
    assert (summary.loc[summary["model"] == "rnn", "c_horizon"] == "-").all()
    with pytest.raises(DataError, match="missing the columns"):
        gradient_horizons(pd.DataFrame({"distance": [0]}))


def test_chrono_t_max_is_the_training_gap_unless_set():
    assert GradientFlowConfig().chrono_t_max == 20 == GradientFlowConfig().train_length
    assert GradientFlowConfig(chrono_max_length=100).chrono_t_max == 100
    with pytest.raises(ConfigError, match="chrono_max_length must be >= 3"):
        GradientFlowConfig(chrono_max_length=2)
    with pytest.raises(ConfigError, match="seeds must be one or more non-negative integers"):
        GradientFlowConfig(seeds=())


@pytest.mark.parametrize("rate", [0.3, 0.5, 0.73, 0.9, 0.99])
def test_efolding_length_of_a_geometric_decay(rate):
    norms = 3.0 * rate ** np.arange(40)
    assert efolding_length(norms) == pytest.approx(-1 / math.log(rate), rel=1e-9)
    assert efolding_length(norms, start=0) == pytest.approx(-1 / math.log(rate), rel=1e-9)
    # a first-step drop (an LSTM's dL/dh leaving the loss) is left out with start=1
    dropped = norms.copy()
    dropped[1:] *= 1e-3
    assert efolding_length(dropped, start=1) == pytest.approx(-1 / math.log(rate), rel=1e-9)
    assert efolding_length(dropped, start=0) != pytest.approx(-1 / math.log(rate), rel=1e-3)


def test_efolding_length_edge_cases():
    assert efolding_length(np.ones(10)) == math.inf
    assert efolding_length(1.1 ** np.arange(10)) == math.inf
    underflow = 0.5 ** np.arange(20.0)
    underflow[15:] = 0.0  # zeros are left out, not log(0)
    assert efolding_length(underflow) == pytest.approx(-1 / math.log(0.5), rel=1e-9)
    with pytest.raises(DataError, match="at least two positive, finite norms"):
        efolding_length([1.0, 0.0, 0.0])
    with pytest.raises(ConfigError, match="start must be a non-negative integer"):
        efolding_length([1.0, 0.5], start=-1)


def _horizon_rows(values, efold, model="lstm-fb1", length=100):
    return pd.DataFrame({
        "model": model, "stage": "init", "seed": range(len(values)), "length": length,
        "h_horizon": pd.array(values, dtype="Int64"), "c_horizon": pd.array(values, dtype="Int64"),
        "path_horizon": pd.array(values, dtype="Int64"),
        "h_efold": efold, "c_efold": efold, "path_efold": efold, "h_horizon_text": "",
        "forget_path_end": [1e-3 * (k + 1) for k in range(len(values))],
    })


def test_seed_summary_gives_median_and_range_and_counts_beyond_as_largest():
    rows = pd.concat([
        _horizon_rows([36, 51, 38, 40, 44], [10.0, 12.0, 11.0, 13.0, 14.0]),
        _horizon_rows([93, None, None], [30.0, math.inf, 40.0], model="lstm-chrono"),
        _horizon_rows([12, 12], [2.0, 2.0], model="rnn").assign(
            c_horizon=pd.array([None, None], dtype="Int64"), path_horizon=pd.array([None, None], dtype="Int64"),
            c_efold=np.nan, path_efold=np.nan, forget_path_end=np.nan),
    ], ignore_index=True)
    summary = seed_summary(rows).set_index("model")
    assert summary.loc["lstm-fb1", "seeds"] == 5
    assert summary.loc["lstm-fb1", "c_horizon"] == "40 (36–51)"
    assert summary.loc["lstm-fb1", "h_efold"] == "12.0 (10.0–14.0)"
    assert summary.loc["lstm-fb1", "forget_path_end"] == "0.003 (0.001–0.005)"
    # two of three seeds beyond the sequence: the median is beyond too
    assert summary.loc["lstm-chrono", "h_horizon"] == ">99 (93–>99)"
    assert summary.loc["lstm-chrono", "h_efold"] == "40.0 (30.0–inf)"
    # all seeds equal: one number; not applicable: '-'
    assert summary.loc["rnn", "h_horizon"] == "12"
    assert summary.loc["rnn", "c_horizon"] == "-" and summary.loc["rnn", "forget_path_end"] == "-"
    with pytest.raises(DataError, match="no 'seed' column"):
        seed_summary(rows.drop(columns="seed"))


def test_recurrent_matrix_norms_separates_sigma_max_from_the_spectral_radius():
    rnn = nn.RNN(1, 2)
    with torch.no_grad():
        rnn.weight_hh_l0.copy_(torch.tensor([[0.5, 2.0], [0.0, 0.5]]))  # eigenvalues 0.5, 0.5
    norms = recurrent_matrix_norms(rnn)
    assert norms["spectral_radius"] == pytest.approx(0.5, abs=1e-6)
    assert norms["sigma_max"] == pytest.approx(np.linalg.norm([[0.5, 2.0], [0.0, 0.5]], 2), rel=1e-6)
    assert norms["sigma_max"] > 2.0  # the bound is vacuous while W_hh^k still shrinks like 0.5^k
    with pytest.raises(ConfigError, match="expects a tanh nn.RNN"):
        recurrent_matrix_norms(nn.GRU(1, 2))


def test_gradient_flow_config_is_validated():
    with pytest.raises(ConfigError, match="models must be a non-empty subset"):
        GradientFlowConfig(models=("lstm", "transformer"))
    with pytest.raises(ConfigError, match="length must be >= 1"):
        GradientFlowConfig(length=0)
