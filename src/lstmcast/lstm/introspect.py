"""Record an LSTM's gates and states at every layer, direction and time step.

``record(lstm, x)`` runs :class:`~lstmcast.lstm.cell.ExplicitLSTM` (converting an ``nn.LSTM``
first) without gradients and returns an :class:`LSTMTrace` of numpy arrays
``[layers, directions, B, L, H]``. Time is indexed by input position for both directions, so
``trace.hidden[-1, :, :, t]`` concatenated over directions equals ``nn.LSTM``'s ``output[:, t]``.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import NamedTuple

import numpy as np
import pandas as pd
import torch
from torch import nn

from lstmcast.errors import ConfigError, DataError
from lstmcast.lstm.cell import ExplicitLSTM

__all__ = [
    "QUANTITIES",
    "Inspection",
    "LSTMTrace",
    "capture_lstm_input",
    "describe_gates",
    "find_lstm",
    "record",
    "record_network",
]

#: The recorded quantities, in the order of :class:`LSTMTrace`'s array fields.
QUANTITIES: tuple[str, ...] = ("forget", "input", "output", "candidate", "cell", "hidden")
DIRECTION_NAMES: tuple[str, ...] = ("forward", "backward")
_ALIASES = {"f": "forget", "i": "input", "o": "output", "g": "candidate", "c": "cell", "h": "hidden"}


def canonical_quantity(quantity: str) -> str:
    """The full name of a recorded quantity: ``'f'`` -> ``'forget'``; an unknown name is a ConfigError."""
    name = _ALIASES.get(quantity, quantity)
    if name not in QUANTITIES:
        raise ConfigError(
            f"Unknown quantity {quantity!r}; expected one of {', '.join(QUANTITIES)} "
            "(or f, i, o, g, c, h)."
        )
    return name


@dataclass(frozen=True, eq=False)
class LSTMTrace:
    """Gates and states of an LSTM over one batch of sequences.

    Each of ``forget`` (f), ``input`` (i), ``output`` (o), ``candidate`` (g, the tanh candidate
    C~), ``cell`` (c) and ``hidden`` (h) is a float64 array ``[layers, directions, B, L, H]``.
    ``initial_hidden`` and ``initial_cell`` are the starting states ``[layers, directions, B, H]``;
    ``inputs`` is what the first layer read, ``[B, L, F]`` (``None`` when not kept).
    For ``direction == 1`` (backward) the recurrence runs from ``t = L-1`` down to 0, so there
    ``c[t] = f[t] * c[t+1] + i[t] * g[t]``.
    """

    forget: np.ndarray
    input: np.ndarray
    output: np.ndarray
    candidate: np.ndarray
    cell: np.ndarray
    hidden: np.ndarray
    initial_hidden: np.ndarray
    initial_cell: np.ndarray
    inputs: np.ndarray | None = None

    def __post_init__(self) -> None:
        shape = self.forget.shape
        if len(shape) != 5:
            raise DataError(f"LSTMTrace arrays must be [layers, directions, B, L, H], got shape {shape}.")
        for name in QUANTITIES:
            if getattr(self, name).shape != shape:
                raise DataError(
                    f"LSTMTrace.{name} has shape {getattr(self, name).shape}, expected {shape} like 'forget'."
                )
        for name in ("initial_hidden", "initial_cell"):
            if getattr(self, name).shape != shape[:3] + shape[4:]:
                raise DataError(
                    f"LSTMTrace.{name} has shape {getattr(self, name).shape}, "
                    f"expected [layers, directions, B, H] = {shape[:3] + shape[4:]}."
                )
        if self.inputs is not None and (self.inputs.ndim != 3 or self.inputs.shape[:2] != shape[2:4]):
            raise DataError(
                f"LSTMTrace.inputs has shape {self.inputs.shape}, expected [B, L, F] with B, L = {shape[2:4]}."
            )

    @property
    def shape(self) -> tuple[int, int, int, int, int]:
        """``(layers, directions, B, L, H)``."""
        layers, directions, batch, length, hidden = self.forget.shape
        return layers, directions, batch, length, hidden

    @property
    def num_layers(self) -> int:
        return self.shape[0]

    @property
    def num_directions(self) -> int:
        return self.shape[1]

    @property
    def batch_size(self) -> int:
        return self.shape[2]

    @property
    def length(self) -> int:
        return self.shape[3]

    @property
    def hidden_size(self) -> int:
        return self.shape[4]

    def get(self, quantity: str) -> np.ndarray:
        """The array of one quantity by name (one of :data:`QUANTITIES`, or f, i, o, g, c, h)."""
        return getattr(self, canonical_quantity(quantity))

    def output_sequence(self, layer: int = -1) -> np.ndarray:
        """The layer's output as ``nn.LSTM`` returns it (batch first): ``[B, L, D*H]``."""
        hidden = self.hidden[layer]  # [D, B, L, H]
        return np.concatenate(list(hidden), axis=-1)  # D x [B, L, H] -> [B, L, D*H]

    def to_frame(self, quantities: tuple[str, ...] | list[str] = QUANTITIES) -> pd.DataFrame:
        """A tidy DataFrame, one row per value.

        Columns: ``layer``, ``direction`` ('forward' | 'backward'), ``sample``, ``step``, ``unit``,
        ``gate`` (the quantity name: forget, input, output, candidate, cell or hidden) and ``value``.
        """
        layers, directions, batch, length, hidden = self.shape
        names = [canonical_quantity(q) for q in quantities]
        stacked = np.stack([getattr(self, name) for name in names])  # [Q, layers, D, B, L, H]
        index = pd.MultiIndex.from_product(
            [
                names,
                range(layers),
                list(DIRECTION_NAMES[:directions]),
                range(batch),
                range(length),
                range(hidden),
            ],
            names=["gate", "layer", "direction", "sample", "step", "unit"],
        )
        frame = pd.DataFrame({"value": stacked.reshape(-1)}, index=index).reset_index()
        frame["gate"] = pd.Categorical(frame["gate"], categories=list(QUANTITIES))
        frame["direction"] = pd.Categorical(frame["direction"], categories=list(DIRECTION_NAMES))
        return frame[["layer", "direction", "sample", "step", "unit", "gate", "value"]]

    def summary(self) -> pd.DataFrame:
        """Mean forget gate and mean cell-state L2 norm per layer, direction and step (over B, H)."""
        rows = []
        layers, directions, _, length, _ = self.shape
        for layer in range(layers):
            for direction in range(directions):
                forget = self.forget[layer, direction].mean(axis=(0, 2))  # [B, L, H] -> [L]
                cell_norm = np.linalg.norm(self.cell[layer, direction], axis=-1).mean(axis=0)
                for step in range(length):
                    rows.append(
                        {
                            "layer": layer,
                            "direction": DIRECTION_NAMES[direction],
                            "step": step,
                            "mean_forget": float(forget[step]),
                            "cell_norm": float(cell_norm[step]),
                        }
                    )
        return pd.DataFrame(rows)

    def layer_summary(self, saturated: float = 0.95) -> pd.DataFrame:
        """One row per layer and direction: mean forget, input and output gates, mean ``|c|``, and
        ``remembering`` = the share of (sample, step, unit) with ``f > saturated`` (memory kept)."""
        rows = []
        for layer in range(self.num_layers):
            for direction in range(self.num_directions):
                forget = self.forget[layer, direction]
                rows.append(
                    {
                        "layer": layer,
                        "direction": DIRECTION_NAMES[direction],
                        "mean_forget": float(forget.mean()),
                        "mean_input": float(self.input[layer, direction].mean()),
                        "mean_output": float(self.output[layer, direction].mean()),
                        "mean_abs_cell": float(np.abs(self.cell[layer, direction]).mean()),
                        "remembering": float((forget > saturated).mean()),
                    }
                )
        return pd.DataFrame(rows)

    def __repr__(self) -> str:
        names = ", ".join(f.name for f in fields(self))
        return f"LSTMTrace(shape [layers, directions, B, L, H] = {self.shape}; {names})"


