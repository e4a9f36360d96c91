"""The two-phase fit behind :meth:`lstmcast.Forecaster.fit`, one concern per module.

* :mod:`~lstmcast.fitting.parts` -- which series learn; each scaled, padded and split
  (:class:`TrainPart`).
* :mod:`~lstmcast.fitting.train` -- the ensemble members on the validation split, then the final fit on every window
  on every window with validation's epoch count and learning-rate schedule.
* :mod:`~lstmcast.fitting.validation` -- validation windows, scores next to the baselines,
  conformal spread factors.
* :mod:`~lstmcast.fitting.meta` -- what meta.json says about the fit and the run.
* :mod:`~lstmcast.fitting.device` -- the torch device, threads and deterministic kernels.
"""
