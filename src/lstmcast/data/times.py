"""The time axis of user data: which column holds the time, how its text is parsed (day-first,
mixed UTC offsets), its spacing (gaps, irregular steps) and frequency, and the forecast's dates.
Part of :mod:`lstmcast.data.io`."""

from __future__ import annotations

import functools
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from lstmcast.data.wording import names as _names
from lstmcast.data.wording import note as _note
from lstmcast.errors import DataError

TIME_CANDIDATES = ("date", "time", "timestamp", "datetime", "ds")
_NUMERIC_DATE = re.compile(r"^\s*(\d{1,2})([./-])(\d{1,2})\2(\d{2,4})\b")


def find_time_column(frame: pd.DataFrame, time_col: str | None, source: str,
                     skip: Sequence[str] = (), notes: list[str] | None = None) -> str | None:
    """The time column: the one named, else one called date/time/timestamp/datetime/ds, else
    the first text column (not in ``skip``) whose values are all dates (``week_ending``,
    ``month``, the unnamed index column ``DataFrame.to_csv()`` writes), stated in a note; else None."""
    if time_col is not None:
        if time_col not in frame.columns:
            raise DataError(
                f"Time column {time_col!r} not found in {source}; columns are: {_names(frame.columns)}."
            )
        return time_col
    for name in frame.columns:
        if str(name).lower() in TIME_CANDIDATES:
            return str(name)
    for name in frame.columns:
        if name in skip:
            continue
        column = frame[name]
        if pd.api.types.is_datetime64_any_dtype(column) or _looks_like_dates(column):
            if notes is not None:
                _note(notes, f"took column {str(name)!r} of {source} as the time column (its values are "
                             "dates); name another with --time-col (data.time_col)")
            return str(name)
    return None


def _looks_like_dates(column: pd.Series) -> bool:
    if pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column):
        return False
    sample = column.dropna().astype(str).head(50)
    if sample.empty or pd.to_numeric(sample, errors="coerce").notna().all():
        return False
    if not sample.str.contains(r"\d", regex=True).all():
        return False
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            parsed = pd.to_datetime(sample, errors="coerce", utc=True, format="mixed")
        except (ValueError, TypeError, OverflowError):
            return False
    return bool(parsed.notna().all())


def parse_time(column: pd.Series, name: str, source: str, notes: list[str] | None = None) -> pd.Index:
    notes = [] if notes is None else notes
    if pd.api.types.is_integer_dtype(column):
        return pd.Index(column.to_numpy(), name=name)
    if pd.api.types.is_datetime64_any_dtype(column):
        parsed = column
    else:
        text = column.astype("string")
        dayfirst = _day_first(text, name, source, notes)
        parsed = _to_datetime(text, dayfirst, name, source, notes)
    bad = parsed.isna()
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise DataError(
            f"Time column {name!r} in {source} has a value that is not a date/time: "
            f"{column.iloc[row]!r} at row {row + 1}. Fix it, or name the right column with --time-col."
        )
    return pd.DatetimeIndex(parsed, name=name)


def _to_datetime(text: pd.Series, dayfirst: bool, name: str, source: str, notes: list[str]) -> pd.Series:
    offsets = sorted(text.str.extract(r"([+-]\d\d:?\d\d|Z)\s*$", expand=False).dropna().unique())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "could not infer format": checked below
        if len(offsets) <= 1:
            try:
                return pd.to_datetime(text, errors="coerce", dayfirst=dayfirst)
            except (ValueError, TypeError) as exc:
                raise DataError(f"Time column {name!r} in {source} could not be read as dates: {exc}. "
                                "Write them as ISO 8601 (2024-01-31 13:00).") from None
        parsed = pd.to_datetime(text, errors="coerce", dayfirst=dayfirst, utc=True, format="mixed")
    _note(notes, f"time column {name!r} of {source} mixes UTC offsets ({', '.join(offsets[:4])}"
                 f"{', ...' if len(offsets) > 4 else ''}); converted every time to UTC (forecast times are in UTC)")
    return parsed