def describe_gates(trace: LSTMTrace, saturated: float = 0.95) -> list[str]:
    """Plain sentences on what the recorded gates say about the network's memory (may be empty).

    When the last layer's forget gates sit near 0.5 (mean within 0.1 of it, under 5% of values
    above ``saturated``), each step keeps about half of the cell state, so what was written ``k``
    steps ago weighs about ``0.5^k``: a memory of a few steps. For a one-step forecast of a smooth
    series that is enough, since the next value follows from the last few, so gates near 0.5 then
    mean the task needed no long memory, not that the model failed. When many forget gates are
    saturated near 1, the cell holds information for tens of steps or more.
    """
    summary = trace.layer_summary(saturated)
    last = summary[summary["layer"] == trace.num_layers - 1]
    forget, remembering = float(last["mean_forget"].mean()), float(last["remembering"].mean())
    input_gate = float(last["mean_input"].mean())
    sentences = []
    if abs(forget - 0.5) < 0.1 and remembering < 0.05:
        half_life = np.log(0.5) / np.log(max(min(forget, 0.999), 1e-3))
        sentences.append(
            f"The forget gates sit near 0.5 (mean f = {forget:.3f}, {remembering:.0%} above {saturated:g}) and the "
            f"input gates near {input_gate:.2f}: each step keeps about half of the cell state, so what was "
            f"written k steps ago weighs about {forget:.2f}^k (halved every {half_life:.1f} steps), a memory of a "
            "few steps. For a one-step forecast of a smooth series such as a sine, the next value follows from "
            "the last few inputs, so this model had no need to learn long memory: gates near 0.5 are where "
            "PyTorch's initialisation puts them (f = sigmoid(b + ...) with small weights and biases), and the task "
            "gave no reason to move them. See the recall task (docs/lstm.md) for an LSTM that has to remember."
        )
    elif remembering >= 0.25:
        sentences.append(
            f"{remembering:.0%} of the forget-gate values are above {saturated:g} (mean f = {forget:.3f}): those "
            f"units keep most of their cell state from step to step; at f = {saturated:g} half of it is left "
            f"after {np.log(0.5) / np.log(saturated):.0f} steps, at f = 0.99 after 69."
        )
    return sentences


