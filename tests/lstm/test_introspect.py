"""Recording gates and states: shapes, the cell recursion, agreement with nn.LSTM, the tidy frame."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from lstmcast.errors import ConfigError, DataError
from lstmcast.lstm import ExplicitLSTM, LSTMTrace, record
from lstmcast.lstm.introspect import QUANTITIES, describe_gates


@pytest.fixture
def stacked_bidirectional() -> nn.LSTM:
    torch.manual_seed(3)
    return nn.LSTM(3, 4, num_layers=2, bidirectional=True, batch_first=True, dtype=torch.float64)


@pytest.fixture
def inputs() -> torch.Tensor:
    return torch.randn(2, 6, 3, generator=torch.Generator().manual_seed(4), dtype=torch.float64)


def test_shapes_are_layers_directions_batch_length_hidden(stacked_bidirectional, inputs):
    trace = record(stacked_bidirectional, inputs)
    assert isinstance(trace, LSTMTrace)
    for name in QUANTITIES:
        assert trace.get(name).shape == (2, 2, 2, 6, 4)
        assert trace.get(name).dtype == np.float64
    assert trace.initial_cell.shape == (2, 2, 2, 4)
    assert (trace.num_layers, trace.num_directions, trace.batch_size, trace.length, trace.hidden_size) == (2, 2, 2, 6, 4)


def test_recorded_cell_follows_the_cell_equation_exactly(stacked_bidirectional, inputs):
    generator = torch.Generator().manual_seed(5)
    hx = tuple(torch.randn(4, 2, 4, generator=generator, dtype=torch.float64) for _ in range(2))
    trace = record(stacked_bidirectional, inputs, hx)
    f, i, g, c = trace.forget, trace.input, trace.candidate, trace.cell
    for layer in range(2):
        # forward: c_t = f_t * c_{t-1} + i_t * g_t, starting from c_0
        previous = np.concatenate([trace.initial_cell[layer, 0][:, None], c[layer, 0, :, :-1]], axis=1)
        np.testing.assert_array_equal(c[layer, 0], f[layer, 0] * previous + i[layer, 0] * g[layer, 0])
        # backward: the recurrence runs from the end, c_t = f_t * c_{t+1} + i_t * g_t
        following = np.concatenate([c[layer, 1, :, 1:], trace.initial_cell[layer, 1][:, None]], axis=1)
        np.testing.assert_array_equal(c[layer, 1], f[layer, 1] * following + i[layer, 1] * g[layer, 1])
    np.testing.assert_allclose(trace.hidden, trace.output * np.tanh(trace.cell), rtol=1e-12, atol=1e-15)


def test_last_layer_hidden_equals_nn_lstm_output(stacked_bidirectional, inputs):
    trace = record(stacked_bidirectional, inputs)
    output, (h_n, c_n) = stacked_bidirectional(inputs)
    np.testing.assert_allclose(trace.output_sequence(), output.detach().numpy(), atol=1e-12)
    # final states: forward ends at t = L-1, backward at t = 0
    np.testing.assert_allclose(trace.hidden[-1, 0, :, -1], h_n[2].detach().numpy(), atol=1e-12)
    np.testing.assert_allclose(trace.cell[-1, 1, :, 0], c_n[3].detach().numpy(), atol=1e-12)


def test_gates_are_in_their_ranges(stacked_bidirectional, inputs):
    trace = record(stacked_bidirectional, inputs)
    for gate in (trace.forget, trace.input, trace.output):
        assert ((gate > 0) & (gate < 1)).all()
    assert (np.abs(trace.candidate) < 1).all()
    assert (np.abs(trace.hidden) < 1).all()


def test_float32_time_major_module_and_numpy_input():
    torch.manual_seed(6)
    lstm = nn.LSTM(2, 3)  # float32, batch_first=False
    x = np.random.default_rng(0).normal(size=(4, 5, 2))  # record always takes [B, L, F]
    trace = record(lstm, x)
    assert trace.shape == (1, 1, 4, 5, 3)
    expected, _ = lstm(torch.as_tensor(x, dtype=torch.float32).transpose(0, 1))  # [L, B, H]
    np.testing.assert_allclose(trace.hidden[0, 0], expected.transpose(0, 1).detach().numpy(), atol=1e-6)
    assert lstm.training  # the module's mode is left alone


def test_record_accepts_an_explicit_lstm_and_does_not_track_gradients():
    explicit = ExplicitLSTM(2, 3, batch_first=True)
    trace = record(explicit, torch.randn(1, 4, 2))
    assert trace.shape == (1, 1, 1, 4, 3)


def test_to_frame_is_tidy_and_matches_the_arrays(stacked_bidirectional, inputs):
    trace = record(stacked_bidirectional, inputs)
    frame = trace.to_frame()
    assert list(frame.columns) == ["layer", "direction", "sample", "step", "unit", "gate", "value"]
    assert len(frame) == len(QUANTITIES) * 2 * 2 * 2 * 6 * 4
    assert set(frame["gate"]) == set(QUANTITIES)
    row = frame[
        (frame.layer == 1) & (frame.direction == "backward") & (frame["sample"] == 1)
        & (frame.step == 2) & (frame.unit == 3) & (frame.gate == "cell")
    ]
    assert row["value"].item() == trace.cell[1, 1, 1, 2, 3]
    small = trace.to_frame(quantities=("f", "c"))
    assert set(small["gate"]) == {"forget", "cell"}


def test_summary_has_mean_forget_and_cell_norm(stacked_bidirectional, inputs):
    summary = record(stacked_bidirectional, inputs).summary()
    assert list(summary.columns) == ["layer", "direction", "step", "mean_forget", "cell_norm"]
    assert len(summary) == 2 * 2 * 6
    assert summary["mean_forget"].between(0, 1).all()


def test_bad_inputs_raise_clear_errors(stacked_bidirectional):
    with pytest.raises(DataError, match=r"rank 3, \[B, L, F\].*got rank 2"):
        record(stacked_bidirectional, torch.zeros(6, 3))
    with pytest.raises(DataError, match=r"input_size=3 features.*got 5"):
        record(stacked_bidirectional, torch.zeros(2, 6, 5))
    with pytest.raises(ConfigError, match=r"expects a torch\.nn\.LSTM or an ExplicitLSTM, got GRU"):
        record(nn.GRU(3, 4), torch.zeros(2, 6, 3))
    with pytest.raises(ConfigError, match="Unknown quantity 'z'"):
        record(stacked_bidirectional, torch.zeros(1, 2, 3)).get("z")


def _constant_gate_trace(forget_bias: float) -> LSTMTrace:
    # zero weights: every forget gate is exactly sigmoid(forget_bias)
    lstm = nn.LSTM(1, 3, batch_first=True, dtype=torch.float64)
    with torch.no_grad():
        for parameter in lstm.parameters():
            parameter.zero_()
        lstm.bias_ih_l0[3:6] = forget_bias
    return record(lstm, torch.randn(2, 8, 1, dtype=torch.float64))


def test_record_keeps_the_input_window(stacked_bidirectional, inputs):
    trace = record(stacked_bidirectional, inputs)
    np.testing.assert_array_equal(trace.inputs, inputs.numpy())
    with pytest.raises(DataError, match=r"LSTMTrace.inputs has shape \(2, 5, 3\)"):
        LSTMTrace(**{name: trace.get(name) for name in QUANTITIES}, initial_hidden=trace.initial_hidden,
                  initial_cell=trace.initial_cell, inputs=np.zeros((2, 5, 3)))


def test_describe_gates_explains_gates_near_one_half():
    (sentence,) = describe_gates(_constant_gate_trace(0.0))
    assert "forget gates sit near 0.5 (mean f = 0.500, 0% above 0.95)" in sentence
    assert "halved every 1.0 steps" in sentence and "one-step forecast" in sentence


def test_describe_gates_names_saturated_forget_gates():
    (sentence,) = describe_gates(_constant_gate_trace(5.0))  # sigmoid(5) = 0.9933
    assert sentence.startswith("100% of the forget-gate values are above 0.95 (mean f = 0.993)")
    assert "after 14 steps" in sentence
    assert describe_gates(_constant_gate_trace(1.0)) == []  # f = 0.73: neither
