"""Resumable checkpoints of the fit loop, saved and loaded here and nowhere else.

A checkpoint is one ``torch.save`` file of tensors, numbers, strings and lists (no pickled
objects), written atomically and read with ``torch.load(weights_only=True)``. It holds the
model, the optimiser moments, the plateau schedule, both random number generators, the best
weights so far, the history and the elapsed time: resuming continues the exact run.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from lstmcast._json import atomic_path
from lstmcast.errors import ModelFileError

if TYPE_CHECKING:
    from lstmcast.training.loop import LoopState


def save_checkpoint(state: LoopState, path: Path) -> None:
    """Write the loop state atomically (temp file + rename); loadable with weights_only=True."""
    with atomic_path(path, durable=False) as tmp:  # every epoch: no fsync on the hot path
        torch.save(state.to_checkpoint(), tmp)


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Read a checkpoint written by :func:`save_checkpoint` (never unpickles objects)."""
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"Checkpoint {path} does not exist; nothing to resume.")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if "weights_only" in first or "Weights only" in first:  # never relay the advice to unpickle
            first = "it holds objects other than tensors and plain values"
        raise ModelFileError(f"Checkpoint {path} cannot be read ({first[:200]}); it is damaged or not a "
                             "checkpoint of this project. Start a fresh run.") from exc
    if not isinstance(state, dict) or "model" not in state or not isinstance(state.get("epoch"), int) \
            or isinstance(state.get("epoch"), bool):
        raise ModelFileError(f"Checkpoint {path} lacks the model state or an integer epoch; it is damaged or not "
                             "a checkpoint of this project. Start a fresh run.")
    return state
