"""The LSTM equations, one small function per equation (what :class:`~lstmcast.lstm.cell.ExplicitLSTM`
runs). For one layer and one direction, at step t, with input ``x_t [B, F]``, previous hidden
state ``h_{t-1} [B, H]`` and previous cell state ``c_{t-1} [B, H]``::

    f_t = sigmoid(W_if x_t + b_if + W_hf h_{t-1} + b_hf)     forget gate      forget_gate
    i_t = sigmoid(W_ii x_t + b_ii + W_hi h_{t-1} + b_hi)     input gate       input_gate
    o_t = sigmoid(W_io x_t + b_io + W_ho h_{t-1} + b_ho)     output gate      output_gate
    g_t = tanh(W_ig x_t + b_ig + W_hg h_{t-1} + b_hg)        candidate        candidate
    c_t = f_t * c_{t-1} + i_t * g_t                          cell state       cell_update
    h_t = o_t * tanh(c_t)                                    hidden state     hidden_update

PyTorch stores the four row blocks of ``weight_ih_l{k}`` ``[4H, F_k]``, ``weight_hh_l{k}``
``[4H, H]``, ``bias_ih_l{k}`` and ``bias_hh_l{k}`` ``[4H]`` in the order i, f, g, o (:data:`GATE_ROWS`).
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor

__all__ = [
    "GATE_ROWS",
    "LSTMWeights",
    "StepState",
    "candidate",
    "cell_update",
    "forget_gate",
    "hidden_update",
    "input_gate",
    "lstm_cell",
    "output_gate",
    "run_direction",
]

#: Position of each gate's row block in PyTorch's packed weights (``[4H, ...]``): i, f, g, o.
GATE_ROWS: dict[str, int] = {"input": 0, "forget": 1, "candidate": 2, "output": 3}


class LSTMWeights(NamedTuple):
    """The parameters of one layer and one direction, in ``nn.LSTM``'s packed layout.

    ``weight_ih`` is ``[4H, F]``, ``weight_hh`` is ``[4H, H]``, ``bias_ih`` and ``bias_hh`` are
    ``[4H]`` (or ``None`` for an LSTM built with ``bias=False``); row blocks in the order i, f, g, o.
    """

    weight_ih: Tensor
    weight_hh: Tensor
    bias_ih: Tensor | None
    bias_hh: Tensor | None

    @property
    def hidden_size(self) -> int:
        return self.weight_hh.shape[1]


class StepState(NamedTuple):
    """Everything one cell step computes, each ``[B, H]``."""

    forget: Tensor
    input: Tensor
    output: Tensor
    candidate: Tensor
    cell: Tensor
    hidden: Tensor


# --------------------------------------------------------------------------------------------
# One function per equation
# --------------------------------------------------------------------------------------------


def _preactivation(x_t: Tensor, h_prev: Tensor, weights: LSTMWeights, gate: str) -> Tensor:
    """``W_i* x_t + b_i* + W_h* h_{t-1} + b_h*`` for one gate: ``[B, F], [B, H] -> [B, H]``."""
    hidden = weights.hidden_size
    rows = slice(GATE_ROWS[gate] * hidden, (GATE_ROWS[gate] + 1) * hidden)
    z = x_t @ weights.weight_ih[rows].T + h_prev @ weights.weight_hh[rows].T  # [B, H]
    if weights.bias_ih is not None and weights.bias_hh is not None:  # both, or neither (bias=False)
        z = z + weights.bias_ih[rows] + weights.bias_hh[rows]
    return z


def forget_gate(x_t: Tensor, h_prev: Tensor, weights: LSTMWeights) -> Tensor:
    """``f_t = sigmoid(W_if x_t + b_if + W_hf h_{t-1} + b_hf)``: how much of ``c_{t-1}`` to keep.

    Inputs: ``x_t [B, F]``, ``h_prev [B, H]``. Output: ``[B, H]`` in (0, 1).
    """
    return torch.sigmoid(_preactivation(x_t, h_prev, weights, "forget"))


def input_gate(x_t: Tensor, h_prev: Tensor, weights: LSTMWeights) -> Tensor:
    """``i_t = sigmoid(W_ii x_t + b_ii + W_hi h_{t-1} + b_hi)``: how much of ``g_t`` to write.

    Inputs: ``x_t [B, F]``, ``h_prev [B, H]``. Output: ``[B, H]`` in (0, 1).
    """
    return torch.sigmoid(_preactivation(x_t, h_prev, weights, "input"))


def output_gate(x_t: Tensor, h_prev: Tensor, weights: LSTMWeights) -> Tensor:
    """``o_t = sigmoid(W_io x_t + b_io + W_ho h_{t-1} + b_ho)``: how much of ``tanh(c_t)`` to show.

    Inputs: ``x_t [B, F]``, ``h_prev [B, H]``. Output: ``[B, H]`` in (0, 1).
    """
    return torch.sigmoid(_preactivation(x_t, h_prev, weights, "output"))


def candidate(x_t: Tensor, h_prev: Tensor, weights: LSTMWeights) -> Tensor:
    """``g_t = tanh(W_ig x_t + b_ig + W_hg h_{t-1} + b_hg)``: the new memory content (C~_t).

    Inputs: ``x_t [B, F]``, ``h_prev [B, H]``. Output: ``[B, H]`` in (-1, 1).
    """
    return torch.tanh(_preactivation(x_t, h_prev, weights, "candidate"))


def cell_update(forget: Tensor, cell_prev: Tensor, input: Tensor, candidate: Tensor) -> Tensor:
    """``c_t = f_t * c_{t-1} + i_t * g_t`` (all ``[B, H]``): the additive cell-state highway.

    Its Jacobian along the cell path is ``dc_t/dc_{t-1} = diag(f_t)`` (plus terms through
    ``h_{t-1}`` inside the gates), which is why gradients survive while ``f_t`` stays near 1.
    """
    return forget * cell_prev + input * candidate


def hidden_update(output: Tensor, cell: Tensor) -> Tensor:
    """``h_t = o_t * tanh(c_t)`` (all ``[B, H]``)."""
    return output * torch.tanh(cell)


def lstm_cell(x_t: Tensor, h_prev: Tensor, c_prev: Tensor, weights: LSTMWeights) -> StepState:
    """One LSTM step: ``x_t [B, F]``, ``h_prev [B, H]``, ``c_prev [B, H]`` -> :class:`StepState`."""
    f = forget_gate(x_t, h_prev, weights)
    i = input_gate(x_t, h_prev, weights)
    o = output_gate(x_t, h_prev, weights)
    g = candidate(x_t, h_prev, weights)
    c = cell_update(f, c_prev, i, g)
    h = hidden_update(o, c)
    return StepState(forget=f, input=i, output=o, candidate=g, cell=c, hidden=h)


def run_direction(
    inputs: Tensor, h_0: Tensor, c_0: Tensor, weights: LSTMWeights, *, reverse: bool = False
) -> list[StepState]:
    """Run one layer in one direction over a sequence.

    Inputs: ``inputs [B, L, F]``, ``h_0 [B, H]``, ``c_0 [B, H]``. Returns ``L`` step states,
    indexed by time position (``result[t]`` is the state after reading ``inputs[:, t]``); with
    ``reverse=True`` the recurrence reads ``t = L-1, ..., 0``.
    """
    length = inputs.shape[1]
    order = range(length - 1, -1, -1) if reverse else range(length)
    steps: list[StepState] = []  # in reading order
    h, c = h_0, c_0
    for t in order:
        state = lstm_cell(inputs[:, t], h, c, weights)
        steps.append(state)
        h, c = state.hidden, state.cell
    return steps[::-1] if reverse else steps
