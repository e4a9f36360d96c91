"""Output heads. Each owns its projection, its loss and the conversion of its parameters.

Symbols: B batch, H horizon, T targets, P parameters per value, Q quantile levels, D summary width.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import nn
from torch.nn import functional as F

if TYPE_CHECKING:
    from lstmcast.config import ModelConfig


def head_levels(model: ModelConfig) -> tuple[float, ...]:
    """The quantile levels a model config forecasts (none for the point head)."""
    return () if model.head == "point" else tuple(model.quantiles)


class Head(nn.Module):
    """The base of every head: a linear projection of the summary to H x T x P parameters."""

    n_params: int = 1
    spread: torch.Tensor  # calibration factors (a buffer) of the probabilistic heads

    def __init__(self, in_features: int, horizon: int, n_targets: int) -> None:
        super().__init__()
        self.horizon, self.n_targets = horizon, n_targets
        self.proj = nn.Linear(in_features, horizon * n_targets * self.n_params)

    @classmethod
    def build(cls, in_features: int, horizon: int, n_targets: int, quantiles: tuple[float, ...]) -> Head:
        """The head from :func:`make_head`'s arguments (a head that forecasts no levels ignores ``quantiles``)."""
        return cls(in_features, horizon, n_targets)

    def forward(self, summary: torch.Tensor) -> torch.Tensor:
        """[B, D] -> [B, H, T, P] (distribution parameters in scaled units)."""
        raw = self.proj(summary).view(-1, self.horizon, self.n_targets, self.n_params)
        return self.constrain(raw)

    def constrain(self, raw: torch.Tensor) -> torch.Tensor:
        return raw

    def denormalize(self, params: torch.Tensor, offset: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
        """Map parameters of ``(y - offset) / scale`` back to ``y``; offset/scale broadcast to [B, H, T]."""
        return params * scale.unsqueeze(-1) + offset.unsqueeze(-1)

    def mean(self, params: torch.Tensor) -> torch.Tensor:
        """[B, H, T, P] -> [B, H, T]."""
        return params[..., 0]

    def loss(self, params: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def quantiles(self, params: torch.Tensor, levels: tuple[float, ...]) -> torch.Tensor | None:
        """[B, H, T, P] -> [B, H, T, Q] at ``levels`` (None for a point head)."""
        return None


class PointHead(Head):
    """One value per step, trained with MSE (the tutorial's head)."""

    kind = "point"

    def loss(self, params: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return F.mse_loss(params[..., 0], target)

    def quantiles(self, params: torch.Tensor, levels: tuple[float, ...]) -> torch.Tensor | None:
        return None


class GaussianHead(Head):
    """Mean and standard deviation per step (softplus keeps the variance positive), Gaussian NLL.

    ``spread`` [H, T] multiplies the standard deviation: ones after training, set by split-conformal
    calibration (:func:`conformal_spread`) so that the central interval reaches its nominal coverage.
    """

    kind = "gaussian"
    n_params = 2
    min_std = 1e-4

    def __init__(self, in_features: int, horizon: int, n_targets: int) -> None:
        super().__init__(in_features, horizon, n_targets)
        self.register_buffer("spread", torch.ones(horizon, n_targets))

    def constrain(self, raw: torch.Tensor) -> torch.Tensor:
        std = (F.softplus(raw[..., 1:]) + self.min_std) * self.spread.unsqueeze(-1)
        return torch.cat([raw[..., :1], std], dim=-1)

    def denormalize(self, params: torch.Tensor, offset: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
        mean = params[..., 0] * scale + offset
        std = params[..., 1] * scale.abs()
        return torch.stack([mean, std], dim=-1)

    def loss(self, params: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return F.gaussian_nll_loss(params[..., 0], target, params[..., 1].square(), full=True)

    def quantiles(self, params: torch.Tensor, levels: tuple[float, ...]) -> torch.Tensor:
        """[B, H, T, 2] -> [B, H, T, Q] from the normal quantile function."""
        z = torch.special.ndtri(torch.tensor(levels, dtype=params.dtype, device=params.device))
        return params[..., :1] + params[..., 1:2] * z


class QuantileHead(Head):
    """Q quantiles per step trained with the pinball loss; non-crossing by construction
    (the lowest quantile plus cumulative softplus increments)."""

    kind = "quantile"

    def __init__(self, in_features: int, horizon: int, n_targets: int, levels: tuple[float, ...]) -> None:
        self.n_params = len(levels)
        super().__init__(in_features, horizon, n_targets)
        self.levels: torch.Tensor
        self.register_buffer("levels", torch.tensor(levels, dtype=torch.float32), persistent=False)
        # [H, T, Q] factors on each quantile's distance from the centre; ones until calibrated
        self.register_buffer("spread", torch.ones(horizon, n_targets, len(levels)))
        self._median = levels.index(0.5) if 0.5 in levels else None

    @classmethod
    def build(cls, in_features: int, horizon: int, n_targets: int, quantiles: tuple[float, ...]) -> Head:
        return cls(in_features, horizon, n_targets, quantiles)

    def constrain(self, raw: torch.Tensor) -> torch.Tensor:
        steps = F.softplus(raw[..., 1:])
        quantiles = torch.cat([raw[..., :1], raw[..., :1] + torch.cumsum(steps, dim=-1)], dim=-1)
        centre = self.mean(quantiles).unsqueeze(-1)  # [B, H, T, 1]
        return centre + self.spread * (quantiles - centre)  # order kept: spread >= 0, growing outwards

    def mean(self, params: torch.Tensor) -> torch.Tensor:
        if self._median is not None:
            return params[..., self._median]
        return params.mean(dim=-1)

    def loss(self, params: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        diff = target.unsqueeze(-1) - params  # [B, H, T, Q]
        levels = self.levels.to(params.dtype)
        return torch.maximum(levels * diff, (levels - 1.0) * diff).mean() * 2.0

    def quantiles(self, params: torch.Tensor, levels: tuple[float, ...]) -> torch.Tensor:
        return params


def head_of(network: nn.Module) -> Head:
    """The output head of a network (or of an ensemble: its first member's)."""
    head = network.head
    if not isinstance(head, Head):
        raise TypeError(f"{type(network).__name__}.head is a {type(head).__name__}, not an output head.")
    return head


HEADS: dict[str, type[Head]] = {"point": PointHead, "gaussian": GaussianHead, "quantile": QuantileHead}
"""The output heads by ``model.head`` name; ``lstmcast.config.HEADS`` lists the same names (config stays
torch-free, and a test checks the two agree). Adding a head is a :class:`Head` subclass registered here."""


def make_head(kind: str, in_features: int, horizon: int, n_targets: int,
              quantiles: tuple[float, ...]) -> Head:
    """The head ``kind`` names in :data:`HEADS`, projecting [B, in_features] to [B, H, T, P]."""
    if kind not in HEADS:
        raise ValueError(f"Unknown head {kind!r}; expected one of {', '.join(HEADS)}. Set model.head to one of them.")
    return HEADS[kind].build(in_features, horizon, n_targets, quantiles)


def conformal_spread(head: Head, center: torch.Tensor, quantiles: torch.Tensor, truth: torch.Tensor,
                     levels: tuple[float, ...]) -> torch.Tensor:
    """Split-conformal spread factors from held-out windows (Romano et al. 2019, with a
    normalised score): for each central interval, the smallest factor on its half-widths that
    covers a window's truth, and the ceil((n + 1) * coverage) / n empirical quantile of those.

    Inputs: center [N, H, T], quantiles [N, H, T, Q], truth [N, H, T] (any consistent units).
    Outputs: the head's ``spread`` buffer: [H, T] (Gaussian, from the outermost interval) or
    [H, T, Q] (quantile head; factors non-decreasing outwards so quantiles never cross).
    """
    n = truth.shape[0]
    tiny = 1e-12
    factors = []
    pairs = [(k, len(levels) - 1 - k) for k in range(len(levels) // 2)]
    for lo, hi in pairs:
        below = (center - truth) / (center - quantiles[..., lo]).clamp_min(tiny)
        above = (truth - center) / (quantiles[..., hi] - center).clamp_min(tiny)
        score = torch.maximum(below, above).clamp_min(0.0)  # [N, H, T]
        coverage = levels[hi] - levels[lo]
        rank = min(n, int(torch.ceil(torch.tensor((n + 1) * coverage)).item()))
        factors.append(torch.sort(score, dim=0).values[rank - 1])  # [H, T]
    if isinstance(head, GaussianHead):
        return factors[0].clamp_min(1e-3)
    spread = torch.ones(quantiles.shape[1:], dtype=quantiles.dtype)  # [H, T, Q]
    running = torch.zeros_like(factors[0])
    for (lo, hi), factor in reversed(list(zip(pairs, factors, strict=True))):  # innermost pair first
        running = torch.maximum(running, factor)
        spread[..., lo] = running
        spread[..., hi] = running
    return spread.clamp_min(1e-3)
