"""Batch sources for the fit loop: one window source, one epoch order.

Windows are gathered by indexing tensors that already live on the device (no DataLoader: it
costs 1.1-1.4x on this path). :func:`epoch_order` is the one place where the order of a pass
is drawn; :class:`TensorBatches` and the sharded iteration of
:mod:`lstmcast.training.distributed` both walk it, so a sharded run sees exactly the windows a
single process would.

Symbols: N windows in a source, B batch, L input_length, H horizon, C channels, T targets,
Kf known-future covariates.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import torch

Batch = tuple[Any, ...]


def epoch_order(n: int, generator: torch.Generator | None = None, per_epoch: int = 0) -> torch.Tensor:
    """Window numbers [n'] of one pass over ``n`` windows.

    With a ``generator``: a fresh random permutation, cut to its first ``per_epoch`` windows
    when ``0 < per_epoch < n`` (a new random sample every pass). Without one (evaluation):
    every window in order.
    """
    if generator is None:
        return torch.arange(n)
    order = torch.randperm(n, generator=generator)
    return order[:per_epoch] if 0 < per_epoch < n else order


def fixed_sample(n: int, cap: int) -> torch.Tensor:
    """``cap`` window numbers spread evenly over ``0..n-1`` (all of them when ``cap >= n``).

    Evenly spaced rather than random: windows are laid out series by series, so the sample
    keeps every series' share, and it is the same sample on every call (so losses of
    different epochs stay comparable)."""
    if cap <= 0 or cap >= n:
        return torch.arange(n)
    return torch.from_numpy(np.unique(np.linspace(0, n - 1, cap).round().astype(np.int64)))


class TensorBatches:
    """Batches gathered by indexing tensors that already live on the device.

    ``gather(indices)`` turns a LongTensor of window numbers into the batch tuple; the source
    holds ``n_windows`` windows. ``per_epoch > 0``: each shuffled pass draws a fresh random
    sample of that many windows (``train.epoch_windows``). ``subset``: the source serves only
    these window numbers (see :meth:`capped`); ``len`` counts what it serves.
    """

    def __init__(self, n_windows: int, gather: Callable[[torch.Tensor], Batch],
                 device: torch.device, per_epoch: int = 0, subset: torch.Tensor | None = None) -> None:
        self.n_windows, self.gather, self.device = n_windows, gather, device
        self.per_epoch = per_epoch
        self.subset = subset

    def __len__(self) -> int:
        return self.n_windows if self.subset is None else len(self.subset)

    @property
    def available(self) -> int:
        """Windows the underlying data holds (before any cap)."""
        return self.n_windows

    def capped(self, cap: int) -> TensorBatches:
        """The same source limited to a fixed, evenly spread sample of ``cap`` windows
        (itself when it holds no more than that, or ``cap`` is 0)."""
        if cap <= 0 or cap >= len(self):
            return self
        base = torch.arange(self.n_windows) if self.subset is None else self.subset
        return TensorBatches(self.n_windows, self.gather, self.device, self.per_epoch,
                             base[fixed_sample(len(base), cap)])

    def order(self, generator: torch.Generator | None = None) -> torch.Tensor:
        """Window numbers of one pass (see :func:`epoch_order`), on the device."""
        order = epoch_order(len(self), generator, self.per_epoch)
        if self.subset is not None:
            order = self.subset[order]
        return order.to(self.device)

    def iterate(self, batch_size: int, generator: torch.Generator | None = None) -> Iterator[Batch]:
        order = self.order(generator)
        for start in range(0, len(order), batch_size):
            yield self.gather(order[start : start + batch_size])


def window_batches(values: torch.Tensor, starts: np.ndarray, input_length: int, horizon: int,
                   n_targets: int, n_future: int, device: torch.device) -> TensorBatches:
    """Batches of (x [B, L, C], future [B, H, Kf] | None, y [B, H, T]) gathered from one
    ``unfold`` view of the series tensor ``values`` [T_total, C]: only the batch is ever copied.

    ``starts`` are the rows of each window's first target step (its input is the L rows
    before); channels are ordered targets first, known-future covariates last.
    """
    L, H = input_length, horizon
    windows = values.unfold(0, L + H, 1)  # [T_total - L - H + 1, C, L + H], a view
    rows = torch.as_tensor(np.asarray(starts) - L, dtype=torch.long, device=device)

    def gather(index: torch.Tensor) -> Batch:
        w = windows[rows[index]].transpose(1, 2)  # [B, C, L + H] -> [B, L + H, C]
        x = w[:, :L].contiguous()  # contiguous float32 keeps nn.LSTM on its fast kernel
        future = w[:, L:, -n_future:].contiguous() if n_future else None
        return x, future, w[:, L:, :n_targets]

    return TensorBatches(len(rows), gather, device)