def _day_first(text: pd.Series, name: str, source: str, notes: list[str]) -> bool:
    """Whether dates like 01.02.2024 are day first: a first field above 12 says so, a second
    field above 12 says month first; dots mean day first; otherwise the reading with the more
    regular spacing wins (month first when both are alike, as pandas reads them)."""
    sample = text.dropna().head(5000)
    parts = sample.str.extract(_NUMERIC_DATE.pattern)
    if parts.empty or parts[0].isna().any():
        return False
    first, second = parts[0].astype(int), parts[2].astype(int)
    if (first > 12).any():
        if (second > 12).any():
            return False  # not a date pattern either way; the parse reports the bad value
        _note(notes, f"read the dates of {name!r} in {source} day first ({sample.iloc[int(np.argmax(first > 12))]!r} "
                     "has a day above 12)")
        return True
    if (second > 12).any():
        return False
    if (parts[1] == ".").all():
        _note(notes, f"read the dates of {name!r} in {source} day first (dd.mm.yyyy, the usual order with dots)")
        return True
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        readings = {flag: pd.to_datetime(sample, errors="coerce", dayfirst=flag) for flag in (False, True)}
    spread = {flag: pd.Series(r).diff().dropna().nunique() for flag, r in readings.items()}
    if spread[True] < spread[False]:
        _note(notes, f"read the dates of {name!r} in {source} day first: month first would space them irregularly")
        return True
    return False

_CALENDAR = (("MS", 28, 31), ("ME", 28, 31), ("QS", 89, 92), ("QE", 89, 92), ("YS", 365, 366), ("YE", 365, 366))
_MAX_GRID = 10  # a grid more than this many times the rows is not a gap but irregular spacing


@dataclass(frozen=True)
class Spacing:
    """How the times of one series are spaced: ``regular``, ``gaps`` (on a regular grid with
    missing points) or ``irregular``; ``grid`` is the regular index when there are gaps."""

    kind: str
    step: str = ""
    grid: pd.Index | None = None
    missing: int = 0
    first: Any = None
    largest: int = 0
    largest_at: tuple[Any, Any] | None = None
    off_grid: int = 0


def spacing(index: pd.Index) -> Spacing:
    """Detect the step of a sorted, unique time index and any gaps or irregular steps."""
    n = len(index)
    if n < 3:
        return Spacing("regular")
    if isinstance(index, pd.DatetimeIndex):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            freq = pd.infer_freq(index)
        if freq is not None:
            return Spacing("regular", _step_text(freq))
        diffs = pd.Series(index).diff().iloc[1:]
        step = diffs.mode().iloc[0]
        days = step / pd.Timedelta(days=1)
        for code, low, high in _CALENDAR:
            if low <= days <= high:
                offset = pd.tseries.frequencies.to_offset(code)
                if all(offset.is_on_offset(t) for t in index[:1000]) and (index.normalize() == index).all():
                    grid = pd.date_range(index[0], index[-1], freq=offset)
                    return _gaps(index, grid, code)
        if (index[-1] - index[0]) / step > _MAX_GRID * n:
            return _irregular(index, diffs, step)
        grid = pd.date_range(index[0], index[-1], freq=step)
        if not index.isin(grid).all():
            return _irregular(index, diffs, step)
        return _gaps(index, grid, _step_text(step))
    values = np.asarray(index)
    if not np.issubdtype(values.dtype, np.integer):
        return Spacing("regular")
    diffs = np.diff(values)
    uniq, counts = np.unique(diffs, return_counts=True)
    step = int(uniq[np.argmax(counts)])
    if len(uniq) == 1:
        return Spacing("regular", str(step))
    if step <= 0 or np.any((values - values[0]) % step) or (values[-1] - values[0]) // step > _MAX_GRID * n:
        return _irregular(index, pd.Series(diffs), step)
    grid = pd.Index(np.arange(values[0], values[-1] + 1, step), name=index.name)
    return _gaps(index, grid, str(step))


def _gaps(index: pd.Index, grid: pd.Index, step: str) -> Spacing:
    if len(grid) == len(index):
        return Spacing("regular", step)
    if not index.isin(grid).all():
        return Spacing("irregular", step, off_grid=int((~index.isin(grid)).sum()), first=index[~index.isin(grid)][0])
    where = grid.get_indexer(index)
    jumps = np.diff(where) - 1  # missing points between consecutive rows
    at = int(np.flatnonzero(jumps)[0])
    big = int(np.argmax(jumps))
    return Spacing("gaps", step, grid, missing=len(grid) - len(index), first=grid[where[at] + 1],
                   largest=int(jumps[big]), largest_at=(index[big], index[big + 1]))


def _irregular(index: pd.Index, diffs: pd.Series, step: Any) -> Spacing:
    off = (diffs != step).to_numpy()
    row = int(np.flatnonzero(off)[0])
    return Spacing("irregular", _step_text(step), off_grid=int(off.sum()), first=(index[row], index[row + 1]))


