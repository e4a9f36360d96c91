"""An LSTM written from its equations, one small function per equation.

This module is for teaching and introspection, not for the training hot path (``torch.nn.LSTM``
uses oneDNN's fused kernel and is about 2x faster on CPU). :class:`ExplicitLSTM` keeps its
parameters under the same names and in the same layout as ``torch.nn.LSTM``, so either module's
``state_dict`` loads into the other, and it reproduces ``nn.LSTM``'s outputs, final states and
gradients (to 1e-6 in float64; see ``tests/lstm/test_cell.py``).

The equations (the f, i, o gates, the tanh candidate g, ``c_t = f_t * c_{t-1} + i_t * g_t`` and
``h_t = o_t * tanh(c_t)``) and PyTorch's i, f, g, o row order are written out once, one function
each, in :mod:`lstmcast.lstm.equations`. The backward direction of a
bidirectional LSTM has the same parameters with the suffix ``_reverse``.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
from torch import Tensor, nn

from lstmcast.errors import ConfigError, DataError
from lstmcast.lstm.equations import LSTMWeights, StepState, run_direction

__all__ = ["ExplicitLSTM", "Unrolled"]


class Unrolled(NamedTuple):
    """The result of :meth:`ExplicitLSTM.unroll`.

    ``output`` and ``(h_n, c_n)`` are exactly what ``nn.LSTM`` returns. ``steps[layer][direction]``
    is a list of ``L`` :class:`StepState`, indexed by time position in the input (for the backward
    direction, ``steps[k][1][t]`` is the state after reading ``x_t``, which it reads after
    ``x_{t+1}``). The tensors are part of the autograd graph, so ``torch.autograd.grad`` can take
    derivatives with respect to any intermediate cell or hidden state.
    ``initial[layer][direction]`` is the ``(h_0, c_0)`` pair the direction started from.
    """

    output: Tensor
    h_n: Tensor
    c_n: Tensor
    steps: list[list[list[StepState]]]
    initial: list[list[tuple[Tensor, Tensor]]]


# --------------------------------------------------------------------------------------------
# The module
# --------------------------------------------------------------------------------------------


class ExplicitLSTM(nn.Module):
    """A multi-layer, optionally bidirectional LSTM computed step by step from the equations.

    Same constructor arguments, parameter names, initialisation and call signature as
    ``torch.nn.LSTM`` (without ``proj_size``). Dropout between layers is applied in training mode,
    as in ``nn.LSTM``; parity with ``nn.LSTM`` therefore holds in eval mode or with ``dropout=0``.

    Inputs: ``input [B, L, F]`` (``batch_first=True``) or ``[L, B, F]``; optional
    ``hx = (h_0, c_0)``, each ``[num_layers * D, B, H]`` with ``D = 2`` if bidirectional else 1.
    Outputs: ``output [B, L, D*H]`` (or ``[L, B, D*H]``), ``(h_n, c_n)`` each
    ``[num_layers * D, B, H]``.
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        proj_size: int = 0,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        for name, value in (("input_size", input_size), ("hidden_size", hidden_size)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigError(f"{name} must be a positive integer, got {value!r}.")
        if not isinstance(num_layers, int) or isinstance(num_layers, bool) or num_layers < 1:
            raise ConfigError(f"num_layers must be a positive integer, got {num_layers!r}.")
        if not 0.0 <= float(dropout) < 1.0:
            raise ConfigError(f"dropout must be in [0, 1), got {dropout!r}.")
        if proj_size:
            raise ConfigError(
                f"ExplicitLSTM does not support proj_size (got proj_size={proj_size}). "
                "Build the nn.LSTM with proj_size=0 to inspect it."
            )
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bias = bool(bias)
        self.batch_first = bool(batch_first)
        self.dropout = float(dropout)
        self.bidirectional = bool(bidirectional)
        self.proj_size = 0
        directions = 2 if bidirectional else 1
        for layer in range(num_layers):
            layer_input = input_size if layer == 0 else hidden_size * directions
            for direction in range(directions):
                suffix = f"_l{layer}" + ("_reverse" if direction == 1 else "")
                shapes: dict[str, tuple[int, ...]] = {
                    "weight_ih": (4 * hidden_size, layer_input),
                    "weight_hh": (4 * hidden_size, hidden_size),
                }
                if bias:
                    shapes |= {"bias_ih": (4 * hidden_size,), "bias_hh": (4 * hidden_size,)}
                for name, shape in shapes.items():
                    self.register_parameter(name + suffix, nn.Parameter(torch.empty(shape, device=device, dtype=dtype)))
        self.reset_parameters()

    @property
    def num_directions(self) -> int:
        return 2 if self.bidirectional else 1

    def reset_parameters(self) -> None:
        """Uniform(-1/sqrt(H), 1/sqrt(H)) for every parameter, as ``nn.LSTM`` does."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        with torch.no_grad():
            for parameter in self.parameters():
                parameter.uniform_(-bound, bound)

    def extra_repr(self) -> str:
        text = f"{self.input_size}, {self.hidden_size}, num_layers={self.num_layers}"
        for name, default in (("bias", True), ("batch_first", False), ("bidirectional", False)):
            if getattr(self, name) != default:
                text += f", {name}={getattr(self, name)}"
        if self.dropout:
            text += f", dropout={self.dropout}"
        return text

    # ---- conversion ------------------------------------------------------------------------

    @classmethod
    def from_torch(cls, lstm: nn.LSTM) -> ExplicitLSTM:
        """Build an ExplicitLSTM with the same sizes, options, dtype, device and (copied) weights."""
        if not isinstance(lstm, nn.LSTM):
            raise ConfigError(
                f"from_torch expects a torch.nn.LSTM, got {type(lstm).__name__}. "
                "GRU and RNN modules have different equations and cannot be converted."
            )
        if lstm.proj_size:
            raise ConfigError(
                f"ExplicitLSTM does not support proj_size (the nn.LSTM has proj_size={lstm.proj_size}). "
                "Inspect an LSTM built with proj_size=0."
            )
        reference = next(lstm.parameters())
        explicit = cls(
            lstm.input_size,
            lstm.hidden_size,
            num_layers=lstm.num_layers,
            bias=lstm.bias,
            batch_first=lstm.batch_first,
            dropout=lstm.dropout,
            bidirectional=lstm.bidirectional,
            device=reference.device,
            dtype=reference.dtype,
        )
        explicit.load_state_dict(lstm.state_dict(), strict=True)
        explicit.train(lstm.training)
        return explicit

    def to_torch(self) -> nn.LSTM:
        """The equivalent ``torch.nn.LSTM`` (fused kernel) with copied weights."""
        reference = next(self.parameters())
        lstm = nn.LSTM(
            self.input_size,
            self.hidden_size,
            num_layers=self.num_layers,
            bias=self.bias,
            batch_first=self.batch_first,
            dropout=self.dropout,
            bidirectional=self.bidirectional,
            device=reference.device,
            dtype=reference.dtype,
        )
        lstm.load_state_dict(self.state_dict(), strict=True)
        lstm.train(self.training)
        return lstm

    def layer_weights(self, layer: int, direction: int = 0) -> LSTMWeights:
        """The :class:`LSTMWeights` of one layer (0-based) and direction (0 forward, 1 backward)."""
        if not 0 <= layer < self.num_layers or not 0 <= direction < self.num_directions:
            raise ConfigError(
                f"layer must be in [0, {self.num_layers}) and direction in [0, {self.num_directions}), "
                f"got layer={layer}, direction={direction}."
            )
        suffix = f"_l{layer}" + ("_reverse" if direction == 1 else "")
        return LSTMWeights(
            weight_ih=getattr(self, "weight_ih" + suffix),
            weight_hh=getattr(self, "weight_hh" + suffix),
            bias_ih=getattr(self, "bias_ih" + suffix) if self.bias else None,
            bias_hh=getattr(self, "bias_hh" + suffix) if self.bias else None,
        )

    # ---- running ---------------------------------------------------------------------------

    def _check_input(self, input: Tensor, hx: tuple[Tensor, Tensor] | None) -> None:
        layout = "[B, L, F] (batch_first=True)" if self.batch_first else "[L, B, F] (batch_first=False)"
        if not isinstance(input, Tensor):
            raise DataError(
                f"ExplicitLSTM expects a torch.Tensor of shape {layout}, got {type(input).__name__}. "
                "Convert with torch.as_tensor(x)."
            )
        if input.dim() != 3:
            raise DataError(
                f"ExplicitLSTM expects input of rank 3, {layout}, got rank {input.dim()} "
                f"(shape {tuple(input.shape)}). For a single sequence add a batch axis, e.g. x[None]."
            )
        if input.shape[-1] != self.input_size:
            raise DataError(
                f"ExplicitLSTM expects input_size={self.input_size} features in the last axis of "
                f"{layout}, got {input.shape[-1]} (shape {tuple(input.shape)}). "
                f"Pass {self.input_size} feature columns or build the LSTM with input_size={input.shape[-1]}."
            )
        if input.shape[0] == 0 or input.shape[1] == 0:
            raise DataError(f"ExplicitLSTM got an empty input of shape {tuple(input.shape)}.")
        weight = self.weight_ih_l0
        if input.dtype != weight.dtype:
            raise DataError(
                f"input is {input.dtype} but the LSTM's weights are {weight.dtype}. "
                f"Convert input: input.to({weight.dtype}), or convert model: model.to({input.dtype})."
            )
        if hx is not None:
            batch = input.shape[0] if self.batch_first else input.shape[1]
            expected = (self.num_layers * self.num_directions, batch, self.hidden_size)
            if not isinstance(hx, tuple | list) or len(hx) != 2:
                raise DataError("hx must be a pair (h_0, c_0) of tensors, each [num_layers * D, B, H].")
            for name, tensor in zip(("h_0", "c_0"), hx, strict=True):
                if tuple(tensor.shape) != expected:
                    raise DataError(
                        f"{name} must have shape [num_layers * D, B, H] = {expected}, "
                        f"got {tuple(tensor.shape)}."
                    )

    def unroll(self, input: Tensor, hx: tuple[Tensor, Tensor] | None = None) -> Unrolled:
        """Run the LSTM and keep every step's gates and states (see :class:`Unrolled`)."""
        self._check_input(input, hx)
        x = input if self.batch_first else input.transpose(0, 1)  # [L, B, F] -> [B, L, F]
        batch = x.shape[0]
        directions = self.num_directions
        if hx is None:
            zeros = x.new_zeros(self.num_layers * directions, batch, self.hidden_size)
            hx = (zeros, zeros)
        h_0, c_0 = hx
        layer_input = x  # [B, L, F_k]
        all_steps: list[list[list[StepState]]] = []
        initial: list[list[tuple[Tensor, Tensor]]] = []
        h_n: list[Tensor] = []
        c_n: list[Tensor] = []
        for layer in range(self.num_layers):
            if layer > 0 and self.dropout and self.training:
                layer_input = nn.functional.dropout(layer_input, p=self.dropout, training=True)
            layer_steps: list[list[StepState]] = []
            layer_initial: list[tuple[Tensor, Tensor]] = []
            for direction in range(directions):
                index = layer * directions + direction
                start = (h_0[index], c_0[index])
                steps = run_direction(
                    layer_input, *start, self.layer_weights(layer, direction), reverse=direction == 1
                )
                last = steps[0] if direction == 1 else steps[-1]
                h_n.append(last.hidden)
                c_n.append(last.cell)
                layer_steps.append(steps)
                layer_initial.append(start)
            all_steps.append(layer_steps)
            initial.append(layer_initial)
            # D x L x [B, H] -> [B, L, D*H]
            layer_input = torch.cat(
                [torch.stack([s.hidden for s in steps], dim=1) for steps in layer_steps], dim=-1
            )
        output = layer_input if self.batch_first else layer_input.transpose(0, 1)
        return Unrolled(
            output=output,
            h_n=torch.stack(h_n),  # [num_layers * D, B, H]
            c_n=torch.stack(c_n),
            steps=all_steps,
            initial=initial,
        )

    def forward(
        self, input: Tensor, hx: tuple[Tensor, Tensor] | None = None
    ) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        """``output [B, L, D*H]``, ``(h_n, c_n)`` each ``[num_layers * D, B, H]``, like ``nn.LSTM``."""
        result = self.unroll(input, hx)
        return result.output, (result.h_n, result.c_n)
