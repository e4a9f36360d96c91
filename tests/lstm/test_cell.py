"""ExplicitLSTM reproduces torch.nn.LSTM: outputs, final states and gradients, in float64 to 1e-6."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from lstmcast.errors import ConfigError, DataError
from lstmcast.lstm import ExplicitLSTM, lstm_cell
from lstmcast.lstm.equations import GATE_ROWS, LSTMWeights

TOLERANCE = 1e-6

lstm_options = st.fixed_dictionaries(
    {
        "input_size": st.integers(1, 3),
        "hidden_size": st.integers(1, 4),
        "num_layers": st.integers(1, 3),
        "bidirectional": st.booleans(),
        "batch_first": st.booleans(),
        "bias": st.booleans(),
    }
)


def _pair(options: dict, seed: int) -> tuple[nn.LSTM, ExplicitLSTM]:
    torch.manual_seed(seed)
    reference = nn.LSTM(**options, dtype=torch.float64)
    return reference, ExplicitLSTM.from_torch(reference)


def _inputs(options: dict, batch: int, length: int, seed: int) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    shape = (batch, length, options["input_size"]) if options["batch_first"] else (length, batch, options["input_size"])
    return torch.randn(shape, generator=generator, dtype=torch.float64)


def _initial_state(options: dict, batch: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed + 1)
    rows = options["num_layers"] * (2 if options["bidirectional"] else 1)
    shape = (rows, batch, options["hidden_size"])
    return (
        torch.randn(shape, generator=generator, dtype=torch.float64),
        torch.randn(shape, generator=generator, dtype=torch.float64),
    )


@settings(max_examples=50, deadline=None)
@given(
    options=lstm_options,
    batch=st.integers(1, 3),
    length=st.integers(1, 5),
    with_state=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_forward_and_final_states_match_nn_lstm(options, batch, length, with_state, seed):
    reference, explicit = _pair(options, seed)
    x = _inputs(options, batch, length, seed)
    hx = _initial_state(options, batch, seed) if with_state else None
    expected, (h_expected, c_expected) = reference(x, hx)
    got, (h_got, c_got) = explicit(x, hx)
    assert got.shape == expected.shape
    torch.testing.assert_close(got, expected, atol=TOLERANCE, rtol=0)
    torch.testing.assert_close(h_got, h_expected, atol=TOLERANCE, rtol=0)
    torch.testing.assert_close(c_got, c_expected, atol=TOLERANCE, rtol=0)


@settings(max_examples=40, deadline=None)
@given(options=lstm_options, batch=st.integers(1, 3), length=st.integers(1, 4), seed=st.integers(0, 2**16))
def test_gradients_match_autograd_through_nn_lstm(options, batch, length, seed):
    reference, explicit = _pair(options, seed)
    x = _inputs(options, batch, length, seed)
    hx = _initial_state(options, batch, seed)
    generator = torch.Generator().manual_seed(seed + 2)
    directions = 2 if options["bidirectional"] else 1
    out_shape = (*x.shape[:2], directions * options["hidden_size"])
    weights = torch.randn(out_shape, generator=generator, dtype=torch.float64)

    def grads(module: nn.Module) -> list[torch.Tensor]:
        inputs = x.clone().requires_grad_(True)
        state = tuple(s.clone().requires_grad_(True) for s in hx)
        output, (h_n, c_n) = module(inputs, state)
        loss = (output * weights).sum() + (h_n**2).sum() + (c_n * 0.5).sum()
        return list(torch.autograd.grad(loss, [inputs, *state, *module.parameters()]))

    for got, expected in zip(grads(explicit), grads(reference), strict=True):
        torch.testing.assert_close(got, expected, atol=TOLERANCE, rtol=0)


def test_parameters_have_nn_lstm_names_and_layout():
    reference = nn.LSTM(3, 5, num_layers=2, bidirectional=True)
    explicit = ExplicitLSTM(3, 5, num_layers=2, bidirectional=True)
    assert [(n, p.shape) for n, p in explicit.named_parameters()] == [
        (n, p.shape) for n, p in reference.named_parameters()
    ]
    explicit.load_state_dict(reference.state_dict(), strict=True)  # interchangeable state dicts


def test_from_torch_copies_weights_and_to_torch_round_trips():
    reference = nn.LSTM(2, 3, batch_first=True, dtype=torch.float64)
    explicit = ExplicitLSTM.from_torch(reference)
    with torch.no_grad():
        explicit.weight_hh_l0.add_(1.0)
    assert not torch.equal(explicit.weight_hh_l0, reference.weight_hh_l0)
    back = explicit.to_torch()
    x = torch.randn(2, 4, 2, dtype=torch.float64)
    torch.testing.assert_close(back(x)[0], explicit(x)[0], atol=TOLERANCE, rtol=0)


def test_one_cell_step_matches_nn_lstmcell():
    torch.manual_seed(0)
    cell = nn.LSTMCell(3, 4, dtype=torch.float64)
    x, h, c = (torch.randn(2, n, dtype=torch.float64) for n in (3, 4, 4))
    weights = LSTMWeights(cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh)
    step = lstm_cell(x, h, c, weights)
    h_expected, c_expected = cell(x, (h, c))
    torch.testing.assert_close(step.hidden, h_expected, atol=1e-12, rtol=0)
    torch.testing.assert_close(step.cell, c_expected, atol=1e-12, rtol=0)
    # the gates come from PyTorch's i, f, g, o row blocks
    rows = slice(GATE_ROWS["forget"] * 4, (GATE_ROWS["forget"] + 1) * 4)
    forget = torch.sigmoid(x @ cell.weight_ih[rows].T + cell.bias_ih[rows] + h @ cell.weight_hh[rows].T + cell.bias_hh[rows])
    torch.testing.assert_close(step.forget, forget, atol=1e-12, rtol=0)


def test_float32_matches_too():
    torch.manual_seed(1)
    reference = nn.LSTM(4, 8, num_layers=2, batch_first=True)
    x = torch.randn(3, 20, 4)
    torch.testing.assert_close(ExplicitLSTM.from_torch(reference)(x)[0], reference(x)[0], atol=1e-5, rtol=0)


@pytest.mark.parametrize(
    ("shape", "match"),
    [
        ((7, 3), "rank 3"),
        ((2, 7, 3, 1), "rank 3"),
        ((2, 7, 5), "input_size=3 features.*got 5"),
        ((0, 7, 3), "empty input"),
    ],
)
def test_bad_input_shapes_raise_data_error(shape, match):
    explicit = ExplicitLSTM(3, 4, batch_first=True)
    with pytest.raises(DataError, match=match):
        explicit(torch.zeros(shape))


def test_dtype_mismatch_says_how_to_convert():
    explicit = ExplicitLSTM(3, 4, batch_first=True)
    with pytest.raises(DataError, match=r"Convert input: input.to\(torch.float32\)"):
        explicit(torch.zeros(1, 2, 3, dtype=torch.float64))


def test_bad_initial_state_shape():
    explicit = ExplicitLSTM(3, 4, num_layers=2, batch_first=True)
    bad = torch.zeros(1, 2, 4)
    with pytest.raises(DataError, match=r"h_0 must have shape \[num_layers \* D, B, H\] = \(2, 2, 4\)"):
        explicit(torch.zeros(2, 5, 3), (bad, bad))


def test_proj_size_and_non_lstm_are_config_errors():
    with pytest.raises(ConfigError, match="does not support proj_size"):
        ExplicitLSTM.from_torch(nn.LSTM(3, 4, proj_size=2))
    with pytest.raises(ConfigError, match="does not support proj_size"):
        ExplicitLSTM(3, 4, proj_size=2)
    with pytest.raises(ConfigError, match=r"expects a torch\.nn\.LSTM, got GRU"):
        ExplicitLSTM.from_torch(nn.GRU(3, 4))
    with pytest.raises(ConfigError, match="hidden_size must be a positive integer"):
        ExplicitLSTM(3, 0)
