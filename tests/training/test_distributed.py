"""Data-parallel training: sharding of global batches, the torchrun environment, and 2 CPU
processes (gloo) reproducing single-process training with the same global batch."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import torch

from lstmcast import Forecaster
from lstmcast.data.synthetic import noisy_sine
from lstmcast.errors import ConfigError
from lstmcast.training.distributed import ShardedBatches, Share, init_distributed
from lstmcast.training.loop import TensorBatches
from tests.conftest import tiny_config

REPO = Path(__file__).resolve().parents[2]


def numbered_source(n: int) -> TensorBatches:
    """Window k is (x=[k], future=None, y=[k])."""
    data = torch.arange(n, dtype=torch.float32)
    return TensorBatches(n, lambda idx: (data[idx], None, data[idx]), torch.device("cpu"))


@pytest.mark.parametrize(("n", "batch_size", "world"), [(10, 4, 2), (11, 5, 3), (9, 4, 2), (5, 8, 2), (3, 3, 4)])
def test_shards_partition_every_global_batch(n, batch_size, world):
    source = numbered_source(n)
    single = list(source.iterate(batch_size, torch.Generator().manual_seed(3)))
    ranks = [list(ShardedBatches(source, r, world).iterate(batch_size, torch.Generator().manual_seed(3)))
             for r in range(world)]
    assert all(len(batches) == len(single) for batches in ranks)  # every rank steps together
    for step, whole in enumerate(single):
        shares = [ranks[r][step] for r in range(world)]
        assert torch.equal(torch.cat([s[0] for s in shares]), whole[0])  # same windows, same order
        assert all(s[1] is None and isinstance(s[-1], Share) for s in shares)
        weights = [s[-1].weight for s in shares]
        assert weights == pytest.approx([len(s[0]) * world / len(whole[0]) for s in shares])
        assert sum(weights) == pytest.approx(world)  # so DDP's mean of gradients is the global mean
        for s in shares:
            assert (s[-1].stand_in is not None) == (len(s[0]) == 0)
    assert len(ShardedBatches(source, 0, world)) == n


def test_shards_follow_a_per_epoch_sample():
    source = numbered_source(10)
    source.per_epoch = 6  # a random sample of 6 windows per shuffled pass
    seen = torch.cat([s[0] for r in range(2)
                      for s in ShardedBatches(source, r, 2).iterate(4, torch.Generator().manual_seed(5))])
    expected = torch.randperm(10, generator=torch.Generator().manual_seed(5))[:6].float()
    assert sorted(seen.tolist()) == sorted(expected.tolist())


def test_distributed_needs_torchrun(monkeypatch):
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ConfigError, match=r"missing RANK, .*torchrun --standalone --nproc-per-node"):
        init_distributed()


def test_distributed_refuses_a_fixed_device(monkeypatch):
    for name, value in (("RANK", "0"), ("WORLD_SIZE", "1"), ("LOCAL_RANK", "0"), ("MASTER_ADDR", "127.0.0.1"),
                        ("MASTER_PORT", "1")):
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=r"train\.device must be auto, cuda or cpu, got 'cuda:1'"):
        init_distributed("cuda:1")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_one_process_group_trains_like_no_group(monkeypatch):
    for name, value in (("RANK", "0"), ("WORLD_SIZE", "1"), ("LOCAL_RANK", "0"), ("MASTER_ADDR", "127.0.0.1"),
                        ("MASTER_PORT", str(_free_port()))):
        monkeypatch.setenv(name, value)
    config = tiny_config(data={"input_length": 13}, train={"batch_size": 49, "device": "cpu"})
    frame = noisy_sine(300, seed=1)
    plain = Forecaster(config).fit(frame).history_
    with init_distributed("cpu") as ctx:
        assert ctx.is_main and ctx.backend == "gloo"
        ddp = Forecaster(config).fit(frame, distributed=ctx).history_
    assert not torch.distributed.is_initialized()
    for a, b in zip(plain.history, ddp.history, strict=True):
        assert b.train_loss == pytest.approx(a.train_loss, rel=1e-5)
        assert b.val_loss == pytest.approx(a.val_loss, rel=1e-5)


@pytest.mark.slow
def test_two_processes_match_single_process_training(tmp_path):
    """torchrun, 2 CPU ranks (gloo): 197 training windows in global batches of 49 -> shares of
    25 and 24, and a last batch of 1 window that leaves rank 1 empty."""
    frame = noisy_sine(300, seed=1)
    frame.to_csv(tmp_path / "sine.csv")
    config = tiny_config(data={"input_length": 13}, train={"batch_size": 49, "max_epochs": 4, "device": "cpu"})
    sets = [f"{k}={v}" for k, v in (("model.hidden_size", 8), ("train.max_epochs", 4), ("train.batch_size", 49),
                                    ("train.patience", 0), ("train.device", "cpu"), ("data.val_fraction", 0.1),
                                    ("data.test_fraction", 0.2), ("data.scaler", "minmax"), ("model.head", "point"),
                                    ("model.normalization", "none"), ("model.patch_length", 0))]
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
           "-m", "lstmcast.cli", "train", "--distributed", "--data", str(tmp_path / "sine.csv"), "--target", "value",
           "--input-length", "13", "--out", str(tmp_path / "model"), "--json", "--quiet"]
    for item in sets:
        cmd += ["--set", item]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, timeout=240,
                          env={**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "src"), str(REPO)])})
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout)  # one JSON object: only rank 0 prints
    assert report["training"]["epochs"] == 4
    ddp = pd.read_csv(tmp_path / "model" / "history.csv")
    single = Forecaster(config).fit(frame).history_
    assert Forecaster.load(tmp_path / "model").meta_["n_windows"]["train"] == 197
    worst = 0.0
    for row, record in zip(ddp.itertuples(), single.history, strict=True):
        for a, b in ((row.train_loss, record.train_loss), (row.val_loss, record.val_loss)):
            worst = max(worst, abs(a - b) / abs(b))
    assert worst < 1e-5, f"largest relative loss difference {worst:.2e}"
    print(f"max relative loss-curve difference, 2 ranks vs 1 process: {worst:.2e}")
