"""Patches (model.patch_length, SegRNN-style): the LSTM reads N = L / S segment embeddings."""

from __future__ import annotations

import pytest
import torch

from lstmcast.config import DataConfig, ForecastConfig, ModelConfig
from lstmcast.errors import ConfigError
from lstmcast.models import LSTMForecastNet


def _net(**model) -> LSTMForecastNet:
    config = ModelConfig(hidden_size=8, head="point", normalization="last", **model)
    return LSTMForecastNet(n_inputs=3, n_targets=3, n_future=0, horizon=5, config=config)


@pytest.mark.parametrize("options", [{}, {"channel_independent": True}, {"bidirectional": True, "attention": True,
                                                                           "attention_heads": 2}])
def test_the_lstm_runs_over_segments_not_steps(options):
    net = _net(patch_length=6, **options)
    seen = []
    net.lstm.register_forward_hook(lambda module, args, out: seen.append(args[0].shape))
    out = net(torch.randn(4, 24, 3))  # [B, L, F]
    assert out.shape == (4, 5, 3, 1)  # [B, H, T, P]
    channels = 3 if options.get("channel_independent") else 1
    assert seen == [(4 * channels, 24 // 6, 8)]  # [B', N, hidden_size]
    assert net.patch_embed.in_features == 6 * (1 if options.get("channel_independent") else 3)


def test_segments_are_consecutive_steps():
    net = _net(patch_length=4, channel_independent=True)
    with torch.no_grad():
        net.patch_embed.weight.zero_()
        net.patch_embed.weight[0, :4] = 1.0  # unit 0 sums its segment
        net.patch_embed.bias.zero_()
    x = torch.arange(8, dtype=torch.float32).view(1, 8, 1).repeat(1, 1, 3)  # steps 0..7
    seen = []
    net.lstm.register_forward_hook(lambda module, args, out: seen.append(args[0]))
    net._step(x, None)
    assert seen[0][0, :, 0].tolist() == [0 + 1 + 2 + 3, 4 + 5 + 6 + 7]


def test_no_patches_keeps_the_step_lstm():
    net = _net()
    assert net.patch_embed is None and net.lstm.input_size == 3


def test_patch_length_must_divide_the_input_length():
    with pytest.raises(ConfigError, match=r"model.patch_length=48 must divide data.input_length=100 .* "
                       r"use data.input_length=144, model.patch_length=25"):
        ForecastConfig(DataConfig(input_length=100), ModelConfig(patch_length=48))
    with pytest.raises(ConfigError, match="model.patch_length must be an integer >= 0; got -1"):
        ModelConfig(patch_length=-1)
