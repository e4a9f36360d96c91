"""The one-step walk-through and the hand-written backward pass, against nn.LSTM and autograd."""

from __future__ import annotations

import json

import pytest
import torch

from lstmcast.cli import main
from lstmcast.errors import ConfigError, DataError
from lstmcast.lstm import ExplicitLSTM
from lstmcast.lstm.walkthrough import (
    check_backward,
    explain_step,
    format_backward,
    format_walkthrough,
    make_lstm,
    manual_backward,
)


def _state(seed: int, hidden: int = 2, features: int = 1):
    generator = torch.Generator().manual_seed(100 + seed)
    return tuple(torch.randn(n, generator=generator, dtype=torch.float64) for n in (features, hidden, hidden))


@pytest.mark.parametrize("seed", range(6))
def test_walkthrough_matches_nn_lstm_to_1e12(seed):
    lstm = make_lstm(seed=seed)
    x, h_prev, c_prev = _state(seed)
    step = explain_step(lstm, x, h_prev, c_prev)
    assert step.max_difference < 1e-12
    # every gate equals the explicit cell's, which is a different code path (per-gate row slices)
    states = ExplicitLSTM.from_torch(lstm).unroll(x.reshape(1, 1, 1), (h_prev.reshape(1, 1, 2),
                                                                      c_prev.reshape(1, 1, 2))).steps[0][0][0]
    for gate in ("forget", "input", "candidate", "output"):
        torch.testing.assert_close(step.gates[gate], getattr(states, gate).reshape(-1), rtol=0, atol=1e-12)
    # the concatenated form really is [W_hh | W_ih] and b_ih + b_hh
    assert step.weights["forget"].shape == (2, 3)
    torch.testing.assert_close(step.weights["forget"][:, 2], lstm.weight_ih_l0[2:4, 0].detach())
    torch.testing.assert_close(step.biases["output"], (lstm.bias_ih_l0 + lstm.bias_hh_l0)[6:8].detach())


def test_walkthrough_text_names_every_quantity_and_the_difference():
    text = format_walkthrough(explain_step(make_lstm(), *_state(0)))
    for needle in ("z_f = W_f [h_{t-1}, x_t] + b_f", "C~_t = g_t = tanh(z_g)", "c_t = f_t * c_{t-1} + i_t * C~_t",
                   "h_t = o_t * tanh(c_t)", "W = [W_hh | W_ih]", "nn.LSTM, same weights", "largest difference"):
        assert needle in text


@pytest.mark.parametrize(("seed", "steps"), [(0, 1), (1, 3), (2, 7), (3, 12)])
def test_hand_written_backward_equals_autograd(seed, steps):
    lstm = make_lstm(hidden_size=2, input_size=1, seed=seed)
    generator = torch.Generator().manual_seed(seed)
    xs = torch.randn(steps, 1, generator=generator, dtype=torch.float64)
    h0, c0, u = (torch.randn(2, generator=generator, dtype=torch.float64) for _ in range(3))
    check = check_backward(lstm, xs, h0, c0, u)
    assert set(check.differences) == {"weight_ih", "weight_hh", "bias", "bias_hh", "x", "h0", "c0"}
    assert max(check.differences.values()) < 1e-12
    assert check.autograd["weight_hh"].abs().max() > 1e-3  # a real gradient, not two zeros


def test_backward_recurrences_are_the_total_derivatives():
    # dL/dh_t and dL/dc_t of the hand-written pass equal autograd's on every intermediate state
    lstm = make_lstm(hidden_size=3, input_size=2, seed=4)
    generator = torch.Generator().manual_seed(9)
    xs = torch.randn(5, 2, generator=generator, dtype=torch.float64)
    h0, c0, u = (torch.randn(3, generator=generator, dtype=torch.float64) for _ in range(3))
    manual = manual_backward(lstm, xs, h0, c0, u)
    steps = ExplicitLSTM.from_torch(lstm).unroll(xs.unsqueeze(1), (h0.reshape(1, 1, 3), c0.reshape(1, 1, 3)))
    states = steps.steps[0][0]
    loss = (states[-1].hidden[0] * u).sum()
    grads = torch.autograd.grad(loss, [s.hidden for s in states] + [s.cell for s in states])
    torch.testing.assert_close(torch.stack([g[0] for g in grads[:5]]), manual["dh"], rtol=0, atol=1e-12)
    torch.testing.assert_close(torch.stack([g[0] for g in grads[5:]]), manual["dc"], rtol=0, atol=1e-12)
    assert "dL/dW_hh" in format_backward(check_backward(lstm, xs, h0, c0, u))


def test_walkthrough_rejects_what_it_cannot_explain():
    with pytest.raises(ConfigError, match="float64"):
        explain_step(torch.nn.LSTM(1, 2), *_state(0))
    with pytest.raises(ConfigError, match="one-layer, unidirectional"):
        explain_step(torch.nn.LSTM(1, 2, num_layers=2, dtype=torch.float64), *_state(0))
    with pytest.raises(DataError, match=r"x \[1\], h_prev \[2\] and c_prev \[2\]; got 1, 3 and 2"):
        explain_step(make_lstm(), torch.zeros(1), torch.zeros(3), torch.zeros(2))
    with pytest.raises(DataError, match=r"xs must be \[T, F\] with F = 1"):
        manual_backward(make_lstm(), torch.zeros(3), torch.zeros(2), torch.zeros(2), torch.ones(2))


def test_cli_explain_step(capsys):
    assert main(["explain-step", "--seed", "2", "--steps", "4", "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["max_difference"] < 1e-12
    assert max(payload["backward"]["max_difference_from_autograd"].values()) < 1e-12
    assert len(payload["backward"]["dh"]) == 4 and payload["backward"]["inputs"][0] == 0.5
    assert set(payload["gates"]) == {"forget", "input", "candidate", "output"}
    assert main(["explain-step"]) == 0
    out = capsys.readouterr().out
    assert "f_t = sigma(z_f)" in out and "Backward through 3 steps" in out
    assert main(["explain-step", "--c-prev", "1,x"]) == 2
    err = capsys.readouterr().err
    assert "--c-prev takes 2 comma-separated finite numbers" in err and "Traceback" not in err
    assert main(["explain-step", "--steps", "0"]) == 2
    assert "--steps must be between 1 and 50" in capsys.readouterr().err
