"""TensorBoard logging of the fit loop through ``torch.utils.tensorboard`` (extra: tensorboard)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lstmcast.errors import require
from lstmcast.training.loop import Callback


class TensorBoardLogger(Callback):
    """Writes train/validation loss, learning rate, gradient norm and clipped fraction per epoch."""

    def __init__(self, logdir: str | Path) -> None:
        require("tensorboard", "tensorboard")
        from torch.utils.tensorboard import SummaryWriter

        self.writer = SummaryWriter(log_dir=str(logdir))

    def on_epoch_end(self, state: Any, record: Any) -> None:
        w, e = self.writer, record.epoch
        w.add_scalar("loss/train", record.train_loss, e)
        if record.val_loss is not None:
            w.add_scalar("loss/val", record.val_loss, e)
        w.add_scalar("lr", record.learning_rate, e)
        w.add_scalar("grad_norm/pre_clip", record.grad_norm, e)
        w.add_scalar("grad_norm/clipped_fraction", record.clipped_fraction, e)

    def on_event(self, state: Any, message: str) -> None:
        self.writer.add_text("events", message, state.epoch)

    def on_fit_end(self, state: Any, result: Any) -> None:
        self.writer.flush()
        self.writer.close()
