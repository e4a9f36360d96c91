"""Data-parallel training with PyTorch DistributedDataParallel (DDP), launched by ``torchrun``.

    torchrun --standalone --nproc-per-node 2 -m lstmcast.cli train --distributed --data x.csv --out m

Each process (rank) builds the same windows (views over one array, so nothing is copied) and
walks the same shuffled order of them, epoch by epoch; from every *global* batch of
``train.batch_size`` windows it gathers only its own share (``batch_size / world_size``
windows, the last rank's share one smaller when the batch does not divide evenly). DDP
averages the gradients, and each rank's loss is weighted by its share of the batch, so one
optimiser step is the step a single process takes on the whole batch: the same
``train.batch_size`` gives the same training, only faster. Losses, window counts and stop flags
are summed over the ranks (the fit loop's ``sync``), so early stopping, learning-rate decay and
time budgets decide the same way everywhere. Only rank 0 writes checkpoints and the model
directory, and prints.

With series-sharded data (``DistributedContext.sharded``: each rank read only its own series,
:mod:`lstmcast.data.dataset`), each rank instead walks its *own* windows (:class:`LocalShards`,
DistributedSampler semantics): a local batch of ``batch_size / world_size`` windows, and one
agreed number of steps per epoch (that of the rank with the most windows; the others wrap around
their shuffled windows). Equivalence to one process is then statistical, not bitwise: the
global batches are drawn differently. Validation losses and stop flags are still summed over
the ranks, so every rank takes the same decisions; :meth:`DistributedContext.lengths` and
:meth:`DistributedContext.gather` let the caller agree on everything that depends on all series.

Backends: NCCL when the processes train on CUDA (each on ``cuda:LOCAL_RANK``), gloo on CPU.
The fit loop stays model-agnostic: it receives a loss function, batch sources and ``sync``.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, NamedTuple

import torch
import torch.distributed as dist
from torch import nn

from lstmcast.errors import ConfigError, DataError
from lstmcast.training.batches import TensorBatches, epoch_order

TORCHRUN_ENV = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")
LAUNCH_HINT = "torchrun --standalone --nproc-per-node 2 -m lstmcast.cli train --distributed ..."

Batch = tuple[Any, ...]
LossFn = Callable[[Batch], torch.Tensor]
Sync = Callable[[list[float]], list[float]]


@dataclass(frozen=True)
class Share:
    """The last element of a sharded batch: this rank's share of the global batch
    (``weight = n_local * world_size / n_global``), and a stand-in window for a rank whose
    share is empty (it must still join the gradient all-reduce)."""

    weight: float
    stand_in: Batch | None = None


class ShardedBatches:
    """This rank's shares of the global batches of ``source``.

    ``iterate`` draws the same permutation as :class:`TensorBatches` (same generator, same
    seed on every rank; the same sample of windows when the source sets ``per_epoch``), cuts
    it into global batches of ``batch_size`` and yields ``(*local_batch, Share)``, the local
    batch holding this rank's contiguous slice. ``len`` is the global number of windows, equal
    on every rank.
    """

    def __init__(self, source: TensorBatches, rank: int, world_size: int) -> None:
        if not 0 <= rank < world_size:
            raise ValueError(f"rank must be in [0, {world_size}); got {rank}.")
        self.source, self.rank, self.world_size = source, rank, world_size

    def __len__(self) -> int:
        return len(self.source)

    @property
    def available(self) -> int:
        return getattr(self.source, "available", len(self.source))

    def capped(self, cap: int) -> ShardedBatches:
        """Shards of the source's fixed sample of ``cap`` windows (the same on every rank)."""
        return ShardedBatches(self.source.capped(cap), self.rank, self.world_size)

    def iterate(self, batch_size: int, generator: torch.Generator | None = None) -> Iterator[Batch]:
        order = self.source.order(generator)  # the order a single process walks (batches.epoch_order)
        for start in range(0, len(order), batch_size):
            chunk = order[start : start + batch_size]
            mine = torch.tensor_split(chunk, self.world_size)[self.rank]
            if len(mine):
                yield (*self.source.gather(mine), Share(len(mine) * self.world_size / len(chunk)))
            else:  # fewer windows than ranks: keep the shapes, contribute nothing
                stand_in = self.source.gather(chunk[:1])
                empty = tuple(t[:0] if isinstance(t, torch.Tensor) else t for t in stand_in)
                yield (*empty, Share(0.0, stand_in))


