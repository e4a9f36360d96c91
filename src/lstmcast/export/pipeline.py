"""The whole forecast path as one ``nn.Module``: a raw window in, the forecast in original units out.

Symbols: B batch, L input_length, C input channels (targets, past covariates, future covariates,
calendar features: the order of ``Forecaster.channels``), H horizon, Kf known-future channels
(future covariates then calendar features: the last Kf of the C channels), T targets, Q quantile
levels.

Scaling of many-series models
-----------------------------
A single-series model has one scaler, and the pipeline bakes it into the graph as constants
(``scaling="baked"``). A many-series model has one scaler per training series; its pipeline
takes each row's scaler as two more inputs, ``offset`` and ``scale`` [B, C]
(``scaling="inputs"``), so one graph serves every series, known or new, in one batch: the
sidecar JSON of an export lists every training series' offset and scale, and a new series is
scaled by its own history (``Scaler(kind).fit(history)``), as ``Forecaster.predict`` does.
``series=KEY`` instead bakes the scaler of one training series into the graph.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import torch
from torch import nn

from lstmcast.errors import ConfigError, DataError
from lstmcast.inference import TrainedModel
from lstmcast.models.heads import GaussianHead, head_of

SCALING_MODES = ("baked", "inputs")
EXAMPLE_BATCH = 2  # not 0 or 1: torch.export specializes those sizes


class ForecastPipeline(nn.Module):
    """Scaling, the network (with its instance normalisation and head) and inverse scaling.

    Inputs (positional, in the order of :attr:`input_names`):
        window: [B, L, C] raw (unscaled) inputs, oldest step first.
        future: [B, H, Kf] raw known-future covariates for the horizon (only when Kf > 0).
        offset, scale: [B, C] each row's scaler, ``scaled = (raw - offset) / scale``
            (only when ``scaling="inputs"``).
    Outputs (a tuple, in the order of :attr:`output_names`):
        mean: [B, H, T] in original units.
        quantiles: [B, H, T, Q] in original units (probabilistic heads only).

    The forecaster is not changed: the pipeline holds a CPU copy of its network in eval mode.
    """

    offset: torch.Tensor  # [C] buffers of scaling="baked"
    scale: torch.Tensor
    z: torch.Tensor  # [Q] standard-normal quantiles of a Gaussian head

    def __init__(self, forecaster: Any, series: str | None = None, scaling: str | None = None) -> None:
        super().__init__()
        model = as_trained_model(forecaster)
        d = model.data
        scalers = model.scalers
        many = d.series_col is not None
        if scaling is None:
            scaling = "inputs" if many and series is None else "baked"
        if scaling not in SCALING_MODES:
            raise ConfigError(f"scaling must be one of {', '.join(SCALING_MODES)}; got {scaling!r}.")
        if scaling == "inputs" and series is not None:
            raise ConfigError(
                f"series={series!r} picks the scaler to bake into the graph, so it needs "
                "scaling='baked'; drop series to take per-row offset/scale inputs instead."
            )
        if scaling == "baked":
            if series is None:
                if len(scalers) != 1:
                    raise ConfigError(
                        f"This model has {len(scalers)} per-series scalers, so one cannot be baked in "
                        "without choosing: pass series=KEY (CLI: --series KEY) with one of "
                        f"{_preview(scalers)}, or use scaling='inputs' (per-row offset/scale inputs)."
                    )
                series = next(iter(scalers))
            elif series not in scalers:
                raise DataError(
                    f"Series {series!r} is not one the model was trained on; known series: "
                    f"{_preview(scalers)}."
                )
            scaler = scalers[series]
            self.register_buffer("offset", torch.tensor(scaler.offset_, dtype=torch.float32))  # [C]
            self.register_buffer("scale", torch.tensor(scaler.scale_, dtype=torch.float32))  # [C]
        self.scaling, self.series = scaling, series
        lay = model.layout
        self.channels = list(lay.channels)
        self.targets = list(lay.targets)
        self.input_length, self.horizon = model.input_length, model.horizon
        self.n_channels, self.n_targets, self.n_future, self.n_known = (
            lay.n_channels, lay.n_targets, lay.n_future, lay.n_known)
        self.quantile_levels = tuple(model.quantile_levels)
        self.network = copy.deepcopy(model.network).cpu().eval()
        for p in self.network.parameters():
            p.requires_grad_(False)
        self.gaussian = isinstance(self.network.head, GaussianHead)
        if self.gaussian:  # the head computes ndtri(levels) per call; here it is a constant
            z = torch.special.ndtri(torch.tensor(self.quantile_levels, dtype=torch.float32))
            self.register_buffer("z", z)  # [Q]

    # -- description ---------------------------------------------------------------------
    @property
    def input_names(self) -> list[str]:
        names = ["window"]
        if self.n_future:
            names.append("future")
        if self.scaling == "inputs":
            names += ["offset", "scale"]
        return names

    @property
    def output_names(self) -> list[str]:
        return ["mean", "quantiles"] if self.quantile_levels else ["mean"]

    def input_shapes(self, batch: int | str = "batch") -> dict[str, list[int | str]]:
        shapes: dict[str, list[int | str]] = {"window": [batch, self.input_length, self.n_channels]}
        if self.n_future:
            shapes["future"] = [batch, self.horizon, self.n_future]
        if self.scaling == "inputs":
            shapes["offset"] = [batch, self.n_channels]
            shapes["scale"] = [batch, self.n_channels]
        return shapes

    def output_shapes(self, batch: int | str = "batch") -> dict[str, list[int | str]]:
        shapes: dict[str, list[int | str]] = {"mean": [batch, self.horizon, self.n_targets]}
        if self.quantile_levels:
            shapes["quantiles"] = [batch, self.horizon, self.n_targets, len(self.quantile_levels)]
        return shapes

    def example_inputs(self, batch: int = EXAMPLE_BATCH) -> tuple[torch.Tensor, ...]:
        """Plausible float32 inputs of batch ``batch`` (values inside the scaler's range)."""
        generator = torch.Generator().manual_seed(0)
        out = []
        for name, shape in self.input_shapes(batch).items():
            size = [int(d) for d in shape]
            if name == "scale":
                out.append(torch.rand(*size, generator=generator) + 0.5)
            else:
                out.append(torch.randn(*size, generator=generator))
        return tuple(out)

    # -- the graph -----------------------------------------------------------------------
    def forward(self, *inputs: torch.Tensor) -> tuple[torch.Tensor, ...]:
        window = inputs[0]  # [B, L, C]
        future = inputs[1] if self.n_future else None  # [B, H, Kf]
        if self.scaling == "inputs":
            offset, scale = inputs[-2].unsqueeze(1), inputs[-1].unsqueeze(1)  # [B, C] -> [B, 1, C]
        else:
            offset, scale = self.offset.view(1, 1, -1), self.scale.view(1, 1, -1)  # [C] -> [1, 1, C]
        x = (window - offset) / scale  # [B, L, C]
        if future is not None:
            future = (future - offset[..., self.n_known :]) / scale[..., self.n_known :]  # [B, H, Kf]
        params = self.network(x, future)  # [B, H, T, P] scaled units
        head = head_of(self.network)
        params = head.denormalize(
            params, offset[..., : self.n_targets], scale[..., : self.n_targets])  # [B|1, 1, T] over H
        mean = head.mean(params)  # [B, H, T]
        if not self.quantile_levels:
            return (mean,)
        if self.gaussian:
            return mean, params[..., :1] + params[..., 1:2] * self.z  # [B, H, T, Q]
        quantiles = head.quantiles(params, self.quantile_levels)  # [B, H, T, Q]
        if quantiles is None:
            raise ConfigError("This model's head gives no quantiles; export it without quantile levels.")
        return mean, quantiles

    def scaler_rows(self, forecaster: Any, keys: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """offset, scale [B, C] float32 for the training series ``keys`` (scaling='inputs')."""
        scalers = as_trained_model(forecaster).scalers
        missing = [k for k in keys if k not in scalers]
        if missing:
            raise DataError(f"Series {missing[0]!r} is not one the model was trained on; known series: "
                            f"{_preview(scalers)}.")
        offset = np.stack([scalers[k].offset_ for k in keys]).astype(np.float32)
        scale = np.stack([scalers[k].scale_ for k in keys]).astype(np.float32)
        return offset, scale


def as_trained_model(obj: Any) -> TrainedModel:
    """A :class:`TrainedModel` from itself or from a fitted Forecaster (raises NotFittedError)."""
    return obj if isinstance(obj, TrainedModel) else obj.model_


def _preview(keys: Any, limit: int = 8) -> str:
    keys = [str(k) for k in keys]
    shown = ", ".join(repr(k) for k in keys[:limit])
    return shown + (f" and {len(keys) - limit} more" if len(keys) > limit else "")
