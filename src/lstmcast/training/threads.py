"""How many CPU threads a training run uses: one, unless more is measurably faster.

Measured on this project's 2-core machine (``benchmarks/seed_task.py threads``, docs/speed.md):
an LSTM step at the tutorial's size (hidden 64, batch 32) is ~0.5 ms of arithmetic, and a
second thread only adds synchronisation; under load (other processes on the cores) torch's
default thread count made epochs 7-10x slower. More threads pay only for large steps on cores
that are free, so the policy asks for both.
"""

from __future__ import annotations

import os

from lstmcast.config import ModelConfig, TrainConfig

# multiply-adds of one recurrent step of one batch (batch x 4 gates x hidden x (hidden + input)
# x layers x directions) from which a second thread measured faster on idle cores
PARALLEL_WORK = 8_000_000


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
    """Threads for CPU training: ``train.threads`` when set; one for deterministic runs and for
    steps smaller than :data:`PARALLEL_WORK`; otherwise as many as there are free cores (at most 4)."""
    if train.threads:
        return train.threads
    if train.deterministic or step_work(model, train, n_inputs) < PARALLEL_WORK:
        return 1
    return max(1, min(4, int(free_cores(cores, load))))
