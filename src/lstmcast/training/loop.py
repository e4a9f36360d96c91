"""The fit loop: Adam, gradient clipping, ReduceLROnPlateau, early stopping with the best
weights restored, a wall-clock budget, a divergence guard, and resumable checkpoints.

It knows nothing of any particular model: it is given a module (for its parameters and state),
a ``loss_fn(batch) -> scalar`` and batch sources.
"""

from __future__ import annotations

import copy
import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from lstmcast.config import TrainConfig
from lstmcast.errors import LstmcastError


class TrainingDivergedError(LstmcastError, RuntimeError):
    """The loss or the gradients became NaN/Inf twice, even after lowering the learning rate."""


class TensorBatches:
    """Batches gathered by indexing tensors that already live on the device (no DataLoader).

    ``gather(indices)`` turns a LongTensor of window numbers into the batch tuple; the source
    holds ``n_windows`` windows.
    """

    def __init__(self, n_windows: int, gather: Callable[[torch.Tensor], tuple[torch.Tensor, ...]],
                 device: torch.device, per_epoch: int = 0) -> None:
        self.n_windows, self.gather, self.device = n_windows, gather, device
        self.per_epoch = per_epoch  # > 0: a fresh random sample of this many windows per shuffled pass

    def __len__(self) -> int:
        return self.n_windows

    def iterate(self, batch_size: int, generator: torch.Generator | None = None):
        order = (torch.randperm(self.n_windows, generator=generator) if generator is not None
                 else torch.arange(self.n_windows))
        if generator is not None and 0 < self.per_epoch < self.n_windows:
            order = order[: self.per_epoch]
        order = order.to(self.device)
        for start in range(0, len(order), batch_size):
            yield self.gather(order[start : start + batch_size])


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
    history: list[EpochRecord] = field(default_factory=list)
    best_epoch: int = 0
    best_loss: float = math.inf
    stop_reason: str = "max_epochs"
    seconds: float = 0.0
    events: list[str] = field(default_factory=list)

    def history_rows(self) -> list[dict[str, Any]]:
        return [asdict(r) for r in self.history]


class Callback:
    """Hooks called by :func:`fit_loop`; override what you need."""

    def on_fit_start(self, state: LoopState) -> None: ...

    def on_epoch_end(self, state: LoopState, record: EpochRecord) -> None: ...

    def on_event(self, state: LoopState, message: str) -> None: ...

    def on_fit_end(self, state: LoopState, result: FitResult) -> None: ...


@dataclass
class LoopState:
    config: TrainConfig
    model: nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.ReduceLROnPlateau
    generator: torch.Generator
    result: FitResult
    epoch: int = 0
    best_state: dict[str, torch.Tensor] | None = None
    bad_epochs: int = 0
    divergences: int = 0
    elapsed_before: float = 0.0
    stop_requested: str | None = None  # a callback sets a reason to stop after this epoch

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
            "divergences": self.divergences,
            "best_epoch": self.result.best_epoch,
            "best_loss": self.result.best_loss,
            "history": self.result.history_rows(),
            "events": list(self.result.events),
            "elapsed": self.elapsed_before + self.result.seconds,
        }

    def load_checkpoint(self, ckpt: dict[str, Any]) -> None:
        self.model.load_state_dict(ckpt["model"])
        self.optimizer.load_state_dict(ckpt["optimizer"])
        self.scheduler.load_state_dict(ckpt["scheduler"])
        self.generator.set_state(ckpt["generator"])
        torch.set_rng_state(ckpt["torch_rng"])
        self.epoch = int(ckpt["epoch"])
        self.best_state = ckpt["best_state"]
        self.bad_epochs = int(ckpt["bad_epochs"])
        self.divergences = int(ckpt["divergences"])
        self.result.best_epoch = int(ckpt["best_epoch"])
        self.result.best_loss = float(ckpt["best_loss"])
        self.result.history = [EpochRecord(**row) for row in ckpt["history"]]
        self.result.events = list(ckpt["events"])
        self.elapsed_before = float(ckpt["elapsed"])


