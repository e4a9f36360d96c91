"""Sliding windows as views over one array: no copies, whatever the series length.

Symbols: T rows, C channels, L input_length, H horizon, N windows.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from lstmcast.errors import DataError


def sliding_windows(values: np.ndarray, length: int, stride: int = 1) -> np.ndarray:
    """All windows of ``length`` consecutive rows, as a read-only view.

    Inputs: ``values`` [T, C]. Outputs: [N, length, C] with N = (T - length) // stride + 1.
    """
    if values.ndim != 2:
        raise DataError(f"Expected a 2-D array [rows, channels]; got shape {values.shape}.")
    if length < 1 or length > len(values):
        raise DataError(f"Window length {length} must be between 1 and the {len(values)} rows.")
    view = sliding_window_view(values, length, axis=0)  # [T - length + 1, C, length]
    return view[::stride].transpose(0, 2, 1)  # [N, length, C], still a view


def input_target_windows(values: np.ndarray, starts: range | np.ndarray, input_length: int, horizon: int,
                         target_channels: int) -> tuple[np.ndarray, np.ndarray]:
    """Inputs and targets of the windows whose first target row is in ``starts``.

    Inputs: ``values`` [T, C] (targets in the first ``target_channels`` channels), ``starts`` [N]
    (a ``range`` of consecutive rows gives views; an array of rows gathers a copy of just those).
    Outputs: X [N, L, C] and Y [N, H, target_channels].
    """
    full = sliding_windows(values, input_length + horizon)  # [T - L - H + 1, L + H, C]
    if isinstance(starts, range) and starts.step == 1:
        picked = full[starts.start - input_length : starts.stop - input_length]
    else:
        picked = full[np.asarray(starts) - input_length]
    return picked[:, :input_length], picked[:, input_length:, :target_channels]
