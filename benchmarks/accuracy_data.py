"""The accuracy suite's datasets: loaders, official holdouts, published figures. No torch.

Each dataset becomes a :class:`Task`: a list of :class:`Series` (full values, where training
ends, and the forecast origins scored), the horizon, the seasonal period(s), made-up regular
dates and the published figures of its protocol (../shared/data/README.md).

    task = load_task("m3_quarterly", data_dir)
    task.series[0].train            # what every method may see
    task.series[0].windows()        # [(history, truth), ...] one pair per scored origin

Holdouts (documented in docs/accuracy.md):

* ``m4_hourly``: the official 48 test values of each of the 414 series; season 24.
* ``m3_yearly`` / ``m3_quarterly`` / ``m3_other``: the official 6 / 8 / 8 test values;
  season 1 / 4 / 1; made-up dates 'YS' / 'QS' / 'YS' ("other" has no calendar: yearly-like).
* ``etth1`` / ``etth2``: univariate OT, horizon 24. Training rows 0..11519 (the Informer
  protocol's train + validation rows); the test rows 11520..14399 are scored at 120
  non-overlapping origins 11520, 11544, ..., 14376, each forecast from all rows before it.
  MAE / MSE on the protocol's z-score scale (train rows 0..8639, population std).
* ``demand``: Taylor's half-hourly demand, the last week (336 steps) from the 3696 before it;
  seasons 48 and 336; made-up dates from 2000-06-05 00:00 every 30 minutes. MAE / MSE in MW.
* ``air_passengers``: Box & Jenkins' monthly airline passengers (144 months, 1949-1960), the
  last 12 months from the 132 before; season 12. Read from ``statsforecast.utils`` (a benchmark
  requirement), not from ``data_dir``. MAPE / sMAPE in percent.
* ``m3_monthly`` (not in ``../shared/data``; only when asked for by ``--datasets``): the 1428
  monthly M3 series and their official 18 test values, read from ``M3C.xls`` (the file the
  International Institute of Forecasters distributes) in ``data_dir``; season 12; made-up
  dates 'MS'. A check of the defaults on data they were not chosen on.
* ``m4_weekly`` (not in ``../shared/data``; only when asked for): the 359 weekly M4 series and
  their official 13 test values, read from ``Weekly-train.csv`` / ``Weekly-test.csv`` (the M4
  competition's files) in ``data_dir``; season 1 for MASE, Naive2 and ETS / Theta, as in M4; the
  network sees weekly dates (made-up, from 1950-01-01). Data no default was chosen on.
* ``sm_*``: six small public series from ``statsmodels.datasets`` that no default was chosen on
  (benchmarks/accuracy_unseen.py): the last horizon of each; sMAPE / MASE.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from accuracy_unseen import UNSEEN, unseen_task

from lstmcast.errors import DataError
from lstmcast.evaluation import baselines as B
from lstmcast.evaluation import protocols as P

__all__ = ["DATASETS", "OPTIONAL", "PUBLISHED", "Series", "Task", "load_task", "subsample"]

DATASETS = ("m4_hourly", "m3_yearly", "m3_quarterly", "m3_other", "etth1", "etth2", "demand", "air_passengers",
            *UNSEEN)
"""Every dataset of the suite, in table order (the ``sm_*`` rows: benchmarks/accuracy_unseen.py)."""
OPTIONAL = ("m3_monthly", "m4_weekly")
"""Datasets read only when named: their files are not in ../shared/data (:func:`load_task`)."""
M3_XLS = "M3C.xls"
M3_MONTHLY_HORIZON = 18
M3_XLS_URL = "https://forecasters.org/resources/time-series-data/m3-competition/"
M4_WEEKLY_FILES = ("Weekly-train.csv", "Weekly-test.csv")
M4_WEEKLY_HORIZON = 13
M4_URL = "https://github.com/Mcompetitions/M4-methods (Dataset/Train, Dataset/Test)"

ETT_TRAIN_END = 11520
ETT_TEST_END = 14400
ETT_HORIZON = 24
DEMAND_TEST = 336
AIR_TEST = 12

# Published figures of each protocol, from ../shared/data/README.md: {metric: {method: value}}.
PUBLISHED: dict[str, dict[str, dict[str, float]]] = {
    "m4_hourly": {
        "smape": {"Naive": 43.003, "sNaive": 13.912, "Naive2": 18.383, "RNN": 14.698,
                  "ES-LSTM (winner)": 9.328},
        "mase": {"sNaive": 1.193, "Naive2": 2.395},
        "owa": {"RNN": 1.036, "ES-LSTM (winner)": 0.440},
    },
    "m3_yearly": {"smape": {"Naive2": 17.88, "ARIMA": 17.73, "ForecastPro": 17.14, "Theta": 16.90,
                            "N-BEATS-G": 16.2, "N-BEATS-I+G": 15.93}},
    "m3_quarterly": {"smape": {"Naive2": 9.95, "ARIMA": 10.26, "ForecastPro": 9.77, "Theta": 8.96,
                               "N-BEATS-G": 8.92, "N-BEATS-I+G": 8.84}},
    "m3_other": {"smape": {"Naive2": 6.30, "ARIMA": 5.06, "ForecastPro": 4.60, "Theta": 4.41,
                           "N-BEATS-G": 4.19, "N-BEATS-I+G": 4.24}},
    "m3_monthly": {"smape": {"Theta": 13.85}},  # Makridakis & Hibon (2000), the M3 winner, h = 1..18
    # M4's "Evaluation and Ranks.xlsx" (M4-methods repository), sheet Point Forecasts-Frequency, Weekly
    "m4_weekly": {
        "smape": {"Naive2": 9.161, "Theta": 9.093, "Comb": 8.944, "ES-LSTM (winner)": 7.817,
                  "best Weekly (Darin & Stellwagen)": 6.582},
        "mase": {"Naive2": 2.777, "Theta": 2.637, "ES-LSTM (winner)": 2.356},
        "owa": {"Theta": 0.971, "ES-LSTM (winner)": 0.851},
    },
    "etth1": {},
    "etth2": {},
    "demand": {},
    "air_passengers": {},
}


@dataclass(frozen=True)
class Series:
    """One series: ``values [T]`` (training part then test part), ``train_end`` (rows a model
    may learn from) and the scored ``origins`` (each forecast from ``values[:origin]``)."""

    id: str
    values: np.ndarray
    train_end: int
    origins: tuple[int, ...]

    @property
    def train(self) -> np.ndarray:
        return self.values[: self.train_end]

    def windows(self, horizon: int) -> list[tuple[np.ndarray, np.ndarray]]:
        """``[(history [origin], truth [H]), ...]``, one pair per origin."""
        return [(self.values[:o], self.values[o : o + horizon]) for o in self.origins]


@dataclass(frozen=True)
class Task:
    """A dataset under its protocol (see the module docstring)."""

    name: str
    title: str
    horizon: int
    season: int
    seasons: tuple[int, ...]
    freq: str
    start: str
    metrics: tuple[str, ...]
    series: list[Series]
    sha256: str
    scale: tuple[float, float] = (0.0, 1.0)  # (offset, scale) of the scored values (ETT z-score)
    notes: str = ""
    published: dict[str, dict[str, float]] = field(default_factory=dict)

    def dates(self, length: int) -> pd.DatetimeIndex:
        """Made-up regular timestamps for ``length`` steps from :attr:`start` at :attr:`freq`."""
        return pd.date_range(self.start, periods=length, freq=self.freq)


def _periods(freq: str) -> tuple[int, tuple[int, ...]]:
    """(main period, all periods) of ``freq``, from lstmcast's own frequency table."""
    return B.seasonality_from_freq(freq), B.seasonal_periods(freq)


