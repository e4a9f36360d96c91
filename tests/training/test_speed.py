"""The fast paths of training compute what the slow ones did, and the stopping rules fire:
foreach Adam = torch.optim.Adam, clipping = clip_grad_norm_, the capped validation sample,
relative early stopping, the time budget between batches, the thread policy, the window source."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from lstmcast.config import ModelConfig, TrainConfig
from lstmcast.errors import ConfigError
from lstmcast.training import (
    Callback,
    TensorBatches,
    fit_loop,
    fixed_sample,
    threads_for,
    window_batches,
)
from lstmcast.training.callbacks import plateau_step
from lstmcast.training.optim import Adam, clip_gradients
from tests.training.test_loop import make


def lstm_and_batch(seed=0):
    torch.manual_seed(seed)
    net = nn.LSTM(2, 8, batch_first=True)
    return net, torch.randn(16, 5, 2)


@pytest.mark.parametrize("weight_decay", [0.0, 0.01])
def test_foreach_adam_matches_torch_adam_bit_for_bit(weight_decay):
    ours, x = lstm_and_batch()
    ref, _ = lstm_and_batch()
    opt = Adam(ours.parameters(), lr=0.01, weight_decay=weight_decay)
    ref_opt = torch.optim.Adam(ref.parameters(), lr=0.01, weight_decay=weight_decay)
    for _ in range(5):
        for net, o in ((ours, opt), (ref, ref_opt)):
            o.zero_grad()
            net(x)[0].square().mean().backward()
            o.step()
    for a, b in zip(ours.parameters(), ref.parameters(), strict=True):
        assert torch.equal(a, b)


def test_adam_resumes_from_a_torch_adam_state_dict():
    """Checkpoints written with torch.optim.Adam still resume."""
    ours, x = lstm_and_batch()
    ref, _ = lstm_and_batch()
    ref_opt = torch.optim.Adam(ref.parameters(), lr=0.02)
    for _ in range(3):
        ref_opt.zero_grad()
        ref(x)[0].sum().backward()
        ref_opt.step()
    ours.load_state_dict(ref.state_dict())
    opt = Adam(ours.parameters())
    opt.load_state_dict(ref_opt.state_dict())
    assert opt.steps == 3 and opt.lr == 0.02
    for net, o in ((ours, opt), (ref, ref_opt)):
        o.zero_grad()
        net(x)[0].sum().backward()
        o.step()
    assert all(torch.equal(a, b) for a, b in zip(ours.parameters(), ref.parameters(), strict=True))


@pytest.mark.parametrize("max_norm", [0.0, 1e-3, 1e3])
def test_clipping_matches_clip_grad_norm_and_returns_the_pre_clip_norm(max_norm):
    ours, x = lstm_and_batch()
    ref, _ = lstm_and_batch()
    for net in (ours, ref):
        net(x)[0].sum().backward()
    norm = clip_gradients([p.grad for p in ours.parameters()], max_norm)
    expected = torch.nn.utils.clip_grad_norm_(list(ref.parameters()), max_norm if max_norm else math.inf)
    assert norm == float(expected)
    assert all(torch.equal(a.grad, b.grad) for a, b in zip(ours.parameters(), ref.parameters(), strict=True))


def test_a_nan_gradient_shows_in_the_returned_norm():
    grads = [torch.ones(3), torch.tensor([1.0, float("nan")])]
    assert math.isnan(clip_gradients(grads, 1.0))
    assert math.isinf(clip_gradients([torch.tensor([float("inf")])], 0.0))


def test_plateau_step_follows_reduce_lr_on_plateau():
    param = nn.Parameter(torch.zeros(1))
    torch_opt = torch.optim.SGD([param], lr=1.0)
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(torch_opt, factor=0.5, patience=2)
    best, bad, lr = math.inf, 0, 1.0
    for loss in [1.0, 0.9, 0.95, 0.95, 0.95, 0.89999, 0.8, 0.85, 0.85, 0.85, 0.85, 0.85, 0.85, 0.85]:
        sched.step(loss)
        best, bad, lower = plateau_step(best, bad, loss, patience=2)
        lr = lr * 0.5 if lower else lr
        assert lr == torch_opt.param_groups[0]["lr"]
    assert lr < 1.0


def test_validation_is_a_capped_fixed_sample():
    model, loss_fn, train, _ = make()
    seen = []
    xv = torch.arange(1000, dtype=torch.float32).unsqueeze(1).repeat(1, 4)
    yv = torch.zeros(1000)

    def gather(i):
        seen.append(i.clone())
        return xv[i], yv[i]

    val = TensorBatches(1000, gather, torch.device("cpu"))
    result = fit_loop(model, loss_fn, train, val, TrainConfig(max_epochs=3, patience=0, val_windows=100))
    assert result.val_windows == 100 and result.val_windows_available == 1000
    assert len(seen) == 3 and all(torch.equal(s, seen[0]) for s in seen)  # the same windows every epoch
    assert len(set(seen[0].tolist())) == 100 and seen[0].min() == 0 and seen[0].max() == 999  # spread out
    model, loss_fn, train, _ = make()
    uncapped = fit_loop(model, loss_fn, train, val, TrainConfig(max_epochs=1, patience=0, val_windows=0))
    assert uncapped.val_windows == 1000


def test_fixed_sample_keeps_every_series_share():
    # 10 series of 50 validation windows each, laid out one after the other
    sample = fixed_sample(500, 100).numpy()
    assert len(sample) == 100 and list(np.bincount(sample // 50)) == [10] * 10
    assert torch.equal(fixed_sample(30, 100), torch.arange(30))


def test_relative_min_delta_stops_earlier_but_keeps_the_best_weights():
    model, loss_fn, train, val = make()
    plain = fit_loop(model, loss_fn, train, val, TrainConfig(max_epochs=200, learning_rate=0.01, patience=5))
    model, loss_fn, train, val = make()
    relative = fit_loop(model, loss_fn, train, val,
                        TrainConfig(max_epochs=200, learning_rate=0.01, patience=5, min_delta=0.05))
    assert relative.stop_reason == "early_stopping"
    assert len(relative.history) < len(plain.history)
    assert any("no improvement by more than 5%" in e for e in relative.events)
    # the restored epoch is the lowest loss seen, even when its gain was too small to count
    losses = [r.val_loss for r in relative.history]
    assert relative.best_epoch == 1 + losses.index(min(losses))


def test_min_delta_must_be_a_fraction():
    with pytest.raises(ConfigError, match=r"train.min_delta must be a number in \[0, 1\).*got 5"):
        TrainConfig(min_delta=5)
    with pytest.raises(ConfigError, match="train.val_windows must be an integer >= 0"):
        TrainConfig(val_windows=-1)


def test_time_budget_cuts_a_long_epoch_between_batches():
    model, loss_fn, train, val = make()
    seen = {"state": None, "batches": 0}

    class Grab(Callback):
        def on_fit_start(self, state):
            seen["state"] = state

    def slow_loss(batch):  # each training batch "takes" 10 s of the budget
        if torch.is_grad_enabled():
            seen["state"].elapsed_before += 10.0
            seen["batches"] += 1
        return loss_fn(batch)

    # 8 batches an epoch; a 25 s budget ends epoch 1 after its third batch
    result = fit_loop(model, slow_loss, train, val, TrainConfig(max_epochs=50, time_budget=25, patience=0),
                      [Grab()])
    assert result.stop_reason == "time_budget"
    assert len(result.history) == 1 and seen["batches"] == 3
    assert result.history[0].val_loss is not None  # the cut epoch is still validated
    assert any("during epoch 1 (after 3 batches)" in e for e in result.events)


def test_a_callback_stop_request_between_batches_is_honoured():
    model, loss_fn, train, val = make()

    class StopAfterTwo(Callback):
        def on_batch_end(self, state):
            if state.batches_done == 2:
                state.request_stop("enough", "stopping after two batches")

    result = fit_loop(model, loss_fn, train, val, TrainConfig(max_epochs=5, patience=0), [StopAfterTwo()])
    assert result.stop_reason == "enough" and len(result.history) == 1
    assert result.events.count("stopping after two batches") == 1


def test_thread_policy_is_one_thread_unless_the_step_is_large_and_cores_are_free():
    small, large = ModelConfig(hidden_size=64), ModelConfig(hidden_size=512, num_layers=2)
    train = TrainConfig(batch_size=256)
    assert threads_for(small, TrainConfig(), cores=8, load=0.0) == 1
    assert threads_for(large, train, cores=8, load=0.0) == 4
    assert threads_for(large, train, cores=2, load=0.1) == 1  # under 2 free cores
    assert threads_for(large, train, cores=2, load=3.0) == 1  # a loaded machine
    assert threads_for(large, TrainConfig(batch_size=256, threads=3), cores=2, load=3.0) == 3
    assert threads_for(large, TrainConfig(batch_size=256, deterministic=True), cores=8, load=0.0) == 1


def test_inference_uses_one_thread_for_small_batches_and_restores_the_count(monkeypatch):
    from lstmcast.training.threads import cpu_threads, inference_threads

    small, large = nn.LSTM(1, 64), nn.LSTM(512, 512, num_layers=2)
    assert inference_threads(small, 1, cores=8, load=0.0) == 1
    assert inference_threads(small, 256, cores=8, load=0.0) == 1  # 256 x 17k weights < PARALLEL_WORK
    assert inference_threads(large, 4096, cores=8, load=0.0) == 4
    assert inference_threads(large, 4096, cores=2, load=3.0) == 1  # a loaded machine
    before = torch.get_num_threads()
    seen = []
    with cpu_threads(1):
        seen.append(torch.get_num_threads())
    assert seen == [1] and torch.get_num_threads() == before

    # Forecaster.predict runs its forward pass on one thread for one series (44 ms -> 1.9 ms under load)
    from lstmcast import Forecaster
    from lstmcast.data.synthetic import noisy_sine
    from tests.conftest import tiny_config

    frame = noisy_sine(120, seed=0)
    forecaster = Forecaster(tiny_config()).fit(frame)
    counts = []
    real = forecaster.model_.network.forward

    def spy(*args, **kwargs):
        counts.append(torch.get_num_threads())
        return real(*args, **kwargs)

    model = forecaster.model_
    monkeypatch.setattr(model.network, "forward", spy)
    model.predict(frame)
    assert counts and set(counts) == {1}


def test_window_batches_gather_the_windows_of_the_series():
    values = torch.arange(40, dtype=torch.float32).reshape(20, 2)  # [T, C]: target, future covariate
    starts = np.array([5, 9, 15])
    source = window_batches(values, starts, input_length=3, horizon=2, n_targets=1, n_future=1,
                            device=torch.device("cpu"))
    x, future, y = next(source.iterate(8))
    assert len(source) == 3 and x.shape == (3, 3, 2) and future.shape == (3, 2, 1) and y.shape == (3, 2, 1)
    assert torch.equal(x[1], values[6:9]) and torch.equal(y[1, :, 0], values[9:11, 0])
    assert torch.equal(future[2, :, 0], values[15:17, 1]) and x.is_contiguous()


def test_eta_respects_the_time_budget():
    from lstmcast.training.callbacks import eta_seconds

    assert eta_seconds(10, 100, 2.0, elapsed=20.0) == 180.0  # no budget: 90 epochs at 2 s
    assert eta_seconds(10, 100, 2.0, elapsed=20.0, budget=60.0) == 40.0  # the budget ends it first
    assert eta_seconds(10, 12, 2.0, elapsed=20.0, budget=60.0) == 4.0  # max_epochs ends it first
    assert eta_seconds(10, 100, 2.0, elapsed=70.0, budget=60.0) == 0.0


def test_progress_lines_show_the_budgeted_eta(capsys):
    from lstmcast.cli import Progress

    class SlowEpochs(Callback):  # make each epoch look like 1000 s
        def on_epoch_end(self, state, record):
            record.seconds = 1000.0

    for budget, expected in ((0, "eta 33:20"), (1500, "eta 24:5")):  # 2 epochs x 1000 s, or the budget
        model, loss_fn, train, val = make()
        fit_loop(model, loss_fn, train, val, TrainConfig(max_epochs=3, patience=0, time_budget=budget),
                 [SlowEpochs(), Progress(every=1)])
        first = next(line for line in capsys.readouterr().err.splitlines() if line.startswith("epoch    1/3"))
        assert expected in first, first


def test_many_series_validation_is_capped_and_reported():
    import pandas as pd

    from lstmcast import Forecaster
    from lstmcast.data.synthetic import noisy_sine
    from tests.conftest import tiny_config

    frame = pd.concat([noisy_sine(120, seed=k).assign(series=f"s{k}") for k in range(6)], ignore_index=True)
    config = tiny_config(data={"series_col": "series", "val_fraction": 0.3}, train={"max_epochs": 1, "val_windows": 20})
    forecaster = Forecaster(config).fit(frame)
    assert forecaster.meta_["n_windows"]["val"] > 20
    assert forecaster.history_.val_windows == 20 == forecaster.meta_["val_windows_scored"]
    assert forecaster.history_.val_windows_available == forecaster.meta_["n_windows"]["val"]