class LocalShards:
    """Batches of this rank's own windows (series-sharded data), in an epoch of as many steps
    as every other rank takes.

    ``counts`` holds every rank's window count (the same list on every rank). A shuffled pass
    draws ``steps`` local batches of ``max(1, round(batch_size / world))`` windows from a fresh
    permutation of the local windows, repeating it when this rank holds fewer windows than the
    pass needs (as ``DistributedSampler`` pads), cut to ``ceil(per_epoch / world)`` windows when
    the source samples ``per_epoch`` windows a pass. Evaluation (no generator) walks the local
    windows once, in order. ``len`` is the global number of windows.
    """

    def __init__(self, source: TensorBatches, counts: list[int], gather_counts: Callable[[int], list[int]]) -> None:
        self.source, self.counts, self._gather_counts = source, counts, gather_counts
        self.world_size = len(counts)

    def __len__(self) -> int:
        return sum(self.counts)

    @property
    def available(self) -> int:
        return sum(self.counts)

    def capped(self, cap: int) -> LocalShards:
        """At most ``cap`` windows over all ranks: each rank keeps its proportional share of a
        fixed, evenly spread sample (every rank must call this: the new counts are gathered)."""
        if cap <= 0 or cap >= len(self):
            return self
        share = math.ceil(cap * len(self.source) / len(self))
        source = self.source.capped(share)
        return LocalShards(source, self._gather_counts(len(source)), self._gather_counts)

    def local_batch(self, batch_size: int) -> int:
        return max(1, round(batch_size / self.world_size))

    def steps(self, batch_size: int) -> int:
        """Optimizer steps per pass, equal on every rank."""
        per_epoch = getattr(self.source, "per_epoch", 0)
        cap = math.ceil(per_epoch / self.world_size) if per_epoch else max(self.counts)
        return math.ceil(min(max(self.counts), cap) / self.local_batch(batch_size))

    def iterate(self, batch_size: int, generator: torch.Generator | None = None) -> Iterator[Batch]:
        if generator is None:  # evaluation: every local window once
            yield from self.source.iterate(batch_size)
            return
        n, size = len(self.source), self.local_batch(batch_size)
        need = self.steps(batch_size) * size
        order = torch.cat([epoch_order(n, generator) for _ in range(math.ceil(need / n))])[:need]
        subset = getattr(self.source, "subset", None)
        order = (subset[order] if subset is not None else order).to(self.source.device)
        for start in range(0, need, size):
            yield self.source.gather(order[start : start + size])


class _LossModule(nn.Module):
    """Lets DDP see the model's parameters while the loss stays whatever ``loss_fn`` computes."""

    def __init__(self, model: nn.Module, loss_fn: LossFn) -> None:
        super().__init__()
        self.model = model
        self.loss_fn = loss_fn

    def forward(self, *batch: Any) -> torch.Tensor:
        return self.loss_fn(batch)


class DistributedFit(NamedTuple):
    """What :meth:`DistributedContext.prepare` hands the fit loop in place of the plain pieces."""

    loss_fn: LossFn
    train: ShardedBatches | LocalShards
    val: ShardedBatches | LocalShards | None
    sync: Sync