def _sha(*paths: Path) -> str:
    digest = hashlib.sha256()
    for path in paths:
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def _m4_series(rows: list[P.M4Series]) -> list[Series]:
    """M4 series as suite series: training part then official test part, one origin at its start."""
    return [Series(s.id, np.concatenate([s.train, s.test]), s.train.size, (s.train.size,)) for s in rows]


def _m4_hourly(data_dir: Path) -> Task:
    train, test = data_dir / "m4_hourly_train.csv", data_dir / "m4_hourly_test.csv"
    series = _m4_series(P.load_m4_hourly(train, test))
    return Task("m4_hourly", "M4 Hourly", 48, *_periods("h"), "h", "2000-01-01", ("smape", "mase", "owa"),
                series, _sha(train, test), notes="official test set; sMAPE/MASE/OWA as in M4",
                published=PUBLISHED["m4_hourly"])


def _read_m3(path: Path, category: str) -> dict[str, tuple[int, np.ndarray]]:
    frame = pd.read_csv(path)
    expected = ["series_id", "category", "period", "horizon", "n_train"]
    if list(frame.columns[:5]) != expected:
        raise DataError(f"{os.fspath(path)!r} is not the suite's M3 file: expected columns {expected} "
                        f"then v1..vN, got {list(frame.columns[:5])}.")
    frame = frame[frame["category"] == category]
    values = frame.filter(regex=r"^v\d+$").to_numpy(np.float64)
    out = {}
    for sid, horizon, row in zip(frame["series_id"], frame["horizon"], values, strict=True):
        n = int(np.sum(~np.isnan(row)))
        out[str(sid)] = (int(horizon), row[:n].copy())
    return out