def _step_text(step: Any) -> str:
    if isinstance(step, (int, np.integer)):
        return str(int(step))
    freq = pd.tseries.frequencies.to_offset(step).freqstr
    return freq if freq[:1].isdigit() else f"1{freq}"


def infer_frequency(index: pd.Index) -> str | None:
    """A pandas frequency string for a DatetimeIndex, the step for an integer index, else None."""
    if isinstance(index, pd.DatetimeIndex):
        if len(index) >= 3:
            with warnings.catch_warnings():  # pandas 3 warns that infer_freq will return an offset
                warnings.simplefilter("ignore")
                freq = pd.infer_freq(index)
            if freq is not None:
                return getattr(freq, "freqstr", freq)
        if len(index) >= 2:
            step = pd.Series(index).diff().dropna().mode()
            if len(step):
                return pd.tseries.frequencies.to_offset(step.iloc[0]).freqstr
        return None
    if len(index) >= 2:
        return str(int(np.median(np.diff(np.asarray(index)))))
    return "1"


def same_step(a: str | None, b: str | None) -> bool:
    """Whether two frequency strings (``infer_frequency``) mean the same step."""
    if a is None or b is None or a == b:
        return True
    a_int, b_int = str(a).lstrip("-").isdigit(), str(b).lstrip("-").isdigit()
    if a_int or b_int:
        return a_int and b_int and int(a) == int(b)
    try:
        x, y = (pd.tseries.frequencies.to_offset(v) for v in (a, b))
    except ValueError:
        return True
    if isinstance(x, pd.offsets.Tick) and isinstance(y, pd.offsets.Tick):
        return x.nanos == y.nanos
    return x.n == y.n and x.rule_code[:1] == y.rule_code[:1]


def future_index(index: pd.Index, freq: str | None, steps: int) -> pd.Index:
    """The ``steps`` timestamps after the end of ``index``; refused when ``index`` is spaced at
    another step than ``freq`` (the model's)."""
    last = index[-1]
    if isinstance(index, pd.DatetimeIndex):
        if freq is None:
            raise DataError("Cannot infer the time step of the data to date the forecast; give regular timestamps.")
        tick = _tick_in_unit(freq, index)
        if tick is not None and len(index) >= 2 and bool((np.diff(index.asi8) == tick).all()):
            # at the model's fixed step already (the common case): no frequency inference per series
            ahead = (index.asi8[-1] + tick * np.arange(1, steps + 1)).astype(f"datetime64[{index.unit}]")
            times = pd.DatetimeIndex(ahead, name=index.name)  # (no freq: pandas would infer it again)
            return times if index.tz is None else times.tz_localize("UTC").tz_convert(index.tz)
        if len(index) >= 2:
            mine = infer_frequency(index)
            if not same_step(mine, freq):
                raise DataError(
                    f"The data is spaced at a step of {_step_text(mine)}, but the model was trained on data at "
                    f"a step of {_step_text(freq)}; its forecast would be dated and shaped at the wrong step. "
                    f"Give data at the model's step (resample to '{freq}'), or train a model on this data."
                )
        return pd.date_range(last, periods=steps + 1, freq=freq, name=index.name)[1:]
    if freq not in (None, "") and not str(freq).lstrip("-").isdigit():
        raise DataError(
            f"The model was trained on timestamped data (frequency {freq!r}), but this data has no "
            "date/time column; include the time column the model was trained with (--time-col)."
        )
    step = int(freq) if freq not in (None, "") else 1
    return pd.Index(last + step * np.arange(1, steps + 1), name=index.name)


def _tick_in_unit(freq: str, index: pd.DatetimeIndex) -> int | None:
    """A fixed step shorter than a day (hours, minutes, ...) in ``index``'s time unit; None for
    calendar steps (days, months, ...), whose length depends on the date and the time zone."""
    return _tick(str(freq), str(index.unit))


@functools.lru_cache(maxsize=64)
def _tick(freq: str, unit: str) -> int | None:  # once per (model frequency, unit), not per series
    try:
        offset = pd.tseries.frequencies.to_offset(freq)
    except ValueError:
        return None
    if not isinstance(offset, pd.offsets.Tick) or offset.nanos >= 86_400 * 10**9:
        return None
    per = {"ns": 1, "us": 10**3, "ms": 10**6, "s": 10**9}[unit]
    return int(offset.nanos) // per if offset.nanos % per == 0 else None
