"""The forecasting network: recurrent encoder -> summary (last state | attention) -> head.

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

_WINDOW_EPS = 1e-4  # variance floor of a window in scaled units: a flat window is not blown up


class LSTMForecastNet(nn.Module):
    """Windows of past values in, distribution parameters for the next H steps out.

    Inputs:
        x: [B, L, F] scaled inputs; channels ordered targets, past covariates, future covariates.
        future: [B, H, Kf] scaled known-future covariates for the horizon (or None when Kf = 0).
    Outputs:
        [B, H, T, P] head parameters in scaled units (P = 1 point, 2 Gaussian, Q quantile).

    Options (all from :class:`ModelConfig`): stacked layers with dropout between them,
    bidirectional encoding of the input window, multi-head attention over the LSTM outputs
    with the last state as query, per-window instance normalisation (``normalization``),
    channel-independent encoding, a recursive strategy (a one-step model rolled out H times),
    and patches (``patch_length`` S > 0): the window is cut into N = L / S segments, each
    projected to ``hidden_size`` by a linear layer + ReLU, and the LSTM runs over the N segment
    embeddings instead of the L steps (SegRNN, Lin et al. 2023): N times fewer recurrent steps.
    """

    def __init__(self, n_inputs: int, n_targets: int, n_future: int, horizon: int, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        self.n_inputs, self.n_targets, self.n_future, self.horizon = n_inputs, n_targets, n_future, horizon
        self.normalization = config.normalization
        self.recursive = config.strategy == "recursive"
        self.channel_independent = config.channel_independent
        step_horizon = 1 if self.recursive else horizon
        lstm_inputs = 1 if self.channel_independent else n_inputs
        head_targets = 1 if self.channel_independent else n_targets
        directions = 2 if config.bidirectional else 1
        width = directions * config.hidden_size
        self.patch_embed = (nn.Linear(config.patch_length * lstm_inputs, config.hidden_size)
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
            batch, length, channels = x.shape
            size = self.config.patch_length or 1  # patch_embed exists only for patch_length > 0
            x = x.reshape(batch, length // size, size * channels)  # [B, L, F] -> [B, N, S*F]
            x = torch.relu(self.patch_embed(x))  # [B, N, S*F] -> [B, N, hidden_size]
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
        if self.channel_independent:
            x = x.transpose(1, 2).reshape(batch * self.n_targets, -1, 1)  # [B, L, T] -> [B*T, L, 1]
        summary, _, _ = self.encode(x)
        summary = self.dropout(summary)
        if future is not None and not self.recursive and self.n_future:
            summary = torch.cat([summary, future.reshape(batch, -1)], dim=-1)  # + [B, H*Kf]
        params = self.head(summary)  # [B', H', T', P]
        if self.channel_independent:
            steps, n_params = params.shape[1], params.shape[-1]
            params = params.view(batch, self.n_targets, steps, n_params).transpose(1, 2)  # [B, H', T, P]
        return params

    def _reference(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None] | None:
        """Per-window location [B, 1, F] and scale [B, 1, F] (None: unscaled) of the input."""
        if self.normalization == "last":
            return x[:, -1:, :], None
        if self.normalization == "mean":
            return x.mean(dim=1, keepdim=True), None
        if self.normalization == "standard":  # RevIN without the affine part (Kim et al. 2022)
            mean = x.mean(dim=1, keepdim=True)
            std = torch.sqrt(x.var(dim=1, keepdim=True, unbiased=False) + _WINDOW_EPS)
            return mean, std
        return None

    def _seasonal_naive(self, x: torch.Tensor) -> torch.Tensor:
        """The seasonal naive forecast of the window's targets at period S = ``seasonal_skip``:
        step h repeats x[L - S + (h mod S)]. [B, L, F] -> [B, H, T]."""
        period = int(self.config.seasonal_skip or 0)
        return x[:, [h % period - period for h in range(self.horizon)], : self.n_targets]

    def step(self, x: torch.Tensor, future: torch.Tensor | None = None) -> torch.Tensor:
        """The trained map with instance normalisation applied and undone: [B, L, F] -> [B, H', T, P].

        With ``model.seasonal_skip`` = S the network forecasts the residual over the seasonal naive
        forecast of period S (in units of the window's spread): the output is the seasonal naive
        plus the network's correction."""
        ref = self._reference(x)
        skip = self.config.seasonal_skip and not self.recursive
        if ref is None and not skip:
            return self._step(x, future)
        if ref is None:
            loc, spread = x.new_zeros(x.shape[0], 1, x.shape[2]), None
        else:
            loc, spread = ref
        if spread is None:
            spread = torch.ones_like(loc)
        if future is not None and self.n_future:
            known = self.n_inputs - self.n_future
            future = (future - loc[..., known:]) / spread[..., known:]
        params = self._step((x - loc) / spread, future)
        offset = (self._seasonal_naive(x) if skip  # [B, H', T]
                  else loc[..., : self.n_targets].expand(-1, params.shape[1], -1))
        scale = spread[..., : self.n_targets].expand(-1, params.shape[1], -1)
        return self.head.denormalize(params, offset, scale)

    def forward(self, x: torch.Tensor, future: torch.Tensor | None = None) -> torch.Tensor:
        """[B, L, F] (+ future [B, H, Kf]) -> [B, H, T, P]."""
        if not self.recursive:
            return self.step(x, future)
        outputs = []
        window = x
        for k in range(self.horizon):
            params = self.step(window)  # [B, 1, T, P]
            outputs.append(params)
            new_row = self.head.mean(params)  # [B, 1, T]
            if self.n_future:
                if future is None:
                    raise ValueError(f"This network reads {self.n_future} known-future channels: pass future "
                                     f"[B, {self.horizon}, {self.n_future}].")
                new_row = torch.cat([new_row, future[:, k : k + 1]], dim=-1)  # [B, 1, F]
            window = torch.cat([window[:, 1:], new_row], dim=1)  # slide by one step
        return torch.cat(outputs, dim=1)  # [B, H, T, P]

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