def _as_explicit(lstm: nn.Module) -> ExplicitLSTM:
    if isinstance(lstm, ExplicitLSTM):
        return lstm
    if isinstance(lstm, nn.LSTM):
        return ExplicitLSTM.from_torch(lstm)
    raise ConfigError(
        f"record expects a torch.nn.LSTM or an ExplicitLSTM, got {type(lstm).__name__}. "
        "For a forecaster, pass its LSTM submodule (e.g. model.lstm)."
    )


def record(
    lstm: nn.Module,
    inputs: torch.Tensor | np.ndarray,
    hx: tuple[torch.Tensor, torch.Tensor] | None = None,
) -> LSTMTrace:
    """Run ``lstm`` on ``inputs`` and record f, i, o, g, c and h at every layer, direction and step.

    Inputs: ``lstm`` an ``nn.LSTM`` (converted with :meth:`ExplicitLSTM.from_torch`; its weights
    are copied, not changed) or an :class:`ExplicitLSTM`; ``inputs [B, L, F]`` always batch first
    (whatever the module's ``batch_first``), a tensor or array, cast to the module's dtype; optional
    ``hx = (h_0, c_0)`` each ``[num_layers * D, B, H]``. Output: an :class:`LSTMTrace` of arrays
    ``[layers, D, B, L, H]``. Runs in eval mode (no dropout) without gradients.
    """
    explicit = _as_explicit(lstm)
    reference = next(explicit.parameters())
    if isinstance(inputs, np.ndarray | list):
        inputs = torch.as_tensor(np.asarray(inputs, dtype=np.float64))
    if not isinstance(inputs, torch.Tensor):
        raise DataError(f"record expects inputs [B, L, F] as a tensor or numpy array, got {type(inputs).__name__}.")
    if inputs.dim() != 3:
        raise DataError(
            f"record expects inputs of rank 3, [B, L, F] (batch first), got rank {inputs.dim()} "
            f"(shape {tuple(inputs.shape)}). For a single sequence add a batch axis, e.g. x[None]."
        )
    if not inputs.is_floating_point():
        inputs = inputs.to(torch.float64)
    inputs = inputs.to(device=reference.device, dtype=reference.dtype)
    x = inputs if explicit.batch_first else inputs.transpose(0, 1)  # [B, L, F] -> module layout
    was_training = explicit.training
    explicit.eval()
    try:
        with torch.no_grad():
            result = explicit.unroll(x, hx)
    finally:
        explicit.train(was_training)

    def stack(quantity: str) -> np.ndarray:
        # layers x D x L x [B, H] -> [layers, D, B, L, H]
        return np.stack(
            [
                np.stack(
                    [torch.stack([getattr(s, quantity) for s in steps], dim=1).double().cpu().numpy()
                     for steps in layer]
                )
                for layer in result.steps
            ]
        )

    def stack_initial(position: int) -> np.ndarray:
        return np.stack(
            [np.stack([pair[position].double().cpu().numpy() for pair in layer]) for layer in result.initial]
        )  # [layers, D, B, H]

    return LSTMTrace(
        **{quantity: stack(quantity) for quantity in QUANTITIES},
        initial_hidden=stack_initial(0),
        initial_cell=stack_initial(1),
        inputs=inputs.detach().double().cpu().numpy(),  # [B, L, F] batch first
    )


