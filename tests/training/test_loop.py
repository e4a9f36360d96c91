"""The fit loop: early stopping, plateau LR, divergence guard, clipping, budgets, checkpoints."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from torch import nn

from lstmcast.config import TrainConfig
from lstmcast.training import Callback, TensorBatches, TrainingDivergedError, fit_loop
from lstmcast.training.loop import save_checkpoint
from tests.conftest import dated_frame


def regression(n=256, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 4, generator=g)
    y = x @ torch.tensor([1.0, -2.0, 0.5, 3.0]) + 0.1 * torch.randn(n, generator=g)
    return x, y


def batches(x, y):
    return TensorBatches(len(x), lambda i: (x[i], y[i]), torch.device("cpu"))


def make(seed=0):
    torch.manual_seed(seed)
    model = nn.Linear(4, 1)
    x, y = regression()
    xv, yv = regression(64, seed=1)

    def loss_fn(batch):
        return nn.functional.mse_loss(model(batch[0]).squeeze(-1), batch[1])

    return model, loss_fn, batches(x, y), batches(xv, yv)


class Snapshots(Callback):
    def __init__(self):
        self.weights = {}

    def on_epoch_end(self, state, record):
        self.weights[record.epoch] = {k: v.clone() for k, v in state.model.state_dict().items()}


def test_early_stopping_restores_the_best_epoch_exactly():
    model, loss_fn, train, val = make()
    snaps = Snapshots()
    # a learning rate this large makes validation loss bounce, so the best epoch is not the last
    config = TrainConfig(max_epochs=40, learning_rate=0.5, patience=3, lr_patience=100, grad_clip=0)
    result = fit_loop(model, loss_fn, train, val, config, [snaps])
    assert result.stop_reason == "early_stopping"
    assert result.best_epoch == len(result.history) - 3
    best = snaps.weights[result.best_epoch]
    for name, value in model.state_dict().items():
        assert torch.equal(value, best[name]), name
    assert any("early stopping" in e for e in result.events)


def test_plateau_lowers_the_learning_rate():
    model, loss_fn, train, val = make()
    config = TrainConfig(max_epochs=30, learning_rate=0.5, lr_patience=1, patience=0, lr_factor=0.5, min_lr=1e-4)
    result = fit_loop(model, loss_fn, train, val, config)
    lrs = [r.learning_rate for r in result.history]
    assert lrs[0] == 0.5 and min(lrs) < 0.5 and lrs == sorted(lrs, reverse=True)
    assert any("plateaued" in e for e in result.events)


def test_a_planted_nan_rolls_back_and_lowers_the_lr_once():
    model, loss_fn, train, val = make()
    calls = {"n": 0}

    def poisoned(batch):
        calls["n"] += 1
        loss = loss_fn(batch)
        # 8 training batches and 1 validation batch an epoch: call 11 is epoch 2, batch 2
        return loss * float("nan") if calls["n"] == 11 else loss

    config = TrainConfig(max_epochs=4, batch_size=32, learning_rate=0.01, patience=0)
    result = fit_loop(model, poisoned, train, val, config)
    assert len(result.history) == 4
    assert result.history[-1].learning_rate == pytest.approx(0.005)
    assert any("NaN/Inf loss at epoch 2, batch 2" in e for e in result.events)
    assert all(torch.isfinite(p).all() for p in model.parameters())


def test_a_second_divergence_stops_with_a_clear_message():
    model, loss_fn, train, val = make()
    calls = {"n": 0}

    def poisoned(batch):
        calls["n"] += 1
        loss = loss_fn(batch)
        return loss * float("inf") if calls["n"] in (3, 13) else loss

    with pytest.raises(TrainingDivergedError, match=r"diverged again: the loss became NaN/Inf at epoch \d+, batch \d+"):
        fit_loop(model, poisoned, train, val, TrainConfig(max_epochs=5, patience=0))


class NanGradient(torch.autograd.Function):
    """Identity forward, NaN backward: a finite loss whose gradients are not."""

    @staticmethod
    def forward(ctx, x):
        return x.clone()

    @staticmethod
    def backward(ctx, grad):
        return grad * float("nan")


def test_nan_gradients_are_caught_too():
    model, loss_fn, train, val = make()
    calls = {"n": 0}

    def finite_loss_nan_grad(batch):
        calls["n"] += 1
        loss = loss_fn(batch)
        return loss + NanGradient.apply(model.weight).sum() * 0 if calls["n"] == 2 else loss

    result = fit_loop(model, finite_loss_nan_grad, train, val, TrainConfig(max_epochs=2, patience=0))
    assert any("NaN/Inf gradients at epoch 1, batch 2" in e for e in result.events)
    assert all(torch.isfinite(p).all() for p in model.parameters())


def test_clipping_by_value_records_the_pre_clip_norm():
    model, loss_fn, train, val = make()
    config = TrainConfig(max_epochs=2, learning_rate=0.01, grad_clip=0.01, clip_mode="value", patience=0)
    result = fit_loop(model, loss_fn, train, val, config)
    assert result.history[0].grad_norm > 0.01  # the recorded norm is before clipping
    model2, loss_fn2, train2, val2 = make()
    by_norm = fit_loop(model2, loss_fn2, train2, val2, TrainConfig(max_epochs=2, grad_clip=0.01, patience=0))
    assert by_norm.history[0].clipped_fraction == 1.0


def test_time_budget_stops_cleanly():
    model, loss_fn, train, val = make()

    class Slow(Callback):
        def on_epoch_end(self, state, record):
            time.sleep(0.05)

    result = fit_loop(model, loss_fn, train, val, TrainConfig(max_epochs=1000, time_budget=0.2, patience=0), [Slow()])
    assert result.stop_reason == "time_budget" and len(result.history) < 20


def test_resume_from_a_checkpoint_matches_an_uninterrupted_run(tmp_path):
    model, loss_fn, train, val = make()
    config = TrainConfig(max_epochs=8, learning_rate=0.05, patience=0, lr_patience=1)
    full = fit_loop(model, loss_fn, train, val, config)
    reference = {k: v.clone() for k, v in model.state_dict().items()}

    class Stop(Callback):
        def on_epoch_end(self, state, record):
            if record.epoch == 3:
                save_checkpoint(state, tmp_path / "ckpt.pt")
                raise KeyboardInterrupt

    model, loss_fn, train, val = make()
    with pytest.raises(KeyboardInterrupt):
        fit_loop(model, loss_fn, train, val, config, [Stop()])
    ckpt = torch.load(tmp_path / "ckpt.pt", weights_only=True)  # no pickled objects inside
    model, loss_fn, train, val = make(seed=123)  # different init: everything comes from the checkpoint
    resumed = fit_loop(model, loss_fn, train, val, config, resume=ckpt)
    assert [r.train_loss for r in resumed.history] == [r.train_loss for r in full.history]
    for name, value in model.state_dict().items():
        assert torch.equal(value, reference[name]), name


@pytest.mark.slow
def test_sigkill_mid_training_then_resume_gives_the_same_weights(tmp_path):
    from safetensors.torch import load_file

    data = tmp_path / "d.csv"
    dated_frame(1500).to_csv(data, index=False)
    common = ["--data", str(data), "--target", "y", "--features", "x1", "--input-length", "48", "--horizon", "4",
              "--set", "model.hidden_size=16", "--set", "train.max_epochs=12", "--set", "train.patience=0", "--quiet"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    cli = [sys.executable, "-m", "lstmcast.cli", "train"]
    ref = subprocess.run([*cli, *common, "--out", str(tmp_path / "ref")], env=env, capture_output=True, timeout=600)
    assert ref.returncode == 0, ref.stderr.decode()

    out = tmp_path / "killed"
    ckpt = tmp_path / "killed.partial" / "checkpoint.pt"
    proc = subprocess.Popen([*cli, *common, "--out", str(out)], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while not ckpt.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the run finished before it could be killed"
    assert not out.exists()  # no half-written model
    epoch = torch.load(ckpt, weights_only=True)["epoch"]
    assert 1 <= epoch < 12

    resumed = subprocess.run([*cli, "--resume", str(out), "--quiet", "--json"], env=env, capture_output=True,
                             timeout=600)
    assert resumed.returncode == 0, resumed.stderr.decode()
    a = load_file(str(tmp_path / "ref" / "weights.safetensors"))
    b = load_file(str(out / "weights.safetensors"))
    assert all(torch.equal(a[k], b[k]) for k in a)
    meta = json.loads((out / "meta.json").read_text())
    assert meta["run"]["resumed"] is True and meta["run"]["epochs"] == 12
    assert not (tmp_path / "killed.partial").exists()


def test_resume_errors(tmp_path, capsys):
    from lstmcast.cli import main

    assert main(["train", "--resume", str(tmp_path / "nothing")]) == 2
    assert "Nothing to resume" in capsys.readouterr().err
    assert main(["train", "--target", "y", "--out", str(tmp_path / "m")]) == 2
    assert "train needs --data FILE" in capsys.readouterr().err


def test_manifest_and_tensorboard(tmp_path, capsys):
    from lstmcast.cli import main

    data = tmp_path / "d.csv"
    dated_frame(200).to_csv(data, index=False)
    code = main(["train", "--data", str(data), "--target", "y", "--input-length", "24", "--set", "train.max_epochs=2",
                 "--set", "model.hidden_size=4", "--out", str(tmp_path / "m"), "--tensorboard", str(tmp_path / "tb"),
                 "--quiet", "--json"])
    assert code == 0
    meta = json.loads((tmp_path / "m" / "meta.json").read_text())
    from lstmcast.data.io import sha256_file

    assert meta["run"]["data_sha256"] == sha256_file(data)
    assert meta["run"]["packages"]["torch"].startswith("2.")
    assert meta["run"]["final_metrics"]["rmse"] > 0
    assert set(meta["ranges"]["__single__"]) == {"train", "val", "test"}
    assert any(Path(tmp_path / "tb").glob("events.out.tfevents.*"))


def test_epoch_windows_samples_a_fresh_subset_each_pass():
    seen = []
    source = TensorBatches(100, lambda i: (i,), torch.device("cpu"), per_epoch=30)
    g = torch.Generator().manual_seed(0)
    for _ in range(2):
        seen.append(torch.cat([b[0] for b in source.iterate(8, g)]))
    assert [len(s) for s in seen] == [30, 30]
    assert len(set(seen[0].tolist())) == 30 and set(seen[0].tolist()) != set(seen[1].tolist())
    assert len(torch.cat([b[0] for b in source.iterate(8)])) == 100  # evaluation always sees every window


def test_bad_checkpoints_are_refused_without_suggesting_to_unpickle(tmp_path):
    import pickle

    from lstmcast.errors import ModelFileError
    from lstmcast.training.checkpoint import load_checkpoint

    planted = tmp_path / "planted.pt"
    torch.save({"model": {}, "epoch": 1, "payload": pickle.loads(pickle.dumps(object))}, planted)
    with pytest.raises(ModelFileError, match="holds objects other than tensors") as info:
        load_checkpoint(planted)
    assert "weights_only" not in str(info.value)
    empty = tmp_path / "empty.pt"
    torch.save({}, empty)
    with pytest.raises(ModelFileError, match="lacks the model state or an integer epoch"):
        load_checkpoint(empty)
    torch.save({"model": {}, "epoch": "7"}, empty)
    with pytest.raises(ModelFileError, match="integer epoch"):
        load_checkpoint(empty)
