"""Calendar features: sin/cos encodings of hour of day, day of week and day of year.

They are known-future covariates (computed from timestamps), so they sit at the end of the
channel layout (:class:`lstmcast.data.layout.ChannelLayout`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from lstmcast.errors import DataError


def calendar_columns(index: pd.Index) -> list[str]:
    """Calendar features suited to the spacing of a DatetimeIndex."""
    if not isinstance(index, pd.DatetimeIndex):
        raise DataError(
            "data.calendar_features=true needs a date/time column; the data has an integer step "
            "index. Name the time column with --time-col or turn calendar features off."
        )
    step = pd.Series(index[:50]).diff().median() if len(index) > 1 else pd.Timedelta(days=1)
    names = []
    if step < pd.Timedelta(days=1):
        names += ["hour_sin", "hour_cos"]
    if step < pd.Timedelta(days=7):
        names += ["dow_sin", "dow_cos"]
    names += ["year_sin", "year_cos"]
    return names


def calendar_values(index: pd.DatetimeIndex, names: Sequence[str]) -> np.ndarray:
    """[len(index), len(names)] sin/cos encodings of hour of day, day of week, day of year."""
    hour = (index.hour + index.minute / 60.0).to_numpy() / 24.0
    dow = (index.day_of_week.to_numpy() + hour) / 7.0
    doy = (index.day_of_year.to_numpy() - 1 + hour) / 365.25
    phase = {"hour": hour, "dow": dow, "year": doy}
    cols = []
    for name in names:
        kind, fn = name.split("_")
        cols.append((np.sin if fn == "sin" else np.cos)(2 * np.pi * phase[kind]))
    return np.stack(cols, axis=1) if cols else np.zeros((len(index), 0))