@dataclass
class DistributedContext:
    """One process of a torchrun job: its rank, the world size, backend and device."""

    rank: int
    world_size: int
    local_rank: int
    backend: str
    device: torch.device
    sharded: bool = False  # each rank holds only its own series (see LocalShards)

    @property
    def is_main(self) -> bool:
        """Rank 0: the process that writes files and prints."""
        return self.rank == 0

    def sync(self, values: list[float]) -> list[float]:
        """Sum ``values`` over all ranks (in float64); every rank gets the same result."""
        tensor = torch.tensor(values, dtype=torch.float64, device=self.device)
        dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
        return tensor.tolist()

    def gather(self, obj: Any) -> list[Any]:
        """Every rank's ``obj`` (a small picklable value), in rank order, on every rank."""
        out: list[Any] = [None] * self.world_size
        dist.all_gather_object(out, obj)
        return out

    def lengths(self, local: list[int]) -> list[int]:
        """The series lengths the defaults are computed from: every rank's with sharded data
        (so every rank builds the same network), else the local ones (each rank holds all)."""
        return [n for part in self.gather(local) for n in part] if self.sharded else local

    def merge(self, forecaster: Any) -> None:
        """After a fit on sharded data: every rank's per-series state in ``forecaster``
        (:func:`lstmcast.training.sharded.merge_fit`); nothing to do otherwise."""
        if self.sharded:
            from lstmcast.training.sharded import merge_fit

            merge_fit(forecaster, self)

    def _local_shards(self, model: nn.Module, loss_fn: LossFn, train: TensorBatches,
                      val: TensorBatches | None) -> DistributedFit:
        counts = self.gather((len(train), len(val) if val is not None else 0))
        if min(c[0] for c in counts) == 0:
            empty = [r for r, c in enumerate(counts) if c[0] == 0]
            raise DataError(f"Process(es) {empty} of {self.world_size} hold no training window of their share of "
                            "the series; use fewer processes or longer series.")
        ids = [self.device.index if self.device.index is not None else self.local_rank] \
            if self.device.type == "cuda" else None
        ddp = nn.parallel.DistributedDataParallel(_LossModule(model, loss_fn), device_ids=ids)

        def local_loss(batch: Batch) -> torch.Tensor:
            return ddp(*batch) if torch.is_grad_enabled() else loss_fn(batch)

        def gather_counts(n: int) -> list[int]:
            return [int(c) for c in self.gather(n)]

        val_shards = None
        if sum(c[1] for c in counts):  # some rank validates: all take part in the sums
            local_val = val if val is not None else TensorBatches(0, lambda index: (), train.device)
            val_shards = LocalShards(local_val, [c[1] for c in counts], gather_counts)
        return DistributedFit(local_loss, LocalShards(train, [c[0] for c in counts], gather_counts),
                              val_shards, self.sync)

    def prepare(self, model: nn.Module, loss_fn: LossFn, train: TensorBatches,
                val: TensorBatches | None) -> DistributedFit:
        """Wrap ``model`` in DDP and shard the batch sources.

        The returned loss has the value of this rank's mean loss (so the loop's running totals
        stay sums of window losses) and the gradient of ``weight *`` that loss, so DDP's
        average over ranks is the gradient of the mean over the whole global batch. With
        sharded data each rank walks its own windows instead (:class:`LocalShards`).
        """
        if self.sharded:
            return self._local_shards(model, loss_fn, train, val)
        ids = [self.device.index if self.device.index is not None else self.local_rank] \
            if self.device.type == "cuda" else None
        ddp = nn.parallel.DistributedDataParallel(_LossModule(model, loss_fn), device_ids=ids)

        def sharded_loss(batch: Batch) -> torch.Tensor:
            *inner, share = batch
            if not torch.is_grad_enabled():  # evaluation: no gradients to synchronise
                if share.stand_in is not None:
                    return torch.zeros((), device=self.device)
                return loss_fn(tuple(inner))
            if share.stand_in is not None:
                return ddp(*share.stand_in) * 0.0
            local = ddp(*inner)
            return local * share.weight + (local * (1.0 - share.weight)).detach()

        return DistributedFit(
            sharded_loss, ShardedBatches(train, self.rank, self.world_size),
            ShardedBatches(val, self.rank, self.world_size) if val is not None else None, self.sync,
        )

    def barrier(self) -> None:
        dist.barrier()

    def close(self) -> None:
        if dist.is_initialized():
            import gc

            gc.collect()  # the DDP wrappers and their reducers go while their process group lives
            dist.destroy_process_group()

    def __enter__(self) -> DistributedContext:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def init_distributed(device: str = "auto", timeout: float = 600.0) -> DistributedContext:
    """Join the process group that ``torchrun`` set up (its RANK, WORLD_SIZE, LOCAL_RANK,
    MASTER_ADDR and MASTER_PORT environment variables), or use the process group a launcher
    has already initialised (Ray Train, Spark's TorchDistributor).

    ``device`` is the config's ``train.device``: ``auto`` or ``cuda`` use NCCL with one GPU per
    process (``cuda:LOCAL_RANK``) when CUDA is present; ``cpu`` (or no CUDA) uses gloo.
    """
    if dist.is_initialized():  # a launcher set the group up already (Ray Train, TorchDistributor)
        local = int(os.environ.get("LOCAL_RANK", "0"))
        cuda = dist.get_backend() == "nccl"  # the launcher has chosen this process's GPU
        where = torch.device("cuda", torch.cuda.current_device()) if cuda else torch.device("cpu")
        return DistributedContext(dist.get_rank(), dist.get_world_size(), local, str(dist.get_backend()), where)
    missing = [name for name in TORCHRUN_ENV if name not in os.environ]
    if missing:
        raise ConfigError(
            f"--distributed training needs the environment torchrun sets up (missing {', '.join(missing)}). "
            f"Launch it with: {LAUNCH_HINT}"
        )
    try:
        rank, world, local = (int(os.environ[k]) for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK"))
    except ValueError:
        raise ConfigError(
            f"RANK, WORLD_SIZE and LOCAL_RANK must be integers; got {os.environ['RANK']!r}, "
            f"{os.environ['WORLD_SIZE']!r}, {os.environ['LOCAL_RANK']!r}. Launch with: {LAUNCH_HINT}"
        ) from None
    if device not in ("auto", "cpu", "cuda"):
        raise ConfigError(
            f"With --distributed each process picks its own device (cuda:LOCAL_RANK or cpu); "
            f"train.device must be auto, cuda or cpu, got {device!r}."
        )
    if device == "cuda" and not torch.cuda.is_available():
        raise ConfigError("train.device=cuda was asked for, but CUDA is not available here; use --device cpu.")
    use_cuda = device != "cpu" and torch.cuda.is_available()
    if use_cuda:
        if local >= torch.cuda.device_count():
            raise ConfigError(
                f"Process with LOCAL_RANK {local} has no GPU of its own: this machine has "
                f"{torch.cuda.device_count()}. Use --nproc-per-node {torch.cuda.device_count()} or --device cpu."
            )
        torch.cuda.set_device(local)  # "cuda" now means this process's GPU
        where = torch.device("cuda", local)
    else:
        where = torch.device("cpu")
    backend = "nccl" if use_cuda else "gloo"
    dist.init_process_group(backend, timeout=timedelta(seconds=timeout))
    return DistributedContext(rank, world, local, backend, where)


def launched() -> bool:
    """Inside a job of several processes: a process group exists already, or the launcher's
    environment says ``WORLD_SIZE`` > 1 (torchrun, TorchDistributor)."""
    if dist.is_available() and dist.is_initialized():
        return True
    try:
        return int(os.environ.get("WORLD_SIZE", "1")) > 1
    except ValueError:
        return False
