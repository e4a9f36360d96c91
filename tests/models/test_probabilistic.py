"""Probabilistic heads on a heteroscedastic series: intervals that cover what they claim."""

import numpy as np
import pytest
import torch

from lstmcast import DataConfig, ForecastConfig, Forecaster, ModelConfig, TrainConfig
from lstmcast.data.synthetic import heteroscedastic_sine
from lstmcast.models.heads import GaussianHead, QuantileHead, conformal_spread


@pytest.mark.slow
@pytest.mark.parametrize("head", ["gaussian", "quantile"])
def test_80_percent_interval_covers_about_80_percent(head):
    frame = heteroscedastic_sine(3000, seed=0)
    config = ForecastConfig(
        DataConfig(targets=("value",), input_length=40, val_fraction=0.2, test_fraction=0.2),
        ModelConfig(hidden_size=32, head=head, conformal=True),
        TrainConfig(max_epochs=30),
    )
    forecaster = Forecaster(config).fit(frame)
    coverage = forecaster.evaluate(frame)["probabilistic"]["coverage_0.1_0.9"]
    assert 0.75 <= coverage <= 0.85
    assert forecaster.meta_["calibration"]["windows"] == 600


def test_conformal_spread_reaches_nominal_coverage_on_its_own_data():
    torch.manual_seed(0)
    n = 2000
    truth = torch.randn(n, 1, 1) * 2.0  # the model below claims std 1: intervals far too narrow
    center = torch.zeros(n, 1, 1)
    z = torch.special.ndtri(torch.tensor([0.1, 0.5, 0.9]))
    quantiles = center.unsqueeze(-1) + z
    head = QuantileHead(4, 1, 1, (0.1, 0.5, 0.9))
    spread = conformal_spread(head, center, quantiles, truth, (0.1, 0.5, 0.9))
    lo = center + spread[..., 0] * (quantiles[..., 0] - center)
    hi = center + spread[..., 2] * (quantiles[..., 2] - center)
    covered = ((truth >= lo) & (truth <= hi)).float().mean().item()
    assert 0.79 <= covered <= 0.82
    assert spread[0, 0, 0] == pytest.approx(2.0, rel=0.1)
    gauss = conformal_spread(GaussianHead(4, 1, 1), center, quantiles, truth, (0.1, 0.5, 0.9))
    assert gauss.shape == (1, 1) and gauss.item() == pytest.approx(2.0, rel=0.1)


def test_quantile_head_never_crosses():
    torch.manual_seed(0)
    head = QuantileHead(8, 3, 2, (0.05, 0.25, 0.5, 0.75, 0.95))
    inner = torch.rand(3, 2) * 2.0  # calibrated factors: any size, growing outwards
    outer = inner + torch.rand(3, 2)
    head.spread.copy_(torch.stack([outer, inner, torch.ones(3, 2), inner, outer], dim=-1))
    out = head(torch.randn(256, 8) * 10)  # [B, H, T, Q]
    assert (out.diff(dim=-1) >= -1e-5).all()


def test_gaussian_loss_is_the_negative_log_likelihood():
    head = GaussianHead(1, 1, 1)
    params = torch.tensor([[[[0.5, 2.0]]]])
    target = torch.tensor([[[1.5]]])
    expected = 0.5 * np.log(2 * np.pi * 4.0) + 0.5 * (1.0**2) / 4.0
    assert head.loss(params, target).item() == pytest.approx(expected, rel=1e-5)
