"""The pieces the network composes (lstmcast.models.wrappers): each one's round trip, and the
network's arithmetic equal to the pieces put together by hand."""

from __future__ import annotations

import pytest
import torch

from lstmcast.config import ModelConfig
from lstmcast.models import LSTMForecastNet
from lstmcast.models.wrappers import (
    ChannelIndependence,
    InstanceNorm,
    PatchEmbedding,
    RecursiveStrategy,
    seasonal_naive,
)


def test_channel_independence_fold_then_unfold_is_the_identity():
    pieces = ChannelIndependence(n_targets=3)
    x = torch.randn(4, 10, 3)  # [B, L, T]
    folded = pieces.fold(x)
    assert folded.shape == (12, 10, 1)  # [B*T, L, 1]
    torch.testing.assert_close(folded[1 * 3 + 2, :, 0], x[1, :, 2])  # window 1, channel 2
    # a head output that copies the last step: [B*T, H'=1, 1, P=1] unfolds to [B, 1, T, 1]
    params = folded[:, -1:, :].unsqueeze(-1)
    torch.testing.assert_close(pieces.unfold(params, batch=4), x[:, -1:, :].unsqueeze(-1), rtol=0, atol=0)


@pytest.mark.parametrize("mode", ["last", "mean", "standard"])
def test_instance_norm_normalise_then_undo_is_the_identity(mode):
    x = 3.0 * torch.randn(2, 12, 3) + 5.0  # [B, L, F]; targets are the first T = 2 channels
    ref = InstanceNorm(mode).reference(x)
    assert ref is not None and ref.loc.shape == ref.spread.shape == (2, 1, 3)
    z = ref.normalise(x)
    back = z[..., :2] * ref.scale(2, 12) + ref.offset(2, 12)  # what a head's denormalize does
    torch.testing.assert_close(back, x[..., :2])
    future = torch.randn(2, 4, 1)  # the last channel is known in the future
    torch.testing.assert_close(ref.normalise_future(future, n_known=2) * ref.spread[..., 2:] + ref.loc[..., 2:],
                               future)
    if mode == "standard":
        torch.testing.assert_close(z.mean(dim=1), torch.zeros(2, 3), atol=1e-5, rtol=0)
        torch.testing.assert_close(z.std(dim=1, unbiased=False), torch.ones(2, 3), atol=1e-4, rtol=0)


def test_instance_norm_none_is_no_reference_unless_a_skip_needs_one():
    x = torch.randn(2, 8, 1)
    assert InstanceNorm("none").reference(x) is None
    ref = InstanceNorm("none").reference(x, always=True)
    assert ref is not None
    torch.testing.assert_close(ref.normalise(x), x, rtol=0, atol=0)


def test_seasonal_naive_repeats_the_last_season():
    x = torch.arange(10, dtype=torch.float32).view(1, 10, 1)  # steps 0..9
    assert seasonal_naive(x, period=4, horizon=6, n_targets=1)[0, :, 0].tolist() == [6, 7, 8, 9, 6, 7]


def test_patch_embedding_keeps_the_linear_names_and_reads_consecutive_steps():
    embed = PatchEmbedding(patch_length=4, n_channels=1, hidden_size=2)
    assert isinstance(embed, torch.nn.Linear) and set(embed.state_dict()) == {"weight", "bias"}
    with torch.no_grad():
        embed.weight.zero_()
        embed.weight[0] = 1.0  # unit 0 sums its segment
        embed.bias.zero_()
    x = torch.arange(8, dtype=torch.float32).view(1, 8, 1)
    out = embed(x)
    assert out.shape == (1, 2, 2)  # [B, N, hidden_size]
    assert out[0, :, 0].tolist() == [0 + 1 + 2 + 3, 4 + 5 + 6 + 7]
    net = LSTMForecastNet(1, 1, 0, 3, ModelConfig(hidden_size=4, patch_length=4))
    assert {k for k in net.state_dict() if k.startswith("patch_embed.")} == {"patch_embed.weight", "patch_embed.bias"}


def test_recursive_strategy_equals_the_networks_recursive_forward():
    torch.manual_seed(0)
    config = ModelConfig(hidden_size=4, strategy="recursive", head="point", normalization="mean")
    net = LSTMForecastNet(2, 1, 1, 4, config).eval()  # one target, one known-future covariate
    x, future = torch.randn(3, 10, 2), torch.randn(3, 4, 1)
    rolled = RecursiveStrategy(horizon=4, n_future=1).rollout(net.step, net.head.mean, x, future)
    torch.testing.assert_close(rolled, net(x, future), rtol=0, atol=0)
    # by hand: the mean of each step and that step's known-future row join the window
    window = x
    for k in range(4):
        step = net.step(window)
        torch.testing.assert_close(rolled[:, k : k + 1], step, rtol=0, atol=0)
        window = torch.cat([window[:, 1:], torch.cat([step[..., 0], future[:, k : k + 1]], dim=-1)], dim=1)
    with pytest.raises(ValueError, match=r"reads 1 known-future channels: pass future \[B, 4, 1\]"):
        net(x)


def test_parameter_free_pieces_add_nothing_to_the_state_dict():
    plain = LSTMForecastNet(2, 2, 0, 3, ModelConfig(hidden_size=4, normalization="none"))
    every = LSTMForecastNet(2, 2, 0, 3, ModelConfig(hidden_size=4, normalization="standard", channel_independent=True))
    assert set(every.state_dict()) == set(plain.state_dict())
