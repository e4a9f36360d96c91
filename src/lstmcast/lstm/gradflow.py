"""How far back does the gradient of a last-step loss reach? LSTM vs GRU vs tanh RNN.

For a one-layer recurrent network run over ``L`` steps, the loss is taken at the last step only:
``loss = sum_b u . h_L[b]``, the last hidden state projected to a scalar by a fixed random unit
vector ``u`` (the same ``u`` for every model with the same ``hidden_size`` and ``seed``).
:func:`gradient_norms` measures, for every step ``t``, the norm of the total derivative
``dL/dh_t`` (and for the LSTM ``dL/dc_t``), averaged over the batch, together with the LSTM's
analytic cell-path term ``prod_{s=t+1}^{L} f_s`` (the Jacobian ``dc_L/dc_t`` along the cell state
alone, which is diagonal).

The **gradient horizon** (:func:`gradient_horizon`) is the distance from the loss, ``L - t``
steps, at which a norm first falls below ``threshold`` (1e-3) times its value at the last step,
or ``None`` ("beyond the sequence") when it never does within ``L`` steps. It depends on the
threshold; the **e-folding length** (:func:`efolding_length`) does not: ``-1 / slope`` of a
least-squares line through ``log norm`` against distance, the number of steps over which the norm
shrinks by a factor ``e`` on average (``-1 / log r`` for a geometric decay ``r^k``).

:func:`gradient_flow` runs the comparison at initialisation and after a short training on the
recall task (:mod:`lstmcast.lstm.tasks`), for a tanh RNN, a GRU and LSTMs with forget-gate bias 0
and 1 (:func:`~lstmcast.lstm.bias.set_forget_bias`) and chrono initialisation, over several seeds;
:func:`gradient_horizons` gives one row per model, stage and seed and :func:`seed_summary` the
median and range over seeds. :func:`recurrent_matrix_norms` gives the two numbers the RNN analysis
needs: ``sigma_max(W_hh)`` (what the bound uses) and the spectral radius (the asymptotic rate).
"""

from __future__ import annotations

import copy
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
import torch
from torch import Tensor, nn

from lstmcast.errors import ConfigError, DataError
from lstmcast.lstm.bias import set_chrono_bias, set_forget_bias
from lstmcast.lstm.cell import ExplicitLSTM
from lstmcast.lstm.horizons import (
    HORIZON_COLUMNS,
    NORM_COLUMNS,
    efolding_length,
    format_horizon,
    gradient_horizon,
    gradient_horizons,
    seed_summary,
)
from lstmcast.lstm.introspect import capture_lstm_input
from lstmcast.lstm.tasks import (
    MODEL_NAMES,
    RecurrentClassifier,
    build_model,
    evaluate_recall,
    limit_threads,
    make_recall_batch,
    train_recall,
)

__all__ = [
    "HORIZON_COLUMNS",
    "NORM_COLUMNS",
    "GradientFlowConfig",
    "efolding_length",
    "format_horizon",
    "gradient_flow",
    "gradient_horizon",
    "gradient_horizons",
    "gradient_norms",
    "network_gradient_norms",
    "recurrent_matrix_norms",
    "seed_summary",
    "set_chrono_bias",
    "set_forget_bias",
]

def recurrent_matrix_norms(rnn: nn.Module) -> dict[str, float]:
    """``sigma_max`` (largest singular value) and ``spectral_radius`` (largest ``|eigenvalue|``)
    of a one-layer tanh ``nn.RNN``'s recurrent matrix ``W_hh [H, H]``.

    ``||dh_L/dh_t|| <= prod ||diag(1 - h_s^2)|| ||W_hh|| <= sigma_max^(L-t)`` is the bound; the
    spectral radius is the rate at which ``W_hh^k`` shrinks for large ``k`` (Gelfand's formula),
    and is never larger than ``sigma_max``. A bound with ``sigma_max >= 1`` says nothing.
    """
    if not isinstance(rnn, nn.RNN) or rnn.nonlinearity != "tanh":
        raise ConfigError(f"recurrent_matrix_norms expects a tanh nn.RNN, got {type(rnn).__name__}.")
    weight = rnn.get_parameter("weight_hh_l0").detach().double().cpu()  # [H, H]
    return {
        "sigma_max": float(torch.linalg.matrix_norm(weight, ord=2)),
        "spectral_radius": float(torch.linalg.eigvals(weight).abs().max()),
    }


def _projection(hidden_size: int, seed: int) -> Tensor:
    generator = torch.Generator().manual_seed(30_000 + seed)
    u = torch.randn(hidden_size, generator=generator, dtype=torch.float64)
    return u / u.norm()  # [H], unit length