_M3 = {"m3_yearly": ("yearly", 6, "YS", "M3 yearly"),
       "m3_quarterly": ("quarterly", 8, "QS", "M3 quarterly"),
       "m3_other": ("other", 8, "YS", "M3 other")}


def _m3(name: str, data_dir: Path) -> Task:
    category, horizon, freq, title = _M3[name]
    train_path, test_path = data_dir / "m3_other_train.csv", data_dir / "m3_other_test.csv"
    trains, tests = _read_m3(train_path, category), _read_m3(test_path, category)
    series = []
    for sid, (h, train) in trains.items():
        test = tests[sid][1]
        if h != horizon or test.size != horizon:
            raise DataError(f"M3 series {sid!r} has horizon {h} and {test.size} test values; the "
                            f"{category} protocol has {horizon}. Use the unmodified files.")
        series.append(Series(sid, np.concatenate([train, test]), train.size, (train.size,)))
    return Task(name, title, horizon, *_periods(freq), freq, "1900-01-01", ("smape", "mase"), series,
                _sha(train_path, test_path),
                notes="official test set; sMAPE in the M3 variant 200|y-f|/(y+f)",
                published=PUBLISHED[name])


def _m3_monthly(data_dir: Path) -> Task:
    path = data_dir / M3_XLS
    if not path.is_file():
        raise DataError(f"m3_monthly reads {M3_XLS} (the M3 competition's data, {M3_XLS_URL}) from --data-dir; "
                        f"{os.fspath(path)!r} does not exist. Download it into a directory and pass --data-dir DIR "
                        f"(with --datasets m3_monthly alone, or with the ../shared/data files copied beside it).")
    try:
        frame = pd.read_excel(path, sheet_name="M3Month", engine="xlrd")
    except ImportError as exc:
        raise DataError(f"reading {os.fspath(path)!r} needs xlrd: pip install -r requirements/bench.txt ({exc}).") from exc
    if list(frame.columns[:3]) != ["Series", "N", "NF"]:
        raise DataError(f"{os.fspath(path)!r}: sheet M3Month should start with columns Series, N, NF; got "
                        f"{list(frame.columns[:3])}. Use the unmodified file.")
    values = frame.iloc[:, 6:].to_numpy(np.float64)
    series = []
    for sid, n, h, row in zip(frame["Series"], frame["N"], frame["NF"], values, strict=True):
        y = row[: int(n)]
        end = int(n) - M3_MONTHLY_HORIZON
        if int(h) != M3_MONTHLY_HORIZON or np.isnan(y).any():
            raise DataError(f"M3 series {str(sid).strip()!r} has horizon {h} or missing values; the monthly "
                            f"protocol has {M3_MONTHLY_HORIZON} and none. Use the unmodified file.")
        series.append(Series("N" + str(sid).replace("N", "").strip().zfill(4), y.copy(), end, (end,)))
    return Task("m3_monthly", "M3 monthly", M3_MONTHLY_HORIZON, *_periods("MS"), "MS", "1900-01-01", ("smape", "mase"), series,
                _sha(path), notes="official test set; sMAPE in the M3 variant 200|y-f|/(y+f)",
                published=PUBLISHED["m3_monthly"])


def _m4_weekly(data_dir: Path) -> Task:
    train, test = (data_dir / f for f in M4_WEEKLY_FILES)
    for path in (train, test):
        if not path.is_file():
            raise DataError(f"m4_weekly reads {' and '.join(M4_WEEKLY_FILES)} ({M4_URL}) from --data-dir; "
                            f"{os.fspath(path)!r} does not exist. Put both files in a directory and pass --data-dir DIR.")
    series = _m4_series(P.load_m4(train, test, M4_WEEKLY_HORIZON, "Weekly"))
    # season 1 as in M4 (MASE, Naive2 and the statistical baselines); the network sees weekly dates
    return Task("m4_weekly", "M4 Weekly", M4_WEEKLY_HORIZON, 1, B.seasonal_periods("W"), "W", "1950-01-01",
                ("smape", "mase", "owa"), series, _sha(train, test),
                notes="official test set; sMAPE/MASE/OWA as in M4 (seasonality 1)", published=PUBLISHED["m4_weekly"])


