"""The small pieces :class:`~lstmcast.models.network.LSTMForecastNet` composes around its encoder.

- :class:`PatchEmbedding` (``model.patch_length`` S > 0): cut the window into N = L / S segments
  and project each to ``hidden_size`` with a linear layer + ReLU (SegRNN, Lin et al. 2023);
- :class:`InstanceNorm` (``model.normalization``): each window's reference (location, scale),
  the normalised inputs and the offset / scale that undo it on the head's parameters;
- :func:`seasonal_naive` (``model.seasonal_skip``, ``model.skip_cycles``): the offset a seasonal skip adds back;
- :class:`ChannelIndependence` (``model.channel_independent``): every target channel through the
  encoder on its own, folded into the batch and unfolded after the head;
- :class:`RecursiveStrategy` (``model.strategy="recursive"``): a one-step model rolled out H times.

Only the patch embedding has weights; it is an ``nn.Linear``, registered by the network as
``patch_embed``, so saved weights keep the names ``patch_embed.weight`` / ``patch_embed.bias``.
The others are parameter-free plain objects: they add nothing to the state dict.

Symbols: B batch, L input_length, F input channels, T targets, Kf known-future covariates,
H horizon (H' = 1 for the one-step map of a recursive model), P head parameters per value,
S patch_length, N = L / S segments.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

__all__ = ["WINDOW_EPS", "ChannelIndependence", "InstanceNorm", "PatchEmbedding", "RecursiveStrategy",
           "WindowReference", "seasonal_naive"]

WINDOW_EPS = 1e-4  # variance floor of a window in scaled units: a flat window is not blown up


class PatchEmbedding(nn.Linear):
    """Segments of S steps, each projected to ``hidden_size``: [B, L, F] -> [B, N, hidden_size].

    The linear layer reads one segment's S * F values (step-major: the F channels of its first
    step, then of the second, ...); its ReLU output is what the encoder reads instead of the steps.
    """

    def __init__(self, patch_length: int, n_channels: int, hidden_size: int) -> None:
        super().__init__(patch_length * n_channels, hidden_size)
        self.patch_length = patch_length

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, length, channels = x.shape
        size = self.patch_length
        x = x.reshape(batch, length // size, size * channels)  # [B, L, F] -> [B, N, S*F]
        return torch.relu(super().forward(x))  # [B, N, S*F] -> [B, N, hidden_size]


@dataclass(frozen=True)
class WindowReference:
    """Each window's location ``loc`` [B, 1, F] and scale ``spread`` [B, 1, F] (ones: unscaled)."""

    loc: torch.Tensor
    spread: torch.Tensor

    def normalise(self, x: torch.Tensor) -> torch.Tensor:
        """[B, L, F] -> ``(x - loc) / spread``."""
        return (x - self.loc) / self.spread

    def normalise_future(self, future: torch.Tensor, n_known: int) -> torch.Tensor:
        """Known-future rows [B, H, Kf] by the reference of their channels (the last Kf, after ``n_known``)."""
        return (future - self.loc[..., n_known:]) / self.spread[..., n_known:]

    def offset(self, n_targets: int, steps: int) -> torch.Tensor:
        """The location of the targets for every forecast step: [B, H', T]."""
        return self.loc[..., :n_targets].expand(-1, steps, -1)

    def scale(self, n_targets: int, steps: int) -> torch.Tensor:
        """The scale of the targets for every forecast step: [B, H', T]."""
        return self.spread[..., :n_targets].expand(-1, steps, -1)


