"""The arithmetic of scoring forecasts, pure numpy (no torch, no fitting): what ``fit`` and
``evaluate`` need below the evaluation layer.

* :mod:`~lstmcast.scoring.metrics` -- the metrics (MAE ... sMAPE, MASE, OWA, pinball, CRPS, coverage).
* :mod:`~lstmcast.scoring.baselines` -- baseline forecasts on windows ``[N, L, C] -> [N, H, C]``.
* :mod:`~lstmcast.scoring.history` -- baselines from a series' whole history, with reasons.
* :mod:`~lstmcast.scoring.seasonality` -- seasonal periods from a pandas frequency.
* :mod:`~lstmcast.scoring.windows` -- a model's window forecasts scored next to the baselines.

:mod:`lstmcast.evaluation` re-exports all of it under the old names.
"""