def _ett(name: str, data_dir: Path) -> Task:
    path = data_dir / ("ETTh1.csv" if name == "etth1" else "ETTh2.csv")
    frame = P.load_ett(path)
    mean, std = P.ett_scaler(frame)
    values = frame["OT"].to_numpy(np.float64)[:ETT_TEST_END]
    origins = tuple(range(ETT_TRAIN_END, ETT_TEST_END - ETT_HORIZON + 1, ETT_HORIZON))
    series = [Series("OT", values, ETT_TRAIN_END, origins)]
    start = str(frame.index[0])
    return Task(name, name.replace("etth", "ETTh") + " OT", ETT_HORIZON, *_periods("h"), "h", start,
                ("mae", "mse"), series, _sha(path), scale=(float(mean[-1]), float(std[-1])),
                notes="train rows 0..11519; 120 origins in test rows 11520..14399; z-scored MAE/MSE",
                published=PUBLISHED[name])


def _demand(data_dir: Path) -> Task:
    path = data_dir / "taylor_halfhourly_electricity.csv"
    frame = pd.read_csv(path)
    if list(frame.columns) != ["t", "demand_mw"]:
        raise DataError(f"{os.fspath(path)!r}: expected columns ['t', 'demand_mw'], got {list(frame.columns)}.")
    values = frame["demand_mw"].to_numpy(np.float64)
    end = values.size - DEMAND_TEST
    return Task("demand", "Half-hourly demand", DEMAND_TEST, *_periods("30min"), "30min", "2000-06-05",
                ("mae", "mse"), [Series("demand", values, end, (end,))], _sha(path),
                notes="last week (336 steps) from the 3696 before it; MAE/MSE in MW",
                published=PUBLISHED["demand"])


def _air_passengers() -> Task:
    try:  # a benchmark-only dependency (requirements/bench.txt), which ships the series
        from statsforecast.utils import AirPassengers
    except ImportError:
        raise DataError("air_passengers is read from statsforecast.utils.AirPassengers; install the benchmark "
                        "requirements: pip install -r requirements/bench.txt") from None
    values = np.asarray(AirPassengers, dtype=np.float64)
    end = values.size - AIR_TEST
    return Task("air_passengers", "AirPassengers", AIR_TEST, *_periods("MS"), "MS", "1949-01-01",
                ("mape", "smape"), [Series("air", values, end, (end,))],
                hashlib.sha256(values.tobytes()).hexdigest()[:16],
                notes="Box & Jenkins' monthly airline passengers 1949-1960: the last 12 months from the 132 "
                      "before; MAPE / sMAPE in percent", published=PUBLISHED["air_passengers"])


def load_task(name: str, data_dir: str | os.PathLike[str]) -> Task:
    """The dataset ``name`` (one of :data:`DATASETS`) read from ``data_dir``."""
    data_dir = Path(data_dir)
    if name == "m4_hourly":
        return _m4_hourly(data_dir)
    if name in _M3:
        return _m3(name, data_dir)
    if name == "m3_monthly":
        return _m3_monthly(data_dir)
    if name == "m4_weekly":
        return _m4_weekly(data_dir)
    if name in ("etth1", "etth2"):
        return _ett(name, data_dir)
    if name == "demand":
        return _demand(data_dir)
    if name == "air_passengers":
        return _air_passengers()
    if name in UNSEEN:
        return unseen_task(name, Task, Series)
    raise ValueError(f"Unknown dataset {name!r}. Valid names: {', '.join(DATASETS + OPTIONAL)}.")


def subsample(task: Task, max_series: int | None) -> Task:
    """The first ``max_series`` series of a fixed shuffle (seed 0) of ``task``, in file order.

    Deterministic: the same ``max_series`` always gives the same series, and a larger one
    contains every series of a smaller one.
    """
    if max_series is None or max_series >= len(task.series):
        return task
    if max_series < 1:
        raise ValueError(f"--max-series must be a positive integer, got {max_series}.")
    order = np.random.default_rng(0).permutation(len(task.series))
    keep = sorted(order[:max_series].tolist())
    return Task(**{**task.__dict__, "series": [task.series[i] for i in keep]})
