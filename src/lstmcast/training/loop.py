"""The fit loop: Adam, gradient clipping, and the callbacks of :mod:`lstmcast.training.callbacks`
(plateau LR, early stopping with the best weights restored, a time budget checked after every
batch, checkpoints) with a divergence guard.

It knows nothing of any particular model: it is given a module (for its parameters and state),
a ``loss_fn(batch) -> scalar`` and batch sources (:mod:`lstmcast.training.batches`).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from lstmcast.config import TrainConfig
from lstmcast.training.batches import TensorBatches
from lstmcast.training.callbacks import (
    Callback,
    Checkpointing,
    DivergenceGuard,
    EarlyStopping,
    PlateauLR,
    TimeBudget,
    TrainingDivergedError,
)
from lstmcast.training.checkpoint import save_checkpoint
from lstmcast.training.optim import Adam, Snapshot, clip_gradients, state_tensors

__all__ = ["Callback", "EpochRecord", "FitResult", "LoopState", "TensorBatches", "TrainingDivergedError",
           "evaluate_loss", "fit_loop", "save_checkpoint"]

LossFn = Callable[[tuple[Any, ...]], torch.Tensor]
Sync = Callable[[list[float]], list[float]]


@dataclass
class EpochRecord:
    epoch: int
    train_loss: float
    val_loss: float | None
    learning_rate: float
    grad_norm: float
    clipped_fraction: float
    seconds: float
    best: bool = False


@dataclass
class FitResult:
    """What a fit did. ``val_windows``: validation windows scored each epoch (a fixed sample of
    the ``val_windows_available`` when ``train.val_windows`` caps them)."""

    history: list[EpochRecord] = field(default_factory=list)
    best_epoch: int = 0
    best_loss: float = math.inf
    stop_reason: str = "max_epochs"
    seconds: float = 0.0
    events: list[str] = field(default_factory=list)
    val_windows: int = 0
    val_windows_available: int = 0

    def history_rows(self) -> list[dict[str, Any]]:
        return [asdict(r) for r in self.history]


@dataclass
class LoopState:
    """Everything the loop and its callbacks share; :meth:`to_checkpoint` is what a resume needs."""

    config: TrainConfig
    model: nn.Module
    optimizer: Adam
    scheduler: PlateauLR
    generator: torch.Generator
    result: FitResult
    callbacks: list[Callback] = field(default_factory=list)
    epoch: int = 0  # epochs completed
    bad_epochs: int = 0
    reference_loss: float = math.inf  # early stopping: the loss of the last epoch that counted as progress
    monitor: float = math.inf  # this epoch's monitored (validation, else training) loss
    divergences: int = 0
    elapsed_before: float = 0.0
    batches_done: int = 0  # in the current epoch
    stop_requested: str | None = None  # a reason to stop (callbacks set it, or call request_stop)
    started: float = field(default_factory=time.perf_counter)

    def __post_init__(self) -> None:
        self.model_names, self.model_tensors = state_tensors(self.model)
        self.best = Snapshot(self.model_tensors)
        self._announced = False

    @property
    def elapsed(self) -> float:
        """Seconds of training so far, earlier sessions of a resumed run included."""
        return self.elapsed_before + time.perf_counter() - self.started

    @property
    def best_state(self) -> dict[str, torch.Tensor] | None:
        return dict(zip(self.model_names, self.best.saved, strict=True)) if self.best.filled else None

    def event(self, message: str) -> None:
        self.result.events.append(message)
        for cb in self.callbacks:
            cb.on_event(self, message)

    def request_stop(self, reason: str, message: str) -> None:
        """Stop after this batch (from ``on_batch_end``) or this epoch; the first reason wins."""
        if self.stop_requested is None or not self._announced:
            self.stop_requested = self.stop_requested or reason
            self._announced = True
            self.event(message)

    def to_checkpoint(self) -> dict[str, Any]:
        return {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "generator": self.generator.get_state(),
            "torch_rng": torch.get_rng_state(),
            "epoch": self.epoch,
            "best_state": self.best_state,
            "bad_epochs": self.bad_epochs,
            "reference_loss": self.reference_loss,
            "divergences": self.divergences,
            "best_epoch": self.result.best_epoch,
            "best_loss": self.result.best_loss,
            "history": self.result.history_rows(),
            "events": list(self.result.events),
            "elapsed": self.elapsed,
        }

    def load_checkpoint(self, ckpt: dict[str, Any]) -> None:
        self.model.load_state_dict(ckpt["model"])
        self.optimizer.load_state_dict(ckpt["optimizer"])
        self.scheduler.load_state_dict(ckpt["scheduler"])
        self.generator.set_state(ckpt["generator"])
        torch.set_rng_state(ckpt["torch_rng"])
        self.epoch = int(ckpt["epoch"])
        if ckpt["best_state"] is not None:
            with torch.no_grad():
                torch._foreach_copy_(self.best.saved, [ckpt["best_state"][k] for k in self.model_names])
            self.best.filled = True
        self.bad_epochs = int(ckpt["bad_epochs"])
        self.divergences = int(ckpt["divergences"])
        self.result.best_epoch = int(ckpt["best_epoch"])
        self.result.best_loss = float(ckpt["best_loss"])
        self.reference_loss = float(ckpt.get("reference_loss", self.result.best_loss))
        self.result.history = [EpochRecord(**row) for row in ckpt["history"]]
        self.result.events = list(ckpt["events"])
        self.elapsed_before = float(ckpt["elapsed"])


def fit_loop(
    model: nn.Module,
    loss_fn: LossFn,
    train: TensorBatches,
    val: TensorBatches | None,
    config: TrainConfig,
    callbacks: Sequence[Callback] = (),
    checkpoint: Path | None = None,
    resume: dict[str, Any] | None = None,
    sync: Sync | None = None,
) -> FitResult:
    """Train ``model`` by minimising ``loss_fn`` over ``train``; monitor ``val`` (else train) loss.

    The best epoch's weights are restored at the end. Stops at ``max_epochs``, after
    ``patience`` epochs without an improvement of more than ``min_delta`` (relative), when
    ``time_budget`` seconds have passed (checked after every batch), or when a callback asks
    (``state.request_stop`` or ``state.stop_requested``, e.g. a pruned tuning trial).
    Validation scores a fixed sample of at most ``val_windows`` windows.

    ``sync`` sums a few numbers over all processes of data-parallel training (see
    :mod:`lstmcast.training.distributed`): losses, window counts and stop flags are reduced
    with it so that every process takes the same early-stopping, LR and stop decisions.
    """
    state = _start(model, config, callbacks, checkpoint, resume)
    result, guard = state.result, DivergenceGuard(state)
    val = _capped_validation(val, config.val_windows, result)
    for cb in state.callbacks:
        cb.on_fit_start(state)
    while state.epoch < config.max_epochs:
        tick = time.perf_counter()
        epoch = _train_epoch(state, loss_fn, train, guard, sync)
        if epoch is None:  # diverged and rolled back: run the epoch again at the lower rate
            continue
        if epoch[1] == 0:  # stopped before the epoch's first batch
            result.stop_reason = state.stop_requested or result.stop_reason
            break
        val_loss = evaluate_loss(model, loss_fn, val, sync=sync) if val is not None and len(val) else None
        record = _end_epoch(state, epoch, val_loss, tick)
        for cb in state.callbacks:
            cb.on_epoch_end(state, record)
        guard.remember()
        if not _agree(sync, state.stop_requested is None):
            state.request_stop(state.stop_requested or "requested", f"stopped after epoch {record.epoch} at a "
                               f"callback's request ({state.stop_requested or 'requested'}); restoring epoch "
                               f"{result.best_epoch}")
            result.stop_reason = state.stop_requested or "requested"
            break
    result.seconds = state.elapsed
    if state.best.filled:
        state.best.restore()
    model.eval()
    for cb in state.callbacks:
        cb.on_fit_end(state, result)
    return result


def _capped_validation(val: TensorBatches | None, cap: int, result: FitResult) -> TensorBatches | None:
    """The fixed validation sample of at most ``cap`` windows; its size goes into ``result``."""
    if val is None:
        return None
    available, val = len(val), val.capped(cap) if hasattr(val, "capped") else val
    result.val_windows, result.val_windows_available = len(val), available
    return val


def _end_epoch(state: LoopState, epoch: tuple[float, int, list[float], int], val_loss: float | None,
               tick: float) -> EpochRecord:
    """Record a finished epoch: the monitored loss, the best weights when it improved."""
    result = state.result
    total, count, norms, clipped = epoch
    monitor = val_loss if val_loss is not None else total / count
    state.monitor = monitor if math.isfinite(monitor) else math.inf
    improved = state.monitor < result.best_loss
    if improved:
        result.best_loss, result.best_epoch = state.monitor, state.epoch + 1
        state.best.save()
    record = EpochRecord(
        epoch=state.epoch + 1, train_loss=total / count, val_loss=val_loss, learning_rate=state.optimizer.lr,
        grad_norm=sum(norms) / len(norms) if norms else 0.0, clipped_fraction=clipped / max(len(norms), 1),
        seconds=time.perf_counter() - tick, best=improved,
    )
    result.history.append(record)
    state.epoch = record.epoch
    result.seconds = state.elapsed
    return record


def _start(model: nn.Module, config: TrainConfig, callbacks: Sequence[Callback], checkpoint: Path | None,
           resume: dict[str, Any] | None) -> LoopState:
    """The loop state with the built-in callbacks in their order, resumed when asked."""
    plateau = PlateauLR(config.lr_factor, config.lr_patience, config.min_lr)
    hooks: list[Callback] = [plateau, EarlyStopping(config.patience, config.min_delta)]
    if config.time_budget:
        hooks.append(TimeBudget(config.time_budget))
    hooks.extend(callbacks)
    if checkpoint is not None:
        hooks.append(Checkpointing(Path(checkpoint), config.checkpoint_every, config.checkpoint_seconds))
    optimizer = Adam(model.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay)
    state = LoopState(config, model, optimizer, plateau, torch.Generator().manual_seed(config.seed), FitResult(),
                      hooks)
    if resume is not None:
        state.load_checkpoint(resume)
    return state


def _train_epoch(state: LoopState, loss_fn: LossFn, train: TensorBatches, guard: DivergenceGuard,
                 sync: Sync | None) -> tuple[float, int, list[float], int] | None:
    """One pass of optimiser steps: (loss sum, windows, gradient norms, clipped steps), or
    None when the divergence guard rolled the epoch back. A stop requested after a batch
    (the time budget) ends the pass there."""
    config, optimizer = state.config, state.optimizer
    agree_each_batch = sync is not None and config.time_budget > 0
    batch_hooks = [cb.on_batch_end for cb in state.callbacks  # older callbacks may lack the hook
                   if getattr(type(cb), "on_batch_end", Callback.on_batch_end) is not Callback.on_batch_end]
    state.model.train()
    total, count, norms, clipped = 0.0, 0, [], 0
    state.batches_done = 0
    for batch_no, batch in enumerate(train.iterate(config.batch_size, state.generator), start=1):
        optimizer.zero_grad()
        loss = loss_fn(batch)
        value = float(loss.detach())
        if not _agree(sync, math.isfinite(value)):
            guard.diverged("loss", state.epoch + 1, batch_no)
            return None
        loss.backward()
        norm = clip_gradients(optimizer.grads(), config.grad_clip, config.clip_mode)
        if not math.isfinite(norm):
            guard.diverged("gradients", state.epoch + 1, batch_no)
            return None
        optimizer.step()
        norms.append(norm)
        clipped += config.grad_clip > 0 and norm > config.grad_clip
        n = len(batch[0])
        total, count, state.batches_done = total + value * n, count + n, batch_no
        for hook in batch_hooks:
            hook(state)
        if agree_each_batch and not _agree(sync, state.stop_requested is None):
            state.request_stop(state.stop_requested or "time_budget", f"time budget of {config.time_budget:.0f}s "
                               f"reached during epoch {state.epoch + 1} in another process")
        if state.stop_requested is not None and (sync is None or agree_each_batch):
            break
    if sync is not None:
        total, windows = sync([total, count])
        count = int(windows)
    return total, count, norms, clipped


def _agree(sync: Sync | None, ok: bool) -> bool:
    """True when ``ok`` holds in every process (just ``ok`` without ``sync``)."""
    return ok if sync is None else sync([0.0 if ok else 1.0])[0] == 0.0


@torch.no_grad()
def evaluate_loss(model: nn.Module, loss_fn: LossFn, batches: TensorBatches, batch_size: int = 4096,
                  sync: Sync | None = None) -> float:
    """Mean loss over all windows of ``batches`` (of every process with ``sync``), in eval mode."""
    was_training = model.training
    model.eval()
    total, count = 0.0, 0
    for batch in batches.iterate(batch_size):
        n = len(batch[0])
        total += float(loss_fn(batch)) * n
        count += n
    model.train(was_training)
    if sync is not None:
        total, windows = sync([total, count])
        count = int(windows)
    return total / max(count, 1)
