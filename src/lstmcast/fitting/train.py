"""Training the networks of a fit: each ensemble member on the validation split, then (with
``train.final_fit="refit"``) a fresh network on every window for the epochs validation chose,
replaying validation's learning-rate schedule, or (``"continue"``) the validated weights trained
on every window for a quarter of those epochs more, at the rate validation ended with.

Symbols: L input_length, H horizon, C channels, K ensemble members.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

from lstmcast.config import DataConfig, ForecastConfig, ModelConfig, TrainConfig
from lstmcast.data.layout import ChannelLayout
from lstmcast.errors import DataError
from lstmcast.fitting.parts import TrainPart, input_length_of
from lstmcast.models.ensemble import MedianEnsemble
from lstmcast.models.network import LSTMForecastNet
from lstmcast.training.batches import TensorBatches, window_batches
from lstmcast.training.checkpoint import load_checkpoint
from lstmcast.training.loop import Callback, FitResult, LoopState, fit_loop

if TYPE_CHECKING:
    from lstmcast.training.distributed import DistributedContext


class ReplaySchedule(Callback):
    """Replays a learning-rate schedule, one rate per epoch (the refit follows validation's)."""

    def __init__(self, rates: list[float]) -> None:
        self.rates = rates

    def on_fit_start(self, state: LoopState) -> None:
        self._set(state, 0)

    def on_epoch_end(self, state: LoopState, record: Any) -> None:
        self._set(state, record.epoch)

    def _set(self, state: LoopState, epoch: int) -> None:
        if epoch < len(self.rates):
            state.optimizer.lr = self.rates[epoch]


def make_network(layout: ChannelLayout, horizon: int, model: ModelConfig, members: int = 1) -> nn.Module:
    """A fresh network for ``layout`` (or a median ensemble of ``members`` of them)."""
    nets: list[nn.Module] = [LSTMForecastNet(layout.n_channels, layout.n_targets, layout.n_future, horizon, model)
                             for _ in range(members)]
    return nets[0] if members == 1 else MedianEnsemble(nets)


@dataclass(frozen=True)
class RunOptions:
    """Where and how a fit runs: the device, callbacks, torchrun context, checkpoint and resume."""

    device: torch.device
    callbacks: Sequence[Callback] = ()
    distributed: DistributedContext | None = None
    checkpoint: str | Path | None = None
    resume: str | Path | None = None


@dataclass
class FitPlan:
    """What every member of one fit shares: the resolved config, the layout, the parts it
    validates on and the parts the final weights train on (the same unless ``refit``)."""

    config: ForecastConfig
    layout: ChannelLayout
    parts: list[TrainPart]
    final: list[TrainPart]
    refit: bool  # a final fit on every window follows validation (train.final_fit is not "none")
    run: RunOptions


@dataclass
class Members:
    """The trained networks: ``validated`` (weights that never saw the validation rows) and
    ``final`` (what the forecaster keeps), one fit result per member, and window counts."""

    validated: list[nn.Module] = field(default_factory=list)
    final: list[nn.Module] = field(default_factory=list)
    results: list[FitResult] = field(default_factory=list)
    n_windows: dict[str, int] = field(default_factory=dict)


def fit_members(plan: FitPlan) -> Members:
    """Train the ``model.ensemble`` members, seeds ``train.seed + k``; the first one alone
    writes the checkpoint and resumes."""
    out = Members()
    t = plan.config.train
    for k in range(plan.config.model.ensemble):
        first = k == 0
        train = dataclasses.replace(t, seed=t.seed + k)
        net = _seeded_network(plan, train.seed)
        run = plan.run if first else dataclasses.replace(plan.run, checkpoint=None, resume=None)
        result, batches = train_network(net, plan.parts, plan.config.data, train, run)
        if first:
            out.n_windows = {part: len(b) for part, b in batches.items()}
        out.validated.append(net.eval())
        if plan.refit:
            net, n_final = _final_fit(plan, train, result, net)
            if first:
                out.n_windows["final"] = n_final
        out.final.append(net.eval())
        out.results.append(result)
    return out


def _seeded_network(plan: FitPlan, seed: int) -> LSTMForecastNet:
    torch.manual_seed(seed)
    lay = plan.layout
    return LSTMForecastNet(lay.n_channels, lay.n_targets, lay.n_future, plan.config.data.horizon,
                           plan.config.model).to(plan.run.device)


CONTINUE_SHARE = 4  # "continue" trains 1/CONTINUE_SHARE of validation's epochs more (at least one)


def _final_fit(plan: FitPlan, train: TrainConfig, result: FitResult,
               validated: LSTMForecastNet) -> tuple[LSTMForecastNet, int]:
    """The final weights on every window (scalers fitted on every row); ``result`` records it.

    ``train.final_fit="continue"``: a copy of the validated network trained ``ceil(best_epoch /
    CONTINUE_SHARE)`` epochs more at the learning rate of its best epoch (fresh optimizer
    moments; the validated network stays for the validation scores). ``"refit"``: a fresh
    network for the ``best_epoch`` epochs validation chose, replaying its learning rates."""
    best = max(result.best_epoch, 1)
    if plan.config.train.final_fit == "continue":
        net = copy.deepcopy(validated).train()
        epochs = -(-best // CONTINUE_SHARE)
        rates = [result.history[min(best, len(result.history)) - 1].learning_rate] * epochs
        how = f"continued on all {{n}} windows for {epochs} epochs at lr {rates[0]:.3g} " \
              f"(1/{CONTINUE_SHARE} of the {best} validation chose)"
    else:
        net = _seeded_network(plan, train.seed)
        epochs = best
        rates = [r.learning_rate for r in result.history[:epochs]]
        how = f"refit on all {{n}} windows for {epochs} epochs (the epoch count validation chose)"
    final_train = dataclasses.replace(train, max_epochs=epochs, patience=0, time_budget=0.0)
    run = RunOptions(plan.run.device, [ReplaySchedule(rates)], plan.run.distributed)
    final_result, batches = train_network(net, plan.final, plan.config.data, final_train, run)
    n_final = len(batches["train"])
    result.events.append(how.format(n=n_final) + ", scalers fitted on every row")
    result.seconds += final_result.seconds
    return net, n_final


def train_network(net: LSTMForecastNet, parts: list[TrainPart], data: DataConfig, train: TrainConfig,
                  run: RunOptions) -> tuple[FitResult, dict[str, TensorBatches]]:
    """Fit ``net`` on the training windows of ``parts``, monitoring their validation windows."""
    batches = part_batches(parts, input_length_of(data), data.horizon, net.n_targets, net.n_future, run.device)
    batches["train"].per_epoch = train.epoch_windows
    ckpt_path = Path(run.checkpoint) if run.checkpoint is not None else None
    resume_state = load_checkpoint(Path(run.resume)) if run.resume is not None else None
    distributed = run.distributed

    def loss_fn(batch: tuple[Any, ...]) -> torch.Tensor:
        return net.loss(*batch)

    pieces: tuple[Any, ...] = (loss_fn, batches["train"], batches["val"] if len(batches["val"]) else None, None)
    if distributed is not None:  # this process's share of every batch; DDP averages gradients
        pieces = tuple(distributed.prepare(net, *pieces[:3]))
        ckpt_path = ckpt_path if distributed.is_main else None
    loss, train_b, val_b, sync = pieces
    result = fit_loop(net, loss, train_b, val_b, train, run.callbacks, checkpoint=ckpt_path, resume=resume_state,
                      sync=sync)
    return result, batches


def part_batches(parts: list[TrainPart], input_length: int, horizon: int, n_targets: int, n_future: int,
                 device: torch.device) -> dict[str, TensorBatches]:
    """Training and validation batches over the parts' scaled rows, concatenated on ``device``."""
    L, H = input_length, horizon
    starts: dict[str, list[np.ndarray]] = {"train": [], "val": []}
    offset = 0
    for p in parts:
        for part in starts:
            rows = p.bounds.target_starts(part, L, H)
            starts[part].append(np.arange(rows.start, rows.stop) + offset)
        offset += len(p.scaled)
    values = torch.from_numpy(np.concatenate([p.scaled for p in parts])).to(device)  # [T_total, C]
    batches = {part: window_batches(values, np.concatenate(idx).astype(np.int64), L, H, n_targets, n_future, device)
               for part, idx in starts.items()}
    if not len(batches["train"]):
        raise DataError(f"No training window of input_length={L} + horizon={H} fits the data; use a smaller "
                        "data.input_length / data.horizon or longer series.")
    return batches
