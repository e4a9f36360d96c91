"""A model-agnostic fit loop: it sees parameters, a loss function and batches, nothing else."""

from lstmcast.training.loop import (
    Callback,
    EpochRecord,
    FitResult,
    TensorBatches,
    TrainingDivergedError,
    fit_loop,
)

__all__ = ["Callback", "EpochRecord", "FitResult", "TensorBatches", "TrainingDivergedError", "fit_loop"]
