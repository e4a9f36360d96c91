"""Settings derived from the data at fit time, when the config leaves them open (``None``).

* ``data.input_length``: ``max(2 * horizon, 2 * season)`` -- at least two seasonal periods and
  twice the horizon -- capped so that the median series still has one full window (shorter
  series are padded, see :mod:`lstmcast.data.prepare`).
* ``model.patch_length``: one seasonal period when the window holds at least two (the LSTM then
  reads one embedding per period, SegRNN-style), else no patches; the window is rounded up to a
  whole number of patches.

The season comes from the data's frequency (:func:`season_for`). The choices are measured in the
README's accuracy table (``benchmarks/accuracy.py``), over data sets of several frequencies.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

from lstmcast.config import ForecastConfig


def season_for(frequency: str | None) -> int:
    """The main seasonal period of data at ``frequency`` (1 when none is known)."""
    from lstmcast.scoring.seasonality import seasonality_from_freq

    if frequency is None or str(frequency).lstrip("-").isdigit():
        return 1
    try:
        return max(1, int(seasonality_from_freq(str(frequency))))
    except (TypeError, ValueError):
        return 1


def resolve(config: ForecastConfig, frequency: str | None, lengths: Sequence[int]) -> ForecastConfig:
    """``config`` with ``data.input_length`` and ``model.patch_length`` filled in when ``None``."""
    d, m = config.data, config.model
    season = season_for(frequency)
    length = d.input_length
    if length is None:
        length = max(2 * d.horizon, 2 * season)
        if lengths:  # the median series keeps at least one full window
            typical = sorted(lengths)[len(lengths) // 2]
            length = max(1, min(length, typical - d.horizon))
    patch = m.patch_length
    if patch is None:
        patch = season if season > 1 and length >= 2 * season else 0
        if patch:
            length = math.ceil(length / patch) * patch
    if d.input_length is not None and patch and d.input_length % patch:
        patch = 0  # a window the user fixed that no whole number of periods divides: no patches
    return dataclasses.replace(config, data=dataclasses.replace(d, input_length=int(length)),
                               model=dataclasses.replace(m, patch_length=int(patch)))
