"""Gate-bias initialisations (forecasting models and the teaching package share them) that set an LSTM's memory time scale.

``nn.LSTM`` adds two biases to every gate, ``bias_ih`` and ``bias_hh`` (each ``[4H]``, row blocks
i, f, g, o). Only their sum matters, so these helpers write the wanted sum into ``bias_ih`` and
zero the same slice of ``bias_hh``. They change the module in place (under ``torch.no_grad``) and
return it.

- :func:`set_forget_bias` (Jozefowicz et al. 2015, "An Empirical Exploration of Recurrent Network
  Architectures"): forget-gate bias 1 makes ``f ~ sigmoid(1) = 0.73`` at initialisation instead of
  0.5, so the cell state and its gradient decay as ``0.73^k`` rather than ``0.5^k``.
- :func:`set_chrono_bias` (Tallec & Ollivier 2018, "Can recurrent neural networks warp time?"):
  ``b_f ~ log(U(1, T_max - 1))`` and ``b_i = -b_f``, so units remember over time scales spread up to
  ``T_max`` steps, and the input gate starts mostly closed so the cell does not drift.
"""

from __future__ import annotations

from typing import cast

import torch
from torch import nn

from lstmcast.errors import ConfigError

__all__ = ["set_chrono_bias", "set_forget_bias"]

_INPUT, _FORGET = 0, 1  # row blocks in nn.LSTM's packed i, f, g, o layout


def _bias_pairs(lstm: nn.Module, caller: str) -> list[tuple[torch.Tensor, torch.Tensor]]:
    # nn.LSTM or a module with its parameter layout (the teaching package's ExplicitLSTM)
    lstm_like = isinstance(lstm, nn.LSTM) or (not isinstance(lstm, nn.RNNBase) and hasattr(lstm, "weight_ih_l0"))
    if not lstm_like:
        raise ConfigError(
            f"{caller} expects a torch.nn.LSTM (or ExplicitLSTM), got {type(lstm).__name__}. "
            "GRU and RNN modules have no forget gate."
        )
    if not lstm.bias:
        raise ConfigError(
            f"{caller} needs an LSTM with biases, but this one was built with bias=False. "
            "Build it with bias=True (the default)."
        )
    suffixes = [""] + (["_reverse"] if lstm.bidirectional else [])
    return [
        (getattr(lstm, f"bias_ih_l{layer}{suffix}"), getattr(lstm, f"bias_hh_l{layer}{suffix}"))
        for layer in range(cast(int, lstm.num_layers))
        for suffix in suffixes
    ]


def _rows(block: int, hidden: int) -> slice:
    return slice(block * hidden, (block + 1) * hidden)


def set_forget_bias(lstm: nn.LSTM, value: float) -> nn.LSTM:
    """Set the forget-gate bias of every layer and direction so ``bias_ih + bias_hh == value``.

    In place; returns ``lstm``. ``value=1.0`` is the Jozefowicz et al. (2015) setting;
    ``value=0.0`` gives ``f = sigmoid(0) = 0.5`` on average at initialisation.
    """
    value = float(value)
    if not torch.isfinite(torch.tensor(value)):
        raise ConfigError(f"forget bias must be a finite number, got {value!r}.")
    pairs = _bias_pairs(lstm, "set_forget_bias")
    rows = _rows(_FORGET, lstm.hidden_size)
    with torch.no_grad():
        for bias_ih, bias_hh in pairs:
            bias_ih[rows] = value
            bias_hh[rows] = 0.0
    return lstm


def set_chrono_bias(
    lstm: nn.LSTM, max_length: int, generator: torch.Generator | None = None
) -> nn.LSTM:
    """Chrono initialisation: ``b_f = log(U(1, max_length - 1))`` per unit and ``b_i = -b_f``.

    In place; returns ``lstm``. ``max_length`` is the longest dependency (in steps) the network
    should be able to hold at initialisation; it must be at least 3.
    """
    if not isinstance(max_length, int) or isinstance(max_length, bool) or max_length < 3:
        raise ConfigError(f"max_length must be an integer >= 3 for chrono initialisation, got {max_length!r}.")
    pairs = _bias_pairs(lstm, "set_chrono_bias")
    hidden = lstm.hidden_size
    forget_rows, input_rows = _rows(_FORGET, hidden), _rows(_INPUT, hidden)
    with torch.no_grad():
        for bias_ih, bias_hh in pairs:
            uniform = torch.rand(hidden, generator=generator, dtype=torch.float64)
            forget = torch.log(1.0 + uniform * (max_length - 2))  # log(U(1, max_length - 1))
            bias_ih[forget_rows] = forget.to(bias_ih.dtype)
            bias_ih[input_rows] = -forget.to(bias_ih.dtype)
            bias_hh[forget_rows] = 0.0
            bias_hh[input_rows] = 0.0
    return lstm
