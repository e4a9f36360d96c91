"""One LSTM step with every number printed, and a hand-written backward pass checked against autograd.

In the spirit of min-char-rnn: a tiny LSTM (``H = 2`` units, ``F = 1`` input), its weights in the
tutorial's concatenated form ``W [h_{t-1}, x_t] + b``, and

- :func:`explain_step`: one step computed from the equations (pre-activations, gates, the
  candidate ``C~_t = g_t``, ``c_t`` and ``h_t``), then the same step run by ``torch.nn.LSTM``;
- :func:`manual_backward`: back-propagation through a few steps written out by hand, with the two
  recurrences that carry the gradient back in time::

      dL/dc_t  = dL/dh_t * o_t * (1 - tanh(c_t)^2) + dL/dc_{t+1} * f_{t+1}
      dL/dh_{t-1} = W_hh^T dz_t                       (dz_t: the four pre-activation gradients)

  and :func:`autograd_backward`, the same gradients from ``torch.autograd`` on ``nn.LSTM``.

The tutorial's ``W [h_{t-1}, x_t] + b`` is PyTorch's ``W_ih x_t + b_ih + W_hh h_{t-1} + b_hh``
with ``W = [W_hh | W_ih]`` (the recurrent columns first) and ``b = b_ih + b_hh``, per gate; PyTorch
stores the four gates' rows stacked in the order i, f, g, o.

Everything is float64, so the explicit numbers and ``nn.LSTM``'s agree to rounding (about 1e-16).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from lstmcast.errors import ConfigError, DataError
from lstmcast.lstm.equations import GATE_ROWS

__all__ = [
    "BackwardCheck",
    "StepWalkthrough",
    "autograd_backward",
    "check_backward",
    "explain_step",
    "format_backward",
    "format_walkthrough",
    "make_lstm",
    "manual_backward",
]

_GATES = ("forget", "input", "candidate", "output")
_SYMBOLS = {"forget": "f", "input": "i", "candidate": "g", "output": "o"}


def make_lstm(hidden_size: int = 2, input_size: int = 1, seed: int = 0) -> nn.LSTM:
    """A float64 ``nn.LSTM`` with PyTorch's default initialisation from ``seed``."""
    for name, value in (("hidden_size", hidden_size), ("input_size", input_size)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ConfigError(f"{name} must be a positive integer, got {value!r}.")
    generator_state = torch.random.get_rng_state()
    try:
        torch.manual_seed(seed)
        return nn.LSTM(input_size, hidden_size, dtype=torch.float64)
    finally:
        torch.random.set_rng_state(generator_state)


def _param(lstm: nn.LSTM, name: str) -> Tensor:
    """One of ``nn.LSTM``'s parameters by name (``weight_ih_l0``, ...; registered at run time)."""
    return lstm.get_parameter(name)


def _gate_parameters(lstm: nn.LSTM, gate: str) -> tuple[Tensor, Tensor]:
    """``W = [W_hh | W_ih]`` ``[H, H+F]`` and ``b = b_ih + b_hh`` ``[H]`` of one gate."""
    hidden = lstm.hidden_size
    rows = slice(GATE_ROWS[gate] * hidden, (GATE_ROWS[gate] + 1) * hidden)
    weight = torch.cat([_param(lstm, "weight_hh_l0")[rows], _param(lstm, "weight_ih_l0")[rows]], dim=1).detach()  # [H, H+F]
    bias = (_param(lstm, "bias_ih_l0")[rows] + _param(lstm, "bias_hh_l0")[rows]).detach()  # [H]
    return weight, bias


def _check_lstm(lstm: nn.Module) -> None:
    if not isinstance(lstm, nn.LSTM) or lstm.num_layers != 1 or lstm.bidirectional or not lstm.bias:
        raise ConfigError("The walk-through needs a one-layer, unidirectional torch.nn.LSTM with biases.")
    if lstm.proj_size or _param(lstm, "weight_ih_l0").dtype != torch.float64:
        raise ConfigError("The walk-through needs a float64 nn.LSTM without proj_size; use make_lstm().")


@dataclass(frozen=True)
class StepWalkthrough:
    """Every number of one LSTM step, for one sequence (vectors ``[H]``, inputs ``[F]``).

    ``weights[gate]`` and ``biases[gate]`` are the concatenated ``W = [W_hh | W_ih]`` and
    ``b = b_ih + b_hh``; ``preactivations[gate]`` is ``z = W [h_{t-1}, x_t] + b``;
    ``gates[gate]`` is ``sigma(z)`` (``tanh(z)`` for the candidate). ``torch_hidden`` and
    ``torch_cell`` are what ``nn.LSTM`` returns for the same step; ``max_difference`` the largest
    absolute difference between them and ``hidden``, ``cell``.
    """

    x: Tensor
    h_prev: Tensor
    c_prev: Tensor
    weights: dict[str, Tensor]
    biases: dict[str, Tensor]
    preactivations: dict[str, Tensor]
    gates: dict[str, Tensor]
    cell: Tensor
    hidden: Tensor
    torch_hidden: Tensor
    torch_cell: Tensor

    @property
    def max_difference(self) -> float:
        return float(max((self.hidden - self.torch_hidden).abs().max(), (self.cell - self.torch_cell).abs().max()))


def explain_step(lstm: nn.LSTM, x: Tensor, h_prev: Tensor, c_prev: Tensor) -> StepWalkthrough:
    """One step of ``lstm`` from the tutorial's equations, next to ``nn.LSTM``'s own result.

    Inputs: a float64 one-layer ``nn.LSTM`` (:func:`make_lstm`), ``x [F]``, ``h_prev [H]``,
    ``c_prev [H]``. Equations, per gate with ``W = [W_hh | W_ih]`` and ``b = b_ih + b_hh``::

        f_t = sigma(W_f [h_{t-1}, x_t] + b_f)     i_t = sigma(W_i [h_{t-1}, x_t] + b_i)
        o_t = sigma(W_o [h_{t-1}, x_t] + b_o)     C~_t = g_t = tanh(W_g [h_{t-1}, x_t] + b_g)
        c_t = f_t * c_{t-1} + i_t * C~_t          h_t = o_t * tanh(c_t)
    """
    _check_lstm(lstm)
    hidden_size, input_size = lstm.hidden_size, lstm.input_size
    x, h_prev, c_prev = (torch.as_tensor(v, dtype=torch.float64).reshape(-1) for v in (x, h_prev, c_prev))
    if x.numel() != input_size or h_prev.numel() != hidden_size or c_prev.numel() != hidden_size:
        raise DataError(
            f"explain_step needs x [{input_size}], h_prev [{hidden_size}] and c_prev [{hidden_size}]; "
            f"got {x.numel()}, {h_prev.numel()} and {c_prev.numel()} values."
        )
    concatenated = torch.cat([h_prev, x])  # [h_{t-1}, x_t]: [H+F]
    weights, biases, preactivations, gates = {}, {}, {}, {}
    for gate in _GATES:
        weights[gate], biases[gate] = _gate_parameters(lstm, gate)
        preactivations[gate] = weights[gate] @ concatenated + biases[gate]  # [H, H+F] @ [H+F] -> [H]
        squash = torch.tanh if gate == "candidate" else torch.sigmoid
        gates[gate] = squash(preactivations[gate])
    cell = gates["forget"] * c_prev + gates["input"] * gates["candidate"]
    hidden = gates["output"] * torch.tanh(cell)
    with torch.no_grad():
        _, (h_n, c_n) = lstm(x.reshape(1, 1, -1), (h_prev.reshape(1, 1, -1), c_prev.reshape(1, 1, -1)))
    return StepWalkthrough(
        x=x, h_prev=h_prev, c_prev=c_prev, weights=weights, biases=biases,
        preactivations=preactivations, gates=gates, cell=cell, hidden=hidden,
        torch_hidden=h_n.reshape(-1), torch_cell=c_n.reshape(-1),
    )


def _vector(values: Tensor, digits: int = 6) -> str:
    return "[" + ", ".join(f"{float(v): .{digits}f}" for v in values.reshape(-1)) + "]"


def format_walkthrough(step: StepWalkthrough) -> str:
    """The walk-through as text, one equation per line with its numbers."""
    hidden_size = step.h_prev.numel()
    lines = [
        f"One LSTM step, H = {hidden_size} units, F = {step.x.numel()} input(s), float64.",
        "The tutorial's W [h_{t-1}, x_t] + b is PyTorch's W_ih x_t + b_ih + W_hh h_{t-1} + b_hh, with",
        "W = [W_hh | W_ih] and b = b_ih + b_hh for each gate (PyTorch stacks the gates' rows as i, f, g, o).",
        "",
        f"x_t     = {_vector(step.x)}",
        f"h_{{t-1}} = {_vector(step.h_prev)}",
        f"c_{{t-1}} = {_vector(step.c_prev)}",
        f"[h_{{t-1}}, x_t] = {_vector(torch.cat([step.h_prev, step.x]))}",
        "",
    ]
    for gate in _GATES:
        symbol = _SYMBOLS[gate]
        rows = "; ".join(_vector(row, 4) for row in step.weights[gate])
        squash = "tanh" if gate == "candidate" else "sigma"
        name = "C~_t = g_t" if gate == "candidate" else f"{symbol}_t"
        lines += [
            f"{gate} gate:" if gate != "candidate" else "candidate:",
            f"  W_{symbol} = [{rows}]   b_{symbol} = {_vector(step.biases[gate], 4)}",
            f"  z_{symbol} = W_{symbol} [h_{{t-1}}, x_t] + b_{symbol} = {_vector(step.preactivations[gate])}",
            f"  {name} = {squash}(z_{symbol}) = {_vector(step.gates[gate])}",
        ]
    f, i, g, o = (step.gates[k] for k in ("forget", "input", "candidate", "output"))
    lines += [
        "",
        f"c_t = f_t * c_{{t-1}} + i_t * C~_t = {_vector(f * step.c_prev)} + {_vector(i * g)}",
        f"    = {_vector(step.cell)}",
        f"h_t = o_t * tanh(c_t) = {_vector(o)} * {_vector(torch.tanh(step.cell))}",
        f"    = {_vector(step.hidden)}",
        "",
        f"nn.LSTM, same weights and state:  h_t = {_vector(step.torch_hidden)}   c_t = {_vector(step.torch_cell)}",
        f"largest difference: {step.max_difference:.1e}",
    ]
    return "\n".join(lines)


def _forward(lstm: nn.LSTM, xs: Tensor, h0: Tensor, c0: Tensor) -> list[dict[str, Tensor]]:
    """Every step's inputs, gates and states, computed from the equations (no autograd needed)."""
    hidden = lstm.hidden_size
    w_ih, w_hh = _param(lstm, "weight_ih_l0").detach(), _param(lstm, "weight_hh_l0").detach()
    bias = (_param(lstm, "bias_ih_l0") + _param(lstm, "bias_hh_l0")).detach()
    h, c = h0, c0
    cache = []
    for x in xs:  # x: [F]
        z = w_ih @ x + w_hh @ h + bias  # [4H], rows i, f, g, o
        i, f = torch.sigmoid(z[:hidden]), torch.sigmoid(z[hidden : 2 * hidden])
        g, o = torch.tanh(z[2 * hidden : 3 * hidden]), torch.sigmoid(z[3 * hidden :])
        c_new = f * c + i * g
        h_new = o * torch.tanh(c_new)
        cache.append({"x": x, "h_prev": h, "c_prev": c, "i": i, "f": f, "g": g, "o": o, "c": c_new, "h": h_new})
        h, c = h_new, c_new
    return cache


def manual_backward(lstm: nn.LSTM, xs: Tensor, h0: Tensor, c0: Tensor, u: Tensor) -> dict[str, Tensor]:
    """Gradients of ``L = u . h_T`` by hand, back through every step (no autograd).

    Inputs: a float64 one-layer ``nn.LSTM``, ``xs [T, F]``, ``h0 [H]``, ``c0 [H]``, ``u [H]``.
    Returns ``weight_ih [4H, F]``, ``weight_hh [4H, H]``, ``bias [4H]`` (the gradient of ``b_ih``
    and of ``b_hh``, which are equal), ``x [T, F]``, ``h0 [H]``, ``c0 [H]``, and the recurrences'
    values ``dh [T, H]`` (``dL/dh_t``) and ``dc [T, H]`` (``dL/dc_t``, total derivatives).

    At each step, going back, with ``dh = dL/dh_t`` and ``dc`` the gradient arriving from
    ``c_{t+1}`` (``dL/dc_{t+1} * f_{t+1}``, 0 at the last step)::

        dc   += dh * o * (1 - tanh(c_t)^2)            now dc = dL/dc_t
        do    = dh * tanh(c_t)
        df, di, dg = dc * c_{t-1}, dc * g, dc * i
        dz    = [di * i(1-i), df * f(1-f), dg * (1-g^2), do * o(1-o)]    rows i, f, g, o
        dW_ih += dz x_t^T    dW_hh += dz h_{t-1}^T    db += dz
        dh    = W_hh^T dz    (dL/dh_{t-1})            dc = dc * f      (sent to c_{t-1})
    """
    _check_lstm(lstm)
    xs, h0, c0, u = (torch.as_tensor(v, dtype=torch.float64) for v in (xs, h0, c0, u))
    if xs.dim() != 2 or xs.shape[1] != lstm.input_size:
        raise DataError(f"xs must be [T, F] with F = {lstm.input_size}, got shape {tuple(xs.shape)}.")
    cache = _forward(lstm, xs, h0, c0)
    w_ih, w_hh = _param(lstm, "weight_ih_l0").detach(), _param(lstm, "weight_hh_l0").detach()
    grad_w_ih, grad_w_hh = torch.zeros_like(w_ih), torch.zeros_like(w_hh)
    grad_bias = torch.zeros(4 * lstm.hidden_size, dtype=torch.float64)
    grad_x = torch.zeros_like(xs)
    dh_steps, dc_steps = [], []
    dh, dc = u.clone(), torch.zeros_like(h0)
    for t in range(len(cache) - 1, -1, -1):
        s = cache[t]
        tanh_c = torch.tanh(s["c"])
        dc = dc + dh * s["o"] * (1.0 - tanh_c**2)  # dL/dc_t
        dh_steps.append(dh)
        dc_steps.append(dc)
        do = dh * tanh_c
        df, di, dg = dc * s["c_prev"], dc * s["g"], dc * s["i"]
        dz = torch.cat([
            di * s["i"] * (1 - s["i"]),
            df * s["f"] * (1 - s["f"]),
            dg * (1 - s["g"] ** 2),
            do * s["o"] * (1 - s["o"]),
        ])  # [4H]
        grad_w_ih += torch.outer(dz, s["x"])
        grad_w_hh += torch.outer(dz, s["h_prev"])
        grad_bias += dz
        grad_x[t] = w_ih.T @ dz
        dh = w_hh.T @ dz  # dL/dh_{t-1}
        dc = dc * s["f"]  # the part of dL/dc_{t-1} that flows along the cell state
    return {
        "weight_ih": grad_w_ih, "weight_hh": grad_w_hh, "bias": grad_bias, "x": grad_x,
        "h0": dh, "c0": dc, "dh": torch.stack(dh_steps[::-1]), "dc": torch.stack(dc_steps[::-1]),
    }


def autograd_backward(lstm: nn.LSTM, xs: Tensor, h0: Tensor, c0: Tensor, u: Tensor) -> dict[str, Tensor]:
    """The gradients :func:`manual_backward` returns (but ``dh``/``dc``), from autograd on ``nn.LSTM``."""
    _check_lstm(lstm)
    xs = torch.as_tensor(xs, dtype=torch.float64).clone().requires_grad_(True)
    h0 = torch.as_tensor(h0, dtype=torch.float64).clone().requires_grad_(True)
    c0 = torch.as_tensor(c0, dtype=torch.float64).clone().requires_grad_(True)
    output, _ = lstm(xs.unsqueeze(1), (h0.reshape(1, 1, -1), c0.reshape(1, 1, -1)))  # [T, 1, F] -> [T, 1, H]
    loss = (output[-1, 0] * torch.as_tensor(u, dtype=torch.float64)).sum()
    grads = torch.autograd.grad(loss, [_param(lstm, "weight_ih_l0"), _param(lstm, "weight_hh_l0"), _param(lstm, "bias_ih_l0"), _param(lstm, "bias_hh_l0"),
                                       xs, h0, c0])
    names = ("weight_ih", "weight_hh", "bias", "bias_hh", "x", "h0", "c0")
    return dict(zip(names, grads, strict=True))


@dataclass(frozen=True)
class BackwardCheck:
    """Hand-written and autograd gradients side by side; ``differences`` maps each to its max abs gap."""

    manual: dict[str, Tensor]
    autograd: dict[str, Tensor]
    differences: dict[str, float]


def check_backward(lstm: nn.LSTM, xs: Tensor, h0: Tensor, c0: Tensor, u: Tensor) -> BackwardCheck:
    """Run :func:`manual_backward` and :func:`autograd_backward` and compare every gradient."""
    manual = manual_backward(lstm, xs, h0, c0, u)
    auto = autograd_backward(lstm, xs, h0, c0, u)
    pairs = {name: (manual[name], auto[name]) for name in ("weight_ih", "weight_hh", "bias", "x", "h0", "c0")}
    pairs["bias_hh"] = (manual["bias"], auto["bias_hh"])
    differences = {name: float((a - b).abs().max()) for name, (a, b) in pairs.items()}
    return BackwardCheck(manual=manual, autograd=auto, differences=differences)


def format_backward(check: BackwardCheck) -> str:
    """The backward pass as text: ``dL/dh_t`` and ``dL/dc_t`` per step, then manual vs autograd."""
    steps = check.manual["dh"].shape[0]
    lines = [f"Backward through {steps} steps by hand, L = u . h_{steps - 1}:",
             "  dL/dc_t = dL/dh_t * o_t * (1 - tanh(c_t)^2) + dL/dc_{t+1} * f_{t+1};  "
             "dL/dh_{t-1} = W_hh^T dz_t"]
    for t in range(steps):
        lines.append(f"  t = {t}:  dL/dh_t = {_vector(check.manual['dh'][t])}   "
                     f"dL/dc_t = {_vector(check.manual['dc'][t])}")
    lines.append("largest difference from torch.autograd on nn.LSTM:")
    labels = {"weight_ih": "dL/dW_ih", "weight_hh": "dL/dW_hh", "bias": "dL/db_ih", "bias_hh": "dL/db_hh",
              "x": "dL/dx", "h0": "dL/dh_{-1}", "c0": "dL/dc_{-1}"}
    lines += [f"  {labels[name]:<11} {value:.1e}" for name, value in check.differences.items()]
    return "\n".join(lines)