def gradient_norms(rnn: nn.Module, inputs: Tensor, *, seed: int = 0) -> pd.DataFrame:
    """Per-step gradient norms of a last-step loss through a recurrent module.

    Inputs: ``rnn`` an ``nn.LSTM`` (any number of layers, uni- or bidirectional: the top layer's
    forward direction is measured) or a one-layer, unidirectional ``nn.RNN`` / ``nn.GRU``; it is
    not modified (a float64 copy is measured). ``inputs [B, L, F]``, batch first whatever the
    module's ``batch_first``. The loss is ``sum_b u . h_L[b]`` with a fixed random unit vector
    ``u`` (from ``seed``) and ``h_L`` the measured layer's last hidden state.

    Output: DataFrame with one row per step (:data:`NORM_COLUMNS`): ``step`` t (0-based),
    ``distance`` ``L-1-t``, ``h_grad_norm`` mean over the batch of ``||dL/dh_t||``,
    ``c_grad_norm`` the same for ``dL/dc_t`` (LSTM only, else NaN) and ``forget_path`` the mean
    over batch and units of ``prod_{s=t+1}^{L-1} f_s`` (LSTM only; 1 at the last step).
    """
    module = copy.deepcopy(_checked_rnn(rnn, inputs)).double().eval()
    x = inputs.detach().to(device=next(module.parameters()).device, dtype=torch.float64)  # [B, L, F]
    batch, length, _ = x.shape
    hidden_size = module.hidden_size
    cells: list[Tensor] = []
    forgets: list[Tensor] = []
    if isinstance(module, nn.LSTM):
        explicit = ExplicitLSTM.from_torch(module).eval()
        steps = explicit.unroll(x if module.batch_first else x.transpose(0, 1)).steps[-1][0]  # L x StepState
        hiddens = [s.hidden for s in steps]  # L x [B, H]
        cells = [s.cell for s in steps]
        forgets = [s.forget for s in steps]
    else:
        hiddens = []
        previous = x.new_zeros(batch, hidden_size)  # [B, H]
        for t in range(length):
            # one step at a time so every h_t is a node of the graph: [B, 1, F], [1, B, H] -> [1, B, H]
            step_input = x[:, t : t + 1] if module.batch_first else x[:, t : t + 1].transpose(0, 1)
            _, state = module(step_input, previous.unsqueeze(0))
            previous = state[0]
            hiddens.append(previous)
    loss = (hiddens[-1] @ _projection(hidden_size, seed).to(x.device)).sum()
    grads = torch.autograd.grad(loss, hiddens + cells)
    h_norms = torch.stack([g.norm(dim=-1).mean() for g in grads[:length]]).cpu().numpy()  # [L]
    frame = pd.DataFrame({"step": np.arange(length), "distance": np.arange(length)[::-1].copy()})
    frame["h_grad_norm"] = h_norms
    if cells:
        frame["c_grad_norm"] = torch.stack([g.norm(dim=-1).mean() for g in grads[length:]]).cpu().numpy()
        gates = torch.stack(forgets, dim=1).detach().cpu().numpy()  # L x [B, H] -> [B, L, H]
        # prod_{s=t+1}^{L-1} f_s: reverse cumulative product of the gates after t
        after = np.concatenate([gates[:, 1:], np.ones_like(gates[:, :1])], axis=1)  # [B, L, H]
        path = np.cumprod(after[:, ::-1], axis=1)[:, ::-1]  # [B, L, H]
        frame["forget_path"] = path.mean(axis=(0, 2))
    else:
        frame["c_grad_norm"] = np.nan
        frame["forget_path"] = np.nan
    return frame[list(NORM_COLUMNS)]


def _checked_rnn(rnn: nn.Module, inputs: Tensor) -> nn.RNNBase:
    """``rnn`` itself once it and ``inputs`` are what :func:`gradient_norms` measures."""
    if not isinstance(rnn, nn.RNN | nn.GRU | nn.LSTM):
        raise ConfigError(f"gradient_norms expects an nn.RNN, nn.GRU or nn.LSTM, got {type(rnn).__name__}.")
    if not isinstance(rnn, nn.LSTM) and (rnn.num_layers != 1 or rnn.bidirectional):
        raise ConfigError(
            f"gradient_norms measures a one-layer, unidirectional {type(rnn).__name__}; got "
            f"num_layers={rnn.num_layers}, bidirectional={rnn.bidirectional}."
        )
    if not isinstance(inputs, Tensor) or inputs.dim() != 3 or inputs.shape[-1] != rnn.input_size:
        shape = tuple(inputs.shape) if isinstance(inputs, Tensor) else type(inputs).__name__
        raise DataError(
            f"inputs must be a tensor [B, L, F] with F = input_size = {rnn.input_size}, got {shape}."
        )
    return rnn


def network_gradient_norms(network: nn.Module, *inputs: Tensor, seed: int = 0) -> pd.DataFrame:
    """:func:`gradient_norms` for the ``nn.LSTM`` inside a network (e.g. a trained forecaster's),
    measured on exactly the tensor the LSTM receives when ``network(*inputs)`` runs."""
    lstm, x = capture_lstm_input(network, *inputs)
    return gradient_norms(lstm, x, seed=seed)


