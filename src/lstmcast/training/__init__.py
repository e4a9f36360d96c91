"""A model-agnostic fit loop: it sees parameters, a loss function and batches, nothing else.

    batches      one window source (window_batches, TensorBatches) and one epoch order
    optim        foreach Adam, clipping that returns the norm, preallocated snapshots
    callbacks    plateau LR, early stopping, time budget, checkpoints, divergence guard
    checkpoint   save_checkpoint / load_checkpoint
    loop         fit_loop -> FitResult
    threads      threads_for(model, train): the measured CPU thread policy
    distributed  torchrun DDP: sharded batches, sync of the loop's decisions
"""

from lstmcast.training.batches import TensorBatches, epoch_order, fixed_sample, window_batches
from lstmcast.training.callbacks import Callback, TrainingDivergedError
from lstmcast.training.checkpoint import load_checkpoint, save_checkpoint
from lstmcast.training.loop import EpochRecord, FitResult, LoopState, fit_loop
from lstmcast.training.threads import threads_for

__all__ = ["Callback", "EpochRecord", "FitResult", "LoopState", "TensorBatches", "TrainingDivergedError",
           "epoch_order", "fit_loop", "fixed_sample", "load_checkpoint", "save_checkpoint", "threads_for",
           "window_batches"]
