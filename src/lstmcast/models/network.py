"""The forecasting network: recurrent encoder -> summary (last state | attention) -> head, composed
with the pieces of :mod:`lstmcast.models.wrappers` (patches, instance normalisation and the seasonal
skip, channel independence, the recursive strategy).

Symbols: B batch, L input_length, F input channels, T targets, Kf known-future covariates,
H horizon, D directions (1 or 2), W = D * hidden_size, P head parameters per value,
S patch_length and N = L / S segments (when the LSTM reads patches).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from lstmcast.config import ModelConfig
from lstmcast.models.encoders import Encoder, make_encoder
from lstmcast.models.heads import make_head
from lstmcast.models.wrappers import (
    ChannelIndependence,
    InstanceNorm,
    PatchEmbedding,
    RecursiveStrategy,
    seasonal_naive,
)


class LSTMForecastNet(nn.Module):
    """Windows of past values in, distribution parameters for the next H steps out.

    Inputs:
        x: [B, L, F] scaled inputs; channels ordered targets, past covariates, future covariates.
        future: [B, H, Kf] scaled known-future covariates for the horizon (or None when Kf = 0).
    Outputs:
        [B, H, T, P] head parameters in scaled units (P = 1 point, 2 Gaussian, Q quantile).

    Options (all from :class:`ModelConfig`): stacked layers with dropout between them,
    bidirectional encoding of the input window, multi-head attention over the LSTM outputs
    with the last state as query, and the pieces of :mod:`lstmcast.models.wrappers`:
    per-window instance normalisation (``normalization``: :class:`InstanceNorm`) and the seasonal
    skip, channel-independent encoding (:class:`ChannelIndependence`), a recursive strategy (a
    one-step model rolled out H times: :class:`RecursiveStrategy`), and patches (``patch_length``
    S > 0: :class:`PatchEmbedding`): the window is cut into N = L / S segments, each projected to
    ``hidden_size`` by a linear layer + ReLU, and the LSTM runs over the N segment embeddings
    instead of the L steps (SegRNN, Lin et al. 2023): N times fewer recurrent steps.
    """

    def __init__(self, n_inputs: int, n_targets: int, n_future: int, horizon: int, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        self.n_inputs, self.n_targets, self.n_future, self.horizon = n_inputs, n_targets, n_future, horizon
        self.instance_norm = InstanceNorm(config.normalization)
        self.recursive = config.strategy == "recursive"
        self.rollout = RecursiveStrategy(horizon, n_future) if self.recursive else None
        self.channel_independence = ChannelIndependence(n_targets) if config.channel_independent else None
        step_horizon = 1 if self.recursive else horizon
        lstm_inputs = 1 if config.channel_independent else n_inputs
        head_targets = 1 if config.channel_independent else n_targets
        directions = 2 if config.bidirectional else 1
        width = directions * config.hidden_size
        # saved as patch_embed.weight / patch_embed.bias (an nn.Linear), as before the wrappers
        self.patch_embed = (PatchEmbedding(config.patch_length, lstm_inputs, config.hidden_size)
                            if config.patch_length else None)
        encoder = make_encoder(config.hidden_size if config.patch_length else lstm_inputs, config)
        # registered under its kind ("lstm", "gru"): an LSTM model's weights keep their names (lstm.*)
        self.encoder_name = encoder.kind
        self.add_module(self.encoder_name, encoder)
        self.attention = (
            nn.MultiheadAttention(width, config.attention_heads, dropout=config.dropout, batch_first=True)
            if config.attention else None
        )
        summary = width * (2 if config.attention else 1)
        future_width = 0 if self.recursive else n_future * horizon
        self.dropout = nn.Dropout(config.dropout)
        self.head = make_head(config.head, summary + future_width, step_horizon, head_targets, config.quantiles)

    @property
    def encoder(self) -> Encoder:
        """The recurrent encoder (:mod:`lstmcast.models.encoders`), chosen by ``model.encoder``."""
        module = self._modules[self.encoder_name]
        if not isinstance(module, Encoder):  # pragma: no cover - set in __init__
            raise TypeError(f"the network's {self.encoder_name!r} module is not an encoder")
        return module

    # -- pieces ------------------------------------------------------------------------
    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """[B, L, F] -> summary [B, W or 2W], outputs [B, L', W], attention weights [B, 1, L'] or None
        (L' = L steps, or N = L / S segments with patches)."""
        if self.patch_embed is not None:
            x = self.patch_embed(x)  # [B, L, F] -> [B, N, hidden_size]
        outputs = self.encoder.encode(x)  # [B, L', F'] -> [B, L', W]
        hidden = self.config.hidden_size
        if self.config.bidirectional:
            # forward direction's last step and backward direction's first step are the final states
            last = torch.cat([outputs[:, -1, :hidden], outputs[:, 0, hidden:]], dim=-1)  # [B, W]
        else:
            last = outputs[:, -1]  # [B, W]
        if self.attention is None:
            return last, outputs, None
        context, weights = self.attention(last.unsqueeze(1), outputs, outputs)  # [B, 1, W], [B, 1, L]
        return torch.cat([last, context.squeeze(1)], dim=-1), outputs, weights  # [B, 2W]

    def _step(self, x: torch.Tensor, future: torch.Tensor | None) -> torch.Tensor:
        """One direct pass: [B, L, F] (+ [B, H, Kf]) -> [B, H', T, P] (H' = 1 when recursive)."""
        batch = x.shape[0]
        if self.channel_independence is not None:
            x = self.channel_independence.fold(x)  # [B, L, T] -> [B*T, L, 1]
        summary, _, _ = self.encode(x)
        summary = self.dropout(summary)
        if future is not None and not self.recursive and self.n_future:
            summary = torch.cat([summary, future.reshape(batch, -1)], dim=-1)  # + [B, H*Kf]
        params = self.head(summary)  # [B', H', T', P]
        if self.channel_independence is not None:
            params = self.channel_independence.unfold(params, batch)  # [B*T, H', 1, P] -> [B, H', T, P]
        return params

    def step(self, x: torch.Tensor, future: torch.Tensor | None = None) -> torch.Tensor:
        """The trained map with instance normalisation applied and undone: [B, L, F] -> [B, H', T, P].

        With ``model.seasonal_skip`` = S the network forecasts the residual over the seasonal naive
        forecast of period S (averaged over ``model.skip_cycles`` cycles; in units of the window's
        spread): the output is that seasonal forecast plus the network's correction."""
        period = 0 if self.recursive else int(self.config.seasonal_skip or 0)
        ref = self.instance_norm.reference(x, always=period > 0)  # [B, 1, F] location and scale
        if ref is None:
            return self._step(x, future)
        if future is not None and self.n_future:
            future = ref.normalise_future(future, self.n_inputs - self.n_future)
        params = self._step(ref.normalise(x), future)
        steps = params.shape[1]
        cycles = self.config.skip_cycles
        offset = (seasonal_naive(x, period, self.horizon, self.n_targets, cycles) if period  # [B, H', T]
                  else ref.offset(self.n_targets, steps))
        return self.head.denormalize(params, offset, ref.scale(self.n_targets, steps))

    def forward(self, x: torch.Tensor, future: torch.Tensor | None = None) -> torch.Tensor:
        """[B, L, F] (+ future [B, H, Kf]) -> [B, H, T, P]."""
        if self.rollout is None:
            return self.step(x, future)
        return self.rollout.rollout(self.step, self.head.mean, x, future)  # H one-step passes

    def loss(self, x: torch.Tensor, future: torch.Tensor | None, target: torch.Tensor) -> torch.Tensor:
        """Training loss on scaled targets [B, H, T]; a recursive model learns the one-step map."""
        if self.recursive:
            return self.head.loss(self.step(x), target[:, :1])
        return self.head.loss(self.step(x, future), target)


def attention_weights(network: nn.Module, x: torch.Tensor, future: torch.Tensor | None) -> np.ndarray | None:
    """Weights [B, L'] the attention layer of ``network`` puts on each LSTM output (None without
    attention), recorded with a forward hook on x [B, L, F] (+ future [B, H, Kf])."""
    layer = network.attention
    if not isinstance(layer, nn.Module):
        return None
    captured: list[torch.Tensor] = []
    handle = layer.register_forward_hook(lambda _m, _i, out: captured.append(out[1]))
    try:
        with torch.no_grad():
            network(x, future)
    finally:
        handle.remove()
    return torch.cat(captured).squeeze(1).cpu().numpy()  # [B, 1, L'] -> [B, L']
