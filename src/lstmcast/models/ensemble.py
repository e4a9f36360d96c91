"""An ensemble of forecasting networks that forecasts the median of its members.

Each member is trained on its own (another seed); the ensemble only combines them. The median of
each head parameter over members is taken with a sort (exportable to ONNX and torch.export):
the middle value for an odd K, the mean of the two middle values for an even K. For a quantile
head that is the median of each quantile (still non-crossing: the order of K sorted curves is
kept by the element-wise median); for a Gaussian head the median mean and median spread.

Symbols: K members, B batch, H horizon, T targets, P head parameters.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

import torch
from torch import nn


class MedianEnsemble(nn.Module):
    """K networks with the same inputs and head type -> the element-wise median of their outputs."""

    def __init__(self, members: Sequence[nn.Module]) -> None:
        super().__init__()
        if not members:
            raise ValueError("An ensemble needs at least one member.")
        self.members = nn.ModuleList(members)

    # the first member describes the ensemble to code that reads a network's parts
    @property
    def head(self) -> nn.Module:
        return cast(nn.Module, self.members[0].head)

    @property
    def config(self) -> object:  # the members' ModelConfig
        return self.members[0].config

    @property
    def encoder(self) -> nn.Module:
        return cast(nn.Module, self.members[0].encoder)

    @property
    def lstm(self) -> nn.Module:  # an LSTM model's encoder under its old name
        return cast(nn.Module, self.members[0].lstm)

    @property
    def attention(self) -> nn.Module | None:
        return cast("nn.Module | None", self.members[0].attention)

    def forward(self, x: torch.Tensor, future: torch.Tensor | None = None) -> torch.Tensor:
        """[B, L, F] (+ [B, H, Kf]) -> median over members of [B, H, T, P]."""
        outs = torch.stack([m(x, future) for m in self.members])  # [K, B, H, T, P]
        k = len(self.members)
        if k == 1:
            return outs[0]
        ordered = torch.sort(outs, dim=0).values
        if k % 2:
            return ordered[k // 2]
        return 0.5 * (ordered[k // 2 - 1] + ordered[k // 2])

    def loss(self, x: torch.Tensor, future: torch.Tensor | None, target: torch.Tensor) -> torch.Tensor:
        """Members are trained one by one; the ensemble's loss is the mean of theirs (for reports)."""
        return torch.stack([cast(Any, m).loss(x, future, target) for m in self.members]).mean()


def members_of(network: nn.Module) -> list[nn.Module]:
    """The networks of an ensemble, or ``[network]`` for a single one."""
    return list(network.members) if isinstance(network, MedianEnsemble) else [network]
