"""What the fit loop does besides stepping: each concern is one callback.

:func:`~lstmcast.training.loop.fit_loop` builds the built-in ones from the
:class:`~lstmcast.config.TrainConfig` and runs them before the caller's callbacks, in this
order at the end of every epoch: :class:`PlateauLR`, :class:`EarlyStopping`,
:class:`TimeBudget`, the caller's callbacks, then :class:`Checkpointing` (last, so that a
checkpoint written at a stop knows why it stopped). :class:`DivergenceGuard` is not a hook: the
loop asks it about every batch.

A callback stops training by calling ``state.request_stop(reason, message)``; from
``on_batch_end`` the stop takes effect after that batch, otherwise after the epoch.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lstmcast.errors import LstmcastError
from lstmcast.training.optim import Snapshot

if TYPE_CHECKING:
    from lstmcast.training.loop import EpochRecord, FitResult, LoopState


class TrainingDivergedError(LstmcastError, RuntimeError):
    """The loss or the gradients became NaN/Inf twice, even after lowering the learning rate."""


class Callback:
    """Hooks called by :func:`~lstmcast.training.loop.fit_loop`; override what you need."""

    def on_fit_start(self, state: LoopState) -> None: ...

    def on_batch_end(self, state: LoopState) -> None: ...

    def on_epoch_end(self, state: LoopState, record: EpochRecord) -> None: ...

    def on_event(self, state: LoopState, message: str) -> None: ...

    def on_fit_end(self, state: LoopState, result: FitResult) -> None: ...


def plateau_step(best: float, bad_epochs: int, monitor: float, patience: int,
                 threshold: float = 1e-4) -> tuple[float, int, bool]:
    """One epoch of a reduce-on-plateau schedule (``torch.optim.lr_scheduler.ReduceLROnPlateau``
    in mode "min", relative threshold): returns the new best, the new count of bad epochs and
    whether to lower the learning rate now."""
    if monitor < best * (1.0 - threshold):
        return monitor, 0, False
    bad_epochs += 1
    return (best, 0, True) if bad_epochs > patience else (best, bad_epochs, False)


def eta_seconds(epochs_done: int, max_epochs: int, seconds_per_epoch: float, elapsed: float,
                budget: float = 0.0) -> float:
    """Seconds until training ends: the remaining epochs at the pace so far, but never past
    the time budget (``budget`` 0 = none); early stopping may end it sooner still."""
    left = max(max_epochs - epochs_done, 0) * seconds_per_epoch
    return min(left, max(budget - elapsed, 0.0)) if budget else left


class PlateauLR(Callback):
    """Multiply the learning rate by ``factor`` (not below ``min_lr``) after more than
    ``patience`` epochs without a relative improvement of the monitored loss."""

    def __init__(self, factor: float, patience: int, min_lr: float) -> None:
        self.factor, self.patience, self.min_lr = factor, patience, min_lr
        self.best, self.bad_epochs = math.inf, 0

    def on_epoch_end(self, state: LoopState, record: EpochRecord) -> None:
        self.best, self.bad_epochs, lower = plateau_step(self.best, self.bad_epochs, state.monitor, self.patience)
        lr = state.optimizer.lr
        new_lr = max(lr * self.factor, self.min_lr)
        if lower and lr - new_lr > 1e-8:
            state.optimizer.lr = new_lr
            state.event(f"epoch {record.epoch}: validation loss plateaued; learning rate {lr:.3g} -> {new_lr:.3g}")

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best, "num_bad_epochs": self.bad_epochs}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best, self.bad_epochs = float(state["best"]), int(state["num_bad_epochs"])


class EarlyStopping(Callback):
    """Stop after ``patience`` epochs in which the monitored loss did not improve by more than
    ``min_delta`` relative to the loss of the last epoch that did (0: any improvement counts).

    Only what counts as progress changes with ``min_delta``: the best weights are still those
    of the lowest loss, and they are restored at the end.
    """

    def __init__(self, patience: int, min_delta: float = 0.0) -> None:
        self.patience, self.min_delta = patience, min_delta

    def on_epoch_end(self, state: LoopState, record: EpochRecord) -> None:
        if state.monitor < state.reference_loss * (1.0 - self.min_delta):
            state.reference_loss, state.bad_epochs = state.monitor, 0
        else:
            state.bad_epochs += 1
        if self.patience and state.bad_epochs >= self.patience:
            result = state.result
            gain = f" by more than {100 * self.min_delta:.3g}%" if self.min_delta else ""
            state.request_stop("early_stopping", f"early stopping at epoch {record.epoch}: no improvement{gain} "
                               f"for {self.patience} epochs; restoring epoch {result.best_epoch} "
                               f"(loss {result.best_loss:.5g})")


class TimeBudget(Callback):
    """Stop when ``seconds`` of training (resumed runs count their earlier time) have passed,
    checked after every batch: a long epoch is cut short and validated as it stands."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def on_batch_end(self, state: LoopState) -> None:
        if state.stop_requested is None and state.elapsed >= self.seconds:
            state.request_stop("time_budget", f"time budget of {self.seconds:.0f}s reached during epoch "
                               f"{state.epoch + 1} (after {state.batches_done} batches): the epoch ends "
                               "there and the best epoch's weights are restored")

    def on_epoch_end(self, state: LoopState, record: EpochRecord) -> None:
        if state.stop_requested is None and state.elapsed >= self.seconds:
            state.request_stop("time_budget", f"time budget of {self.seconds:.0f}s reached after epoch "
                               f"{record.epoch}; restoring epoch {state.result.best_epoch}")


