"""What a fit learns from its validation windows: scores next to the baselines, the validation
forecast (for the forecast plot) and split-conformal spread factors.

The windows are the validation targets of each training part (weights that never saw them);
truth is in original units.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from lstmcast.config import DataConfig
from lstmcast.data.layout import ChannelLayout
from lstmcast.data.prepare import SeriesData, pad_left
from lstmcast.fitting.parts import TrainPart, input_length_of
from lstmcast.forecast import Forecast
from lstmcast.inference import TrainedModel, WindowBatch, series_windows, stack_windows
from lstmcast.models.heads import conformal_spread, head_of
from lstmcast.scoring.statistical import StatisticalPart
from lstmcast.scoring.windows import score_windows


def validation_windows(parts: list[TrainPart], layout: ChannelLayout, data: DataConfig,
                       stat: StatisticalPart | None = None) -> WindowBatch | None:
    """The validation windows of the parts (scaled inputs, truth in original units), with the
    forecasts of ``stat``'s methods for each when it is given."""
    L, H = input_length_of(data), data.horizon
    batches = []
    for p in parts:
        starts = p.bounds.target_starts("val", L, H)
        if not len(starts):
            continue
        raw = p.scaler.inverse_transform(p.scaled.astype(np.float64))  # [pad + n, C]
        batches.append(series_windows(p.key, p.index, p.scaled, raw, p.scaler, starts, layout, L, H, pad=p.pad,
                                      stat=stat))
    return stack_windows(batches)


def validation_scores(net: nn.Module, windows: WindowBatch, layout: ChannelLayout, data: DataConfig,
                      frequency: str | None, series: list[SeriesData], levels: tuple[float, ...],
                      season: int) -> tuple[dict[str, Any], Forecast, np.ndarray]:
    """The validated model on the validation windows, next to naive and seasonal naive; its
    forecasts of those windows, and their means [N, H, T]."""
    model = TrainedModel(net.eval(), layout, {}, data, frequency, levels)
    mean, quants = model.forecast_windows(windows)
    forecast = model.to_forecast(mean, quants, list(zip(windows.series, windows.times, strict=True)),
                                 truth=windows.truth, origins=windows.origins)
    histories = {s.key: s.values[:, : layout.n_targets] for s in series}
    windows.history = history_block(windows, histories, max(input_length_of(data), 2 * season))
    return score_windows(windows, mean, quants, levels, season, list(layout.targets)), forecast, mean


def conformal_factor(net: nn.Module, windows: WindowBatch, layout: ChannelLayout, data: DataConfig,
                     levels: tuple[float, ...]) -> torch.Tensor:
    """Split-conformal spread factors of ``net``'s head from the windows (see ``conformal_spread``)."""
    model = TrainedModel(net.eval(), layout, {}, data, None, levels)
    mean, quants = model.forecast_windows(windows)
    if quants is None:
        raise ValueError("Conformal calibration needs a probabilistic head (model.head=gaussian or quantile).")
    return conformal_spread(head_of(net), torch.from_numpy(mean), torch.from_numpy(quants),
                            torch.from_numpy(np.ascontiguousarray(windows.truth)), levels)


def scale_spread(members: Sequence[nn.Module], factor: torch.Tensor) -> None:
    """Multiply every member's head spread by ``factor`` (calibration)."""
    with torch.no_grad():
        for member in members:
            spread = head_of(member).spread
            spread.mul_(factor.to(spread.device, spread.dtype))


def history_block(w: WindowBatch, histories: dict[str, np.ndarray], need: int) -> np.ndarray:
    """For baselines: the ``need`` rows before each window's targets, [N, need, T]."""
    out = []
    for key, truth in zip(w.series, w.truth, strict=True):
        values = histories[key]
        end = len(values) - len(truth)
        block, _ = pad_left(values[max(0, end - need) : end], need)
        out.append(block)
    return np.stack(out)
