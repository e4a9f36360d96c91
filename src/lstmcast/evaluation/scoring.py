"""Scoring window forecasts next to the baselines: re-exported from :mod:`lstmcast.scoring.windows`."""

from lstmcast.scoring.windows import score_windows

__all__ = ["score_windows"]