@dataclass(frozen=True)
class InstanceNorm:
    """Per-window instance normalisation, parameter-free (``model.normalization``).

    ``last``: subtract the window's last row; ``mean``: subtract its mean; ``standard``: subtract the
    mean and divide by the standard deviation (RevIN without the affine part, Kim et al. 2022);
    ``none``: leave the window alone. The network forecasts in the normalised units, and the head's
    ``denormalize`` maps its parameters back with :meth:`WindowReference.offset` / ``scale``.
    """

    mode: str

    def reference(self, x: torch.Tensor, always: bool = False) -> WindowReference | None:
        """The reference of each window x [B, L, F]: None for ``none`` unless ``always`` (then
        location 0 and scale 1, for a seasonal skip without instance normalisation)."""
        if self.mode == "last":
            loc, spread = x[:, -1:, :], None
        elif self.mode == "mean":
            loc, spread = x.mean(dim=1, keepdim=True), None
        elif self.mode == "standard":
            loc = x.mean(dim=1, keepdim=True)
            spread = torch.sqrt(x.var(dim=1, keepdim=True, unbiased=False) + WINDOW_EPS)
        elif always:
            loc, spread = x.new_zeros(x.shape[0], 1, x.shape[2]), None
        else:
            return None
        return WindowReference(loc, torch.ones_like(loc) if spread is None else spread)


def seasonal_naive(x: torch.Tensor, period: int, horizon: int, n_targets: int, cycles: int = 1) -> torch.Tensor:
    """The seasonal forecast of the window's targets at period S: step h repeats x[L - S + (h mod S)]
    (the seasonal naive); with ``cycles`` = n > 1 the mean of that step over the window's last n
    cycles, moved to the last cycle's level (its mean minus the n cycles' mean): one cycle's noise
    averaged out, its level kept. [B, L, F] -> [B, H, T]."""
    steps = [h % period - period for h in range(horizon)]
    if cycles <= 1:
        return x[:, steps, :n_targets]
    y = x[..., :n_targets]
    profile = torch.stack([y[:, [s - c * period for s in steps]] for c in range(cycles)]).mean(dim=0)
    level = y[:, -period:].mean(dim=1, keepdim=True) - y[:, -cycles * period :].mean(dim=1, keepdim=True)
    return profile + level


@dataclass(frozen=True)
class ChannelIndependence:
    """Every target channel through the encoder and head on its own, with shared weights.

    :meth:`fold` moves the T channels into the batch, [B, L, T] -> [B*T, L, 1]; :meth:`unfold`
    puts the head's output back, [B*T, H', 1, P] -> [B, H', T, P].
    """

    n_targets: int

    def fold(self, x: torch.Tensor) -> torch.Tensor:
        batch = x.shape[0]
        return x.transpose(1, 2).reshape(batch * self.n_targets, -1, 1)  # [B, L, T] -> [B*T, L, 1]

    def unfold(self, params: torch.Tensor, batch: int) -> torch.Tensor:
        steps, n_params = params.shape[1], params.shape[-1]
        return params.view(batch, self.n_targets, steps, n_params).transpose(1, 2)  # [B, H', T, P]


@dataclass(frozen=True)
class RecursiveStrategy:
    """A one-step model rolled out H times: each step's mean (and the known-future row of that step)
    is appended to the window, which slides by one step."""

    horizon: int
    n_future: int

    def rollout(self, step: Callable[[torch.Tensor], torch.Tensor], mean: Callable[[torch.Tensor], torch.Tensor],
                x: torch.Tensor, future: torch.Tensor | None) -> torch.Tensor:
        """``step``: window [B, L, F] -> [B, 1, T, P]; ``mean``: [B, 1, T, P] -> [B, 1, T].
        x [B, L, F] (+ future [B, H, Kf]) -> [B, H, T, P]."""
        outputs = []
        window = x
        for k in range(self.horizon):
            params = step(window)  # [B, 1, T, P]
            outputs.append(params)
            new_row = mean(params)  # [B, 1, T]
            if self.n_future:
                if future is None:
                    raise ValueError(f"This network reads {self.n_future} known-future channels: pass future "
                                     f"[B, {self.horizon}, {self.n_future}].")
                new_row = torch.cat([new_row, future[:, k : k + 1]], dim=-1)  # [B, 1, F]
            window = torch.cat([window[:, 1:], new_row], dim=1)  # slide by one step
        return torch.cat(outputs, dim=1)  # [B, H, T, P]