def save_checkpoint(state: LoopState, path: Path) -> None:
    """Write the loop state atomically (temp file + rename); loadable with weights_only=True."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    torch.save(state.to_checkpoint(), tmp)
    os.replace(tmp, path)


def _snapshot(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def _finite_grads(params: Sequence[torch.Tensor]) -> bool:
    return all(p.grad is None or bool(torch.isfinite(p.grad).all()) for p in params)


def fit_loop(
    model: nn.Module,
    loss_fn: Callable[[tuple[torch.Tensor, ...]], torch.Tensor],
    train: TensorBatches,
    val: TensorBatches | None,
    config: TrainConfig,
    callbacks: Sequence[Callback] = (),
    checkpoint: Path | None = None,
    resume: dict[str, Any] | None = None,
    sync: Callable[[list[float]], list[float]] | None = None,
) -> FitResult:
    """Train ``model`` by minimising ``loss_fn`` over ``train``; monitor ``val`` (else train) loss.

    The best epoch's weights are restored at the end. Stops at ``max_epochs``, after
    ``patience`` epochs without improvement, when ``time_budget`` seconds have passed, or when
    a callback sets ``state.stop_requested`` (e.g. a pruned tuning trial).

    ``sync`` sums a few numbers over all processes of data-parallel training (see
    :mod:`lstmcast.training.distributed`): losses, window counts and stop flags are reduced
    with it so that every process takes the same early-stopping, LR and stop decisions.
    """
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.Adam(params, lr=config.learning_rate, weight_decay=config.weight_decay)
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
        optimizer, mode="min", factor=config.lr_factor, patience=config.lr_patience, min_lr=config.min_lr
    )
    generator = torch.Generator().manual_seed(config.seed)
    state = LoopState(config, model, optimizer, scheduler, generator, FitResult())
    if resume is not None:
        state.load_checkpoint(resume)
    result = state.result
    for cb in callbacks:
        cb.on_fit_start(state)
    started = time.perf_counter()

    def event(message: str) -> None:
        result.events.append(message)
        for cb in callbacks:
            cb.on_event(state, message)

    last_good = _snapshot(model), copy.deepcopy(optimizer.state_dict())
    last_checkpoint = time.perf_counter()
    while state.epoch < config.max_epochs:
        epoch = state.epoch + 1
        tick = time.perf_counter()
        model.train()
        total, count, norms, clipped, diverged_at = 0.0, 0, [], 0, None
        for batch_no, batch in enumerate(train.iterate(config.batch_size, generator), start=1):
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(batch)
            if not _agree(sync, bool(torch.isfinite(loss))):
                diverged_at = (batch_no, "loss")
                break
            loss.backward()
            if not _finite_grads(params):
                diverged_at = (batch_no, "gradients")
                break
            norm = float(torch.nn.utils.clip_grad_norm_(params, math.inf)) if config.grad_clip == 0 \
                else _clip(params, config)
            norms.append(norm)
            if config.grad_clip > 0 and norm > config.grad_clip:
                clipped += 1
            optimizer.step()
            n = len(batch[0])
            total += float(loss.detach()) * n
            count += n
        if diverged_at is not None:
            state.divergences += 1
            where = f"epoch {epoch}, batch {diverged_at[0]}"
            if state.divergences > 1:
                model.load_state_dict(last_good[0])
                raise TrainingDivergedError(
                    f"Training diverged again: the {diverged_at[1]} became NaN/Inf at {where}, after the "
                    "learning rate had already been lowered once. Lower train.learning_rate, keep "
                    "train.grad_clip on, or check the data for extreme values."
                )
            model.load_state_dict(last_good[0])
            optimizer.load_state_dict(last_good[1])
            for group in optimizer.param_groups:
                group["lr"] = max(group["lr"] * config.lr_factor, config.min_lr)
            event(f"NaN/Inf {diverged_at[1]} at {where}: rolled back to the last good weights and "
                  f"lowered the learning rate to {optimizer.param_groups[0]['lr']:.3g}")
            continue
        if sync is not None:
            total, count = sync([total, count])
        train_loss = total / max(count, 1)
        val_loss = evaluate_loss(model, loss_fn, val, sync=sync) if val is not None and len(val) else None
        monitor = val_loss if val_loss is not None else train_loss
        if not math.isfinite(monitor):
            monitor = math.inf
        lr = optimizer.param_groups[0]["lr"]
        improved = monitor < result.best_loss
        if improved:
            result.best_loss, result.best_epoch = monitor, epoch
            state.best_state = _snapshot(model)
            state.bad_epochs = 0
        else:
            state.bad_epochs += 1
        scheduler.step(monitor)
        new_lr = optimizer.param_groups[0]["lr"]
        if new_lr < lr:
            event(f"epoch {epoch}: validation loss plateaued; learning rate {lr:.3g} -> {new_lr:.3g}")
        record = EpochRecord(
            epoch=epoch, train_loss=train_loss, val_loss=val_loss, learning_rate=lr,
            grad_norm=float(sum(norms) / len(norms)) if norms else 0.0,
            clipped_fraction=clipped / max(len(norms), 1), seconds=time.perf_counter() - tick, best=improved,
        )
        result.history.append(record)
        state.epoch = epoch
        last_good = _snapshot(model), copy.deepcopy(optimizer.state_dict())
        result.seconds = time.perf_counter() - started
        stop = None
        if config.patience and state.bad_epochs >= config.patience:
            stop = "early_stopping"
            event(f"early stopping at epoch {epoch}: no improvement for {config.patience} epochs; "
                  f"restoring epoch {result.best_epoch} (loss {result.best_loss:.5g})")
        elif config.time_budget and not _agree(sync, state.elapsed_before + result.seconds < config.time_budget):
            stop = "time_budget"
            event(f"time budget of {config.time_budget:.0f}s reached after epoch {epoch}; "
                  f"restoring epoch {result.best_epoch}")
        due = (config.checkpoint_every and epoch % config.checkpoint_every == 0) or stop or (
            config.checkpoint_seconds and time.perf_counter() - last_checkpoint >= config.checkpoint_seconds)
        if checkpoint is not None and due:
            save_checkpoint(state, checkpoint)
            last_checkpoint = time.perf_counter()
        for cb in callbacks:
            cb.on_epoch_end(state, record)
        if not stop and not _agree(sync, state.stop_requested is None):
            stop = state.stop_requested or "requested"
            event(f"stopped after epoch {epoch} at a callback's request ({stop}); "
                  f"restoring epoch {result.best_epoch}")
        if stop:
            result.stop_reason = stop
            break
    result.seconds = state.elapsed_before + time.perf_counter() - started
    if state.best_state is not None:
        model.load_state_dict(state.best_state)
    model.eval()
    for cb in callbacks:
        cb.on_fit_end(state, result)
    return result


def _agree(sync: Callable[[list[float]], list[float]] | None, ok: bool) -> bool:
    """True when ``ok`` holds in every process (just ``ok`` without ``sync``)."""
    return ok if sync is None else sync([0.0 if ok else 1.0])[0] == 0.0


def _clip(params: Sequence[torch.Tensor], config: TrainConfig) -> float:
    """Clip in place; returns the pre-clip global gradient norm."""
    if config.clip_mode == "norm":
        return float(torch.nn.utils.clip_grad_norm_(params, config.grad_clip))
    norm = float(torch.nn.utils.clip_grad_norm_(params, math.inf))
    torch.nn.utils.clip_grad_value_(params, config.grad_clip)
    return norm


@torch.no_grad()
def evaluate_loss(model: nn.Module, loss_fn: Callable[[tuple[torch.Tensor, ...]], torch.Tensor],
                  batches: TensorBatches, batch_size: int = 4096,
                  sync: Callable[[list[float]], list[float]] | None = None) -> float:
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
        total, count = sync([total, count])
    return total / max(count, 1)
