"""A check of generalisation: small public series that no default was chosen on.

They ship with statsmodels (``statsmodels.datasets``, a benchmark requirement through
statsforecast), so they need no file in the data directory. Each is scored on its last
horizon from everything before it (one origin), by sMAPE (M4 definition, percent) and MASE
(the main seasonal period; 1 for yearly data), averaged over series. The defaults were fixed
before these rows were first run (docs/accuracy.md): they measure how the defaults carry over,
not what they were tuned on.

* ``sm_co2``: Mauna Loa CO2, weekly (2284 weeks from 1958-03-29; 59 missing weeks filled by
  linear interpolation), the last 52 weeks.
* ``sm_elec_equip``: euro-area electrical equipment orders, monthly 1995-2016 (257 months), last 12.
* ``sm_elnino``: El Nino sea surface temperature, monthly 1950-2010 (732 months), last 12.
* ``sm_nile``: Nile river volume at Aswan, yearly 1871-1970 (100 years), last 10.
* ``sm_sunspots``: yearly sunspot numbers 1700-2008 (309 years), last 11 (about one cycle).
* ``sm_macro``: eight US quarterly macro series 1959-2009 (statsmodels' macrodata: real GDP,
  consumption, investment, government spending, disposable income, CPI, M1, population; 203
  quarters), the last 8 quarters.
"""

from __future__ import annotations

import hashlib
import importlib
from typing import Any

import numpy as np

from lstmcast.errors import DataError
from lstmcast.evaluation import baselines as B

UNSEEN = ("sm_co2", "sm_elec_equip", "sm_elnino", "sm_nile", "sm_sunspots", "sm_macro")
MACRO_COLUMNS = ("realgdp", "realcons", "realinv", "realgovt", "realdpi", "cpi", "m1", "pop")

# name -> (statsmodels dataset, title, horizon, frequency, first date)
_SPECS: dict[str, tuple[str, str, int, str, str]] = {
    "sm_co2": ("co2", "Mauna Loa CO2 (weekly)", 52, "W-SAT", "1958-03-29"),
    "sm_elec_equip": ("elec_equip", "Electrical equipment orders (monthly)", 12, "MS", "1995-01-01"),
    "sm_elnino": ("elnino", "El Nino SST (monthly)", 12, "MS", "1950-01-01"),
    "sm_nile": ("nile", "Nile volume (yearly)", 10, "YS", "1871-01-01"),
    "sm_sunspots": ("sunspots", "Sunspots (yearly)", 11, "YS", "1700-01-01"),
    "sm_macro": ("macrodata", "US macro, 8 series (quarterly)", 8, "QS", "1959-01-01"),
}


def _frame(dataset: str) -> Any:
    try:
        module = importlib.import_module(f"statsmodels.datasets.{dataset}")
    except ImportError:
        raise DataError(f"statsmodels.datasets.{dataset} is not installed; install the benchmark requirements: "
                        "pip install --no-deps -r requirements/bench.txt") from None
    return module.load_pandas().data


def _columns(name: str) -> dict[str, np.ndarray]:
    """Series id -> values of the dataset ``name``."""
    data = _frame(_SPECS[name][0])
    if name == "sm_co2":
        return {"co2": data["co2"].interpolate().to_numpy(np.float64)}
    if name == "sm_elec_equip":
        return {"elec_equip": data.iloc[:, 0].to_numpy(np.float64)}
    if name == "sm_elnino":  # one row per year, one column per month
        return {"elnino": data.drop(columns="YEAR").to_numpy(np.float64).ravel()}
    if name == "sm_nile":
        return {"nile": data["volume"].to_numpy(np.float64)}
    if name == "sm_sunspots":
        return {"sunspots": data["SUNACTIVITY"].to_numpy(np.float64)}
    return {c: data[c].to_numpy(np.float64) for c in MACRO_COLUMNS}


def unseen_task(name: str, task_cls: Any, series_cls: Any) -> Any:
    """The :class:`accuracy_data.Task` of one of :data:`UNSEEN` (classes passed in to keep this
    module free of a cycle)."""
    _, title, horizon, freq, start = _SPECS[name]
    columns = _columns(name)
    digest = hashlib.sha256()
    series = []
    for sid, values in columns.items():
        digest.update(values.tobytes())
        end = values.size - horizon
        series.append(series_cls(sid, values, end, (end,)))
    return task_cls(name, title, horizon, B.seasonality_from_freq(freq), B.seasonal_periods(freq), freq, start,
                    ("smape", "mase"), series, digest.hexdigest()[:16],
                    notes=f"statsmodels.datasets.{_SPECS[name][0]}: the last {horizon} steps from the rest; "
                          "sMAPE (M4, percent) / MASE averaged over series", published={})