class Checkpointing(Callback):
    """Save the loop state to ``path`` every ``every`` epochs, every ``seconds`` seconds, and
    when training stops (see :func:`lstmcast.training.checkpoint.save_checkpoint`)."""

    def __init__(self, path: Path, every: int = 1, seconds: float = 0.0) -> None:
        self.path, self.every, self.seconds = path, every, seconds
        self.last = time.perf_counter()

    def on_epoch_end(self, state: LoopState, record: EpochRecord) -> None:
        from lstmcast.training.checkpoint import save_checkpoint

        due = (self.every and record.epoch % self.every == 0) or state.stop_requested is not None or (
            self.seconds and time.perf_counter() - self.last >= self.seconds)
        if due:
            save_checkpoint(state, self.path)
            self.last = time.perf_counter()


class DivergenceGuard:
    """NaN/Inf in the loss or the gradients: the first time, roll back to the weights and
    optimiser state at the end of the last good epoch and halve (``lr_factor``) the learning
    rate; the second time, raise :class:`TrainingDivergedError`.

    The gradient check reads the global norm that clipping computes anyway (it is finite
    exactly when every gradient is); the last good state lives in preallocated tensors.
    """

    def __init__(self, state: LoopState) -> None:
        self.state = state
        self.last_good = Snapshot([*state.model_tensors, *state.optimizer.state_tensors()])
        self.remember()

    def remember(self) -> None:
        self.last_good.save()
        self.steps, self.lr = self.state.optimizer.steps, self.state.optimizer.lr

    def diverged(self, what: str, epoch: int, batch_no: int) -> None:
        state, config = self.state, self.state.config
        state.divergences += 1
        where = f"epoch {epoch}, batch {batch_no}"
        self.last_good.restore()
        state.optimizer.steps = self.steps
        if state.divergences > 1:
            raise TrainingDivergedError(
                f"Training diverged again: the {what} became NaN/Inf at {where}, after the "
                "learning rate had already been lowered once. Lower train.learning_rate, keep "
                "train.grad_clip on, or check the data for extreme values."
            )
        state.optimizer.lr = max(self.lr * config.lr_factor, config.min_lr)
        state.event(f"NaN/Inf {what} at {where}: rolled back to the last good weights and "
                    f"lowered the learning rate to {state.optimizer.lr:.3g}")