@dataclass(frozen=True)
class GradientFlowConfig:
    """Settings of :func:`gradient_flow`. Defaults are the documented experiment.

    ``chrono_max_length`` is the ``T_max`` of chrono initialisation; ``None`` means
    ``train_length``, the gap of the task the model is trained on, so that a horizon beyond the
    measured ``length`` is not built in by initialising for that length.
    """

    models: tuple[str, ...] = ("rnn", "gru", "lstm-fb0", "lstm-fb1", "lstm-chrono")
    length: int = 100
    train_length: int = 20
    train_steps: int = 600
    hidden_size: int = 32
    n_classes: int = 4
    noise: float = 0.1
    batch_size: int = 64
    measure_batch: int = 32
    learning_rate: float = 3e-3
    threshold: float = 1e-3
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    chrono_max_length: int | None = None
    num_threads: int | None = 1

    def __post_init__(self) -> None:
        unknown = [m for m in self.models if m not in MODEL_NAMES]
        if unknown or not self.models:
            raise ConfigError(f"models must be a non-empty subset of {', '.join(MODEL_NAMES)}, got {self.models}.")
        for name in ("length", "train_length", "hidden_size", "batch_size", "measure_batch"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be >= 1, got {getattr(self, name)}.")
        if self.length < 3:
            raise ConfigError(f"length must be >= 3 to fit an e-folding length, got {self.length}.")
        if self.train_steps < 0:
            raise ConfigError(f"train_steps must be >= 0, got {self.train_steps}.")
        if not 0.0 < self.threshold < 1.0:
            raise ConfigError(f"threshold must be in (0, 1), got {self.threshold}.")
        if not self.seeds or any(not isinstance(seed, int) or seed < 0 for seed in self.seeds):
            raise ConfigError(f"seeds must be one or more non-negative integers, got {self.seeds}.")
        if self.chrono_max_length is not None and self.chrono_max_length < 3:
            raise ConfigError(f"chrono_max_length must be >= 3 (or None), got {self.chrono_max_length}.")

    @property
    def chrono_t_max(self) -> int:
        """The ``T_max`` chrono initialisation uses (``chrono_max_length`` or ``train_length``)."""
        return self.chrono_max_length if self.chrono_max_length is not None else max(3, self.train_length)

    @classmethod
    def quick(cls) -> GradientFlowConfig:
        """A smoke-test preset (about a second): tiny sizes, two seeds."""
        return cls(length=20, train_length=8, train_steps=20, hidden_size=8, measure_batch=8, seeds=(0, 1))

    def to_dict(self) -> dict:
        return asdict(self)


def gradient_flow(config: GradientFlowConfig | None = None) -> pd.DataFrame:
    """Gradient norms for every model and seed at initialisation and after a short training.

    For each seed, each model is built with that seed, measured on the same batch of
    ``length``-step recall sequences (:func:`gradient_norms`), trained for ``train_steps`` on the
    recall task with ``train_length`` steps, and measured again on the same batch.

    Output: the columns of :data:`NORM_COLUMNS` plus ``model``, ``stage`` ('init' | 'trained') and
    ``seed``, one row per model, stage, seed and step. ``frame.attrs['accuracy']`` maps each model
    to ``{seed: recall accuracy at train_length after training}``; ``frame.attrs['matrix_norms']``
    maps ``'rnn'`` to ``{stage: {seed: recurrent_matrix_norms}}``; ``frame.attrs['config']``
    holds the config.
    """
    config = config or GradientFlowConfig()
    parts: list[pd.DataFrame] = []
    accuracy: dict[str, dict[int, float]] = {name: {} for name in config.models}
    matrix_norms: dict[str, dict[str, dict[int, dict[str, float]]]] = {}
    with limit_threads(config.num_threads):
        for seed in config.seeds:
            inputs, _ = make_recall_batch(
                config.measure_batch, config.length, n_classes=config.n_classes, noise=config.noise,
                generator=torch.Generator().manual_seed(40_000 + seed),
            )  # [B, L, K+1]
            for name in config.models:
                model: RecurrentClassifier = build_model(
                    name, config.n_classes + 1, config.hidden_size, config.n_classes,
                    max_length=config.chrono_t_max, seed=seed,
                )
                stages: list[tuple[str, int | None]] = [("init", None)]
                if config.train_steps > 0:
                    stages.append(("trained", config.train_steps))
                for stage, steps in stages:
                    if steps:
                        train_recall(
                            model, config.train_length, steps=steps, batch_size=config.batch_size,
                            learning_rate=config.learning_rate, noise=config.noise,
                            n_classes=config.n_classes, stop_accuracy=None, seed=seed,
                        )
                        accuracy[name][seed] = evaluate_recall(
                            model, config.train_length, noise=config.noise,
                            n_classes=config.n_classes, seed=seed,
                        )
                    if name == "rnn":
                        matrix_norms.setdefault(name, {}).setdefault(stage, {})[seed] = (
                            recurrent_matrix_norms(model.rnn)
                        )
                    norms = gradient_norms(model.rnn, inputs, seed=seed)
                    norms.insert(0, "seed", seed)
                    norms.insert(0, "stage", stage)
                    norms.insert(0, "model", name)
                    parts.append(norms)
    frame = pd.concat(parts, ignore_index=True)
    frame.attrs["accuracy"] = {name: values for name, values in accuracy.items() if values}
    frame.attrs["matrix_norms"] = matrix_norms
    frame.attrs["config"] = config.to_dict()
    return frame
