"""Train and forecast from a Parquet dataset of many series, in one process or in many.

    train_from_dataset("data/", config, "models/shops")     # Forecaster, fitted on every series
    predict_dataset("models/shops", "data/", "fc.csv")       # forecasts of every series, one CSV

Both are the ``fit`` / ``predict`` entry points a launcher calls in every worker: ``torchrun``
(one or many machines), Ray Train's ``TorchTrainer(train_loop_per_worker=...)`` or Spark's
``TorchDistributor(...).run(...)``. Inside such a job (a process group already set up, or
``WORLD_SIZE`` > 1 in the environment) each process reads only its share of the series
(:mod:`lstmcast.data.dataset`), fits their scalers and trains on their windows
(:class:`lstmcast.training.distributed.LocalShards`); the network is trained data-parallel and
rank 0 writes one model whose scalers cover every series. Alone, a process reads the whole
dataset and trains as ``Forecaster.fit`` does.
"""

from __future__ import annotations

import dataclasses
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lstmcast._json import atomic_path
from lstmcast.config import ForecastConfig
from lstmcast.data.dataset import load_shard, open_dataset
from lstmcast.errors import ConfigError

if TYPE_CHECKING:
    import pandas as pd

    from lstmcast.forecaster import Forecaster
    from lstmcast.training.distributed import DistributedContext


def _join(device: str, distributed: bool | None = None) -> tuple[DistributedContext | None, bool]:
    """This process's place in a job (None alone) and whether we set the group up (and close it).
    ``distributed`` None: inside a job when a launcher started this process."""
    import torch.distributed as dist

    from lstmcast.training.distributed import init_distributed, launched

    if not (launched() if distributed is None else distributed):
        return None, False
    owned = not dist.is_initialized()
    return init_distributed(device), owned


def train_from_dataset(path: str | Path, config: ForecastConfig, out: str | Path | None = None, *,
                       callbacks: Sequence[Any] = ()) -> Forecaster:
    """Fit ``config`` on the dataset directory ``path``; rank 0 (or the one process) saves the
    model directory to ``out`` when given. Every process returns the same fitted forecaster."""
    from lstmcast.forecaster import Forecaster
    from lstmcast.training.sharded import check_sharded_config, merge_fit

    ctx, owned = _join(config.train.device)
    try:
        if ctx is not None:
            check_sharded_config(config)
            ctx.sharded = True
        frame, data = load_shard(path, config.data, *((ctx.rank, ctx.world_size) if ctx else (0, 1)))
        config = dataclasses.replace(config, data=data)
        forecaster = Forecaster(config).fit(frame, callbacks=callbacks, source=str(path), distributed=ctx)
        if ctx is not None:
            merge_fit(forecaster, ctx)
        if out is not None and (ctx is None or ctx.is_main):
            forecaster.save(out)
        if ctx is not None:
            ctx.barrier()  # the model directory is there when any process returns
    finally:
        if ctx is not None and owned:
            ctx.close()
    return forecaster


def predict_dataset(model: str | Path | Forecaster, path: str | Path, out: str | Path | None = None, *,
                    horizon: int | None = None, future: pd.DataFrame | None = None, device: str | None = None,
                    frame_hook: Any = None, distributed: bool | None = None) -> Any:
    """Forecast every series of the dataset directory ``path`` with the model directory ``model``.

    Alone: returns the :class:`~lstmcast.forecast.Forecast` (written to the CSV ``out`` when
    given). In a job: each process forecasts its share of the series into ``OUT.parts/part-RANK.csv``;
    rank 0 then concatenates the parts, in rank order, into ``out`` (atomically) and removes
    them. Every process returns its own share's forecast. ``model`` may be a fitted forecaster;
    ``frame_hook(frame)`` may rename columns of the rows read (the CLI's --series-col /
    --time-col); ``distributed`` None detects a launcher, False forecasts every series here.
    """
    from lstmcast.forecaster import Forecaster

    forecaster = model if isinstance(model, Forecaster) else Forecaster.load(model, device=device)
    ctx, owned = _join("cpu", distributed)  # the group only synchronises the writes
    try:
        if ctx is not None and out is None:
            raise ConfigError("Forecasting a dataset from several processes writes one CSV: give out (--out FILE).")
        opened = open_dataset(path, forecaster.config_.data.series_col)
        frame = opened.read(opened.shard(ctx.rank, ctx.world_size) if ctx is not None else None,
                            forecaster.config_.data.time_col)
        if frame_hook is not None:
            frame = frame_hook(frame)
        forecast = forecaster.predict(frame, future=future, source=str(path), horizon=horizon)
        if ctx is None or out is None:
            if out is not None:
                forecast.to_csv(out)
            return forecast
        parts = Path(str(out) + ".parts")
        forecast.to_csv(parts / f"part-{ctx.rank:05d}.csv")
        ctx.barrier()
        if ctx.is_main:
            concat_csv([parts / f"part-{r:05d}.csv" for r in range(ctx.world_size)], Path(out))
            shutil.rmtree(parts, ignore_errors=True)
        ctx.barrier()
        return forecast
    finally:
        if ctx is not None and owned:
            ctx.close()


def concat_csv(parts: Sequence[Path], out: Path) -> Path:
    """Concatenate CSV files with the same header into ``out``, atomically (temp file + rename)."""
    with atomic_path(out) as tmp, open(tmp, "w", encoding="utf-8", newline="") as sink:
        for number, part in enumerate(parts):
            with open(part, encoding="utf-8", newline="") as source:
                header = source.readline()
                if number == 0:
                    sink.write(header)
                shutil.copyfileobj(source, sink)
    return out
