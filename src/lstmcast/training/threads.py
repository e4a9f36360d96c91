"""How many CPU threads a training run uses: one, unless more is measurably faster.

Measured on this project's 2-core machine under load (``benchmarks/seed_task.py --threads``,
docs/speed.md): two threads made an epoch 50x slower at hidden 64 / batch 32, 13x at 128 / 128
and 5.7x at 256 / 256 (the second thread waits for cores that other processes hold). More
threads can only pay for large steps on cores that are free, so the policy asks for both; below
:data:`PARALLEL_WORK` no measurement has shown a second thread faster.
"""

from __future__ import annotations

import os
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from lstmcast.config import ModelConfig, TrainConfig

# multiply-adds of one recurrent step of one batch (batch x 4 gates x hidden x (hidden + input)
# x layers x directions) below which training always uses one thread: hidden 256 at batch 256
# (67 M) was still 5.7x slower on two threads under load
PARALLEL_WORK = 64_000_000


def step_work(model: ModelConfig, train: TrainConfig, n_inputs: int = 1) -> int:
    """Multiply-adds of one recurrent step over one training batch."""
    width = model.hidden_size
    inputs = model.hidden_size if model.patch_length else n_inputs
    directions = 2 if model.bidirectional else 1
    first = 4 * width * (width + inputs)
    rest = 4 * width * (width + directions * width) * (model.num_layers - 1)
    return train.batch_size * directions * (first + rest)


def free_cores(cores: int | None = None, load: float | None = None) -> float:
    """Cores not busy with other work: ``cores`` minus the 1-minute load average."""
    cores = cores or os.cpu_count() or 1
    if load is None:
        try:
            load = os.getloadavg()[0]
        except OSError:  # pragma: no cover - platforms without a load average
            load = 0.0
    return max(cores - load, 0.0)


def threads_for(model: ModelConfig, train: TrainConfig, n_inputs: int = 1, cores: int | None = None,
                load: float | None = None) -> int:
    """Threads for CPU training: ``train.threads`` when set; one for deterministic runs, for
    steps smaller than :data:`PARALLEL_WORK` and on a loaded machine; otherwise as many as
    there are free cores (cores minus the 1-minute load average, at most 4)."""
    if train.threads:
        return train.threads
    if train.deterministic or step_work(model, train, n_inputs) < PARALLEL_WORK:
        return 1
    return max(1, min(4, int(free_cores(cores, load))))


_WEIGHTS: weakref.WeakKeyDictionary[Any, int] = weakref.WeakKeyDictionary()  # a network's weight count


def inference_threads(network: Any, batch: int, cores: int | None = None, load: float | None = None) -> int:
    """Threads for a CPU forward pass over ``batch`` windows: one unless the multiply-adds of one
    recurrent step (``batch`` x the network's weights) reach :data:`PARALLEL_WORK` on free cores.

    With torch's default (every core), one-series ``Forecaster.predict`` took 44 ms instead of
    1.9 ms on this project's 2-core machine under load (the second thread waits for a core)."""
    weights = _WEIGHTS.get(network)
    if weights is None:
        weights = _WEIGHTS[network] = sum(p.numel() for p in network.parameters())
    if batch * weights < PARALLEL_WORK:
        return 1
    return max(1, min(4, int(free_cores(cores, load))))


@contextmanager
def cpu_threads(count: int) -> Iterator[None]:
    """Run a block with ``torch.set_num_threads(count)``; the previous count is restored after."""
    import torch

    previous = torch.get_num_threads()
    if previous == count:
        yield
        return
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(previous)
