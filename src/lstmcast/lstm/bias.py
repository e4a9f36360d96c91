"""Gate-bias initialisations: forget bias (Jozefowicz et al. 2015) and chrono (Tallec & Ollivier
2018). They live in :mod:`lstmcast.models.init`, so the forecasting models never import this
teaching package; this module re-exports them for the lessons."""

from lstmcast.models.init import set_chrono_bias, set_forget_bias

__all__ = ["set_chrono_bias", "set_forget_bias"]