class Inspection(NamedTuple):
    """What ``Forecaster.inspect`` returns: the trace, its tidy frame and any plots written."""

    trace: LSTMTrace
    frame: pd.DataFrame
    paths: dict[str, str]
    attention: np.ndarray | None = None  # [B, L'] weights over the LSTM outputs (attention models)


def find_lstm(network: nn.Module) -> nn.LSTM:
    """The one ``nn.LSTM`` inside ``network`` (``network`` itself if it is one)."""
    if isinstance(network, nn.LSTM):
        return network
    found = [m for m in network.modules() if isinstance(m, nn.LSTM)]
    if len(found) != 1:
        raise ConfigError(
            f"Expected exactly one nn.LSTM inside {type(network).__name__}, found {len(found)}. "
            "Pass the LSTM to record explicitly."
        )
    return found[0]


def capture_lstm_input(
    network: nn.Module, *inputs: torch.Tensor, lstm: nn.LSTM | None = None
) -> tuple[nn.LSTM, torch.Tensor]:
    """Run ``network(*inputs)`` (eval mode, no gradients) and return its LSTM and the tensor the
    LSTM received, batch first ``[B', L', F']``.

    Whatever the network does before its LSTM (instance normalisation, patch embedding, a
    channel-independent reshape to ``[B*T, L, 1]``) is therefore included. When the LSTM is called
    several times (a recursive strategy rolls it out H times), the first call is kept.
    """
    lstm = lstm if lstm is not None else find_lstm(network)
    captured: list[torch.Tensor] = []

    def capture(module: nn.Module, args: tuple) -> None:
        if not captured:
            captured.append(args[0].detach())

    handle = lstm.register_forward_pre_hook(capture)
    was_training = network.training
    network.eval()
    try:
        with torch.no_grad():
            network(*inputs)
    finally:
        handle.remove()
        network.train(was_training)
    if not captured:
        raise ConfigError(f"{type(network).__name__} did not call its LSTM on these inputs; nothing to record.")
    x = captured[0] if lstm.batch_first else captured[0].transpose(0, 1)  # -> [B', L', F']
    return lstm, x


def record_network(network: nn.Module, *inputs: torch.Tensor, lstm: nn.LSTM | None = None) -> LSTMTrace:
    """Run ``network(*inputs)`` and record its LSTM on exactly the tensor the LSTM received
    (see :func:`capture_lstm_input`). The trace's batch axis is the LSTM's batch axis."""
    lstm, x = capture_lstm_input(network, *inputs, lstm=lstm)
    return record(lstm, x)
