"""A memory task and small recurrent classifiers, shared by the gradient-flow and long-dependency studies.

The **recall task**: a class ``y`` in ``{0, ..., K-1}`` is shown once, as a one-hot vector with a
cue flag, at the first step; the next ``L-1`` steps carry only Gaussian noise (cue flag 0). The
network reads the whole sequence and must name ``y`` from its last hidden state, so it has to
carry the class over ``L-1`` steps of distraction. Chance accuracy is ``1/K``.

Input features ``K + 1``: ``x[:, t, :K]`` is the one-hot class at ``t = 0`` and noise after,
``x[:, t, K]`` is the cue flag (1 at ``t = 0`` only).

With ``variable_lag=True`` (training only, an ablation) each sequence shows its cue at a random
step ``p`` in ``0 .. L-1`` instead, noise before and after, so the lag from cue to answer,
``L-1-p``, is uniform over ``0 .. L-1``: short lags give a gradient signal from the first update,
long ones are then learnt by extension. Evaluation always uses the maximal lag ``L-1``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from lstmcast.errors import ConfigError
from lstmcast.lstm.bias import set_chrono_bias, set_forget_bias

__all__ = [
    "MODEL_NAMES",
    "RecallDemo",
    "RecurrentClassifier",
    "TrainResult",
    "build_model",
    "evaluate_recall",
    "limit_threads",
    "make_recall_batch",
    "recall_demo",
    "train_recall",
]

#: Model names understood by :func:`build_model`.
MODEL_NAMES: tuple[str, ...] = (
    "rnn", "gru", "lstm", "lstm-fb0", "lstm-fb1", "lstm-fb2", "lstm-fb3", "lstm-chrono-forget", "lstm-chrono",
)
_FORGET_BIASES = {"lstm-fb0": 0.0, "lstm-fb1": 1.0, "lstm-fb2": 2.0, "lstm-fb3": 3.0}


@contextmanager
def limit_threads(num_threads: int | None) -> Iterator[None]:
    """Run a block with ``torch.set_num_threads(num_threads)`` and restore the old value after.

    Small recurrent models are fastest on one thread: the per-step matrices are too small to split,
    and extra threads only contend with each other (see STYLE.md, measured facts). ``None`` leaves
    torch's setting alone.
    """
    if num_threads is None:
        yield
        return
    if not isinstance(num_threads, int) or num_threads < 1:
        raise ConfigError(f"num_threads must be a positive integer or None, got {num_threads!r}.")
    previous = torch.get_num_threads()
    torch.set_num_threads(num_threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def make_recall_batch(
    batch_size: int,
    length: int,
    *,
    n_classes: int = 4,
    noise: float = 0.1,
    generator: torch.Generator | None = None,
    variable_lag: bool = False,
) -> tuple[Tensor, Tensor]:
    """One batch of the recall task.

    Outputs: ``x [B, L, K+1]`` float32 and ``y [B]`` int64 class labels (``K = n_classes``). The
    cue is at step 0, or with ``variable_lag`` at a step drawn uniformly from ``0 .. L-1`` per
    sequence (the batch's other random numbers are drawn first, so the labels and the noise are
    the same either way).
    """
    if length < 1 or batch_size < 1:
        raise ConfigError(f"length and batch_size must be >= 1, got length={length}, batch_size={batch_size}.")
    if n_classes < 2:
        raise ConfigError(f"n_classes must be >= 2, got {n_classes}.")
    labels = torch.randint(0, n_classes, (batch_size,), generator=generator)  # [B]
    x = torch.randn(batch_size, length, n_classes + 1, generator=generator) * noise  # [B, L, K+1]
    x[:, :, n_classes] = 0.0
    if variable_lag:
        position = torch.randint(0, length, (batch_size,), generator=generator)  # [B] cue step
    else:
        position = torch.zeros(batch_size, dtype=torch.long)
    rows = torch.arange(batch_size)
    cue = torch.cat([nn.functional.one_hot(labels, n_classes).to(x.dtype), x.new_ones(batch_size, 1)], dim=1)
    x[rows, position] = cue  # [B, K+1] written at (b, position[b])
    return x, labels


class RecurrentClassifier(nn.Module):
    """A one-layer ``nn.RNN`` (tanh), ``nn.GRU`` or ``nn.LSTM`` and a linear head on the last step.

    Inputs: ``x [B, L, F]``. Output: logits ``[B, K]``. The recurrent layer is ``self.rnn``
    (batch first), the head ``self.head``.
    """

    def __init__(self, kind: str, input_size: int, hidden_size: int, n_classes: int) -> None:
        super().__init__()
        modules = {"rnn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}
        if kind not in modules:
            raise ConfigError(f"kind must be one of {', '.join(modules)}, got {kind!r}.")
        self.kind = kind
        self.rnn = modules[kind](input_size, hidden_size, batch_first=True)
        self.head = nn.Linear(hidden_size, n_classes)

    def forward(self, x: Tensor) -> Tensor:
        outputs, _ = self.rnn(x)  # [B, L, F] -> [B, L, H]
        return self.head(outputs[:, -1])  # [B, H] -> [B, K]


def build_model(
    name: str,
    input_size: int,
    hidden_size: int,
    n_classes: int,
    *,
    max_length: int | None = None,
    seed: int = 0,
) -> RecurrentClassifier:
    """A :class:`RecurrentClassifier` by name, initialised reproducibly from ``seed``.

    Names: ``rnn`` (tanh RNN), ``gru``, ``lstm`` (PyTorch's default init), ``lstm-fb0`` ...
    ``lstm-fb3`` (forget-gate bias 0, 1, 2 or 3, :func:`set_forget_bias`; the input gate keeps
    PyTorch's init), ``lstm-chrono`` (:func:`set_chrono_bias` with ``max_length``, required:
    ``b_f = log(U(1, T_max - 1))`` and ``b_i = -b_f``) and ``lstm-chrono-forget`` (the same
    forget biases, the input-gate biases left at PyTorch's init: the chrono ablation that keeps
    the input gate half open).
    """
    if name not in MODEL_NAMES:
        raise ConfigError(f"Unknown model {name!r}; expected one of {', '.join(MODEL_NAMES)}.")
    torch.manual_seed(seed)
    model = RecurrentClassifier(name.split("-")[0], input_size, hidden_size, n_classes)
    if name in _FORGET_BIASES:
        set_forget_bias(model.rnn, _FORGET_BIASES[name])
    elif name.startswith("lstm-chrono"):
        if max_length is None:
            raise ConfigError(f"{name} needs max_length (the dependency length T_max to cover).")
        rnn = model.rnn
        rows = slice(0, hidden_size)  # the input gate's row block (i, f, g, o)
        kept = (rnn.bias_ih_l0[rows].detach().clone(), rnn.bias_hh_l0[rows].detach().clone())
        set_chrono_bias(rnn, max(3, max_length), generator=torch.Generator().manual_seed(seed))
        if name == "lstm-chrono-forget":
            with torch.no_grad():
                rnn.bias_ih_l0[rows] = kept[0]
                rnn.bias_hh_l0[rows] = kept[1]
    return model


@dataclass(frozen=True)
class TrainResult:
    """What :func:`train_recall` did: steps taken, seconds spent, last training loss and accuracy
    (mean over the last ``window`` batches)."""

    steps: int
    seconds: float
    loss: float
    train_accuracy: float


def train_recall(
    model: nn.Module,
    length: int,
    *,
    steps: int,
    batch_size: int = 64,
    learning_rate: float = 1e-2,
    grad_clip: float = 1.0,
    noise: float = 0.1,
    n_classes: int = 4,
    stop_accuracy: float | None = 0.99,
    window: int = 20,
    seed: int = 0,
    variable_lag: bool = False,
) -> TrainResult:
    """Train ``model`` (``[B, L, K+1] -> [B, K]``) on fresh recall batches with Adam and clipping.

    Stops after ``steps`` updates, or earlier once the mean training accuracy over the last
    ``window`` batches reaches ``stop_accuracy`` (every batch is new data, so this is an unbiased
    estimate). With ``variable_lag`` the cue's position is random in every training sequence
    (see the module docstring); the stopping rule then measures that easier task, so check the
    result with :func:`evaluate_recall`. Changes ``model`` in place.
    """
    generator = torch.Generator().manual_seed(10_000 + seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=learning_rate)
    model.train()
    losses: list[float] = []
    accuracies: list[float] = []
    start = time.perf_counter()
    step = 0
    for step in range(1, steps + 1):  # noqa: B007 - `step` is reported after the loop
        x, y = make_recall_batch(batch_size, length, n_classes=n_classes, noise=noise, generator=generator,
                                 variable_lag=variable_lag)
        logits = model(x)
        loss = nn.functional.cross_entropy(logits, y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
        optimizer.step()
        losses.append(loss.item())
        accuracies.append((logits.argmax(dim=1) == y).float().mean().item())
        if stop_accuracy is not None and len(accuracies) >= window:
            if sum(accuracies[-window:]) / window >= stop_accuracy:
                break
    model.eval()
    recent = slice(-window, None)
    return TrainResult(
        steps=step,
        seconds=time.perf_counter() - start,
        loss=sum(losses[recent]) / len(losses[recent]) if losses else math.nan,
        train_accuracy=sum(accuracies[recent]) / len(accuracies[recent]) if accuracies else math.nan,
    )


def evaluate_recall(
    model: nn.Module,
    length: int,
    *,
    n_samples: int = 1000,
    noise: float = 0.1,
    n_classes: int = 4,
    seed: int = 0,
) -> float:
    """Accuracy of ``model`` on ``n_samples`` fresh recall sequences of ``length`` steps."""
    generator = torch.Generator().manual_seed(20_000 + seed)
    x, y = make_recall_batch(n_samples, length, n_classes=n_classes, noise=noise, generator=generator)
    model.eval()
    with torch.no_grad():
        return (model(x).argmax(dim=1) == y).float().mean().item()


@dataclass(frozen=True)
class RecallDemo:
    """A model trained on the recall task, with a batch to inspect it on (see :func:`recall_demo`)."""

    model: RecurrentClassifier
    name: str
    length: int
    accuracy: float
    train: TrainResult
    inputs: Tensor  # [B, L, K+1]
    labels: Tensor  # [B]


def recall_demo(
    name: str = "lstm-chrono",
    length: int = 30,
    hidden_size: int = 16,
    steps: int = 1500,
    seed: int = 0,
    batch_size: int = 64,
) -> RecallDemo:
    """Train ``name`` (an LSTM of :func:`build_model`) to recall a class over ``length`` steps
    (lr 3e-3, at most ``steps`` updates, early stop at 0.99 training accuracy, one thread) and
    draw ``batch_size`` fresh sequences (generator seed 1) to record it on."""
    if not name.startswith("lstm"):
        raise ConfigError(f"The recall demo inspects an LSTM; got model {name!r}.")
    with limit_threads(1):
        model = build_model(name, 5, hidden_size, 4, max_length=length, seed=seed)
        result = train_recall(model, length, steps=steps, learning_rate=3e-3, seed=seed)
        accuracy = evaluate_recall(model, length, seed=seed)
    x, y = make_recall_batch(batch_size, length, generator=torch.Generator().manual_seed(1))
    return RecallDemo(model=model, name=name, length=length, accuracy=accuracy, train=result, inputs=x, labels=y)
