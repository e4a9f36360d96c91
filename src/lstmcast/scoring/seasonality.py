"""Seasonal periods from a pandas frequency: :func:`seasonality_from_freq` (the main one) and
:func:`seasonal_periods` (all of them)."""

from __future__ import annotations

import re

__all__ = ["MAX_PERIOD", "MAX_PRIMARY_PERIOD", "seasonal_periods", "seasonality_from_freq"]

# --------------------------------------------------------------------------- frequencies

# Each pandas base alias (old and new spellings) -> how one step relates to the natural cycles.
_NANOS = {**dict.fromkeys(["ns", "N"], 1), **dict.fromkeys(["us", "U"], 10**3),
          **dict.fromkeys(["ms", "L"], 10**6), **dict.fromkeys(["s", "S"], 10**9),
          **dict.fromkeys(["min", "T"], 60 * 10**9), **dict.fromkeys(["h", "H"], 3600 * 10**9)}
_DAY = 86_400 * 10**9
_CYCLES = (("second", 10**9), ("minute", 60 * 10**9), ("hour", 3600 * 10**9), ("day", _DAY), ("week", 7 * _DAY))
_PER_YEAR = {
    **dict.fromkeys(["M", "MS", "ME", "BM", "BMS", "BME", "CBM", "CBMS", "CBME"], 12),
    **dict.fromkeys(["SM", "SMS", "SME"], 24),
    **dict.fromkeys(["Q", "QS", "QE", "BQ", "BQS", "BQE"], 4),
    **dict.fromkeys(["Y", "YS", "YE", "A", "AS", "BA", "BAS", "BY", "BYS", "BYE"], 1),
}
_BUSINESS_HOUR = frozenset({"bh", "BH", "cbh", "CBH"})
_BUSINESS_DAY = frozenset({"B", "C"})

MAX_PRIMARY_PERIOD = 1440
"""Longest main period :func:`seasonality_from_freq` returns (a day of minutes)."""

MAX_PERIOD = 10080
"""Longest period :func:`seasonal_periods` lists (a week of minutes)."""

_FREQ_RE = re.compile(r"^\s*(\d*)\s*([A-Za-z]+)(?:-[A-Za-z0-9]+)?\s*$")


def _freq_string(freq: object) -> str | None:
    if freq is None or isinstance(freq, str):
        return freq
    freqstr = getattr(freq, "freqstr", None)  # a pandas DateOffset
    if isinstance(freqstr, str):
        return freqstr
    raise TypeError(
        f"freq must be a pandas frequency string such as 'h' or 'D' (or None), got "
        f"{type(freq).__name__}. For a DatetimeIndex pass index.freqstr."
    )


def _sub_daily(step: int) -> tuple[int, ...]:
    """Periods of a fixed step of ``step`` ns (< 1 day): the main cycle, then longer ones."""
    counts = {name: cycle // step for name, cycle in _CYCLES if cycle % step == 0 and cycle // step >= 2}
    primary: str | None = next((name for name in ("day", "hour", "minute", "second")
                                if name in counts and counts[name] <= MAX_PRIMARY_PERIOD), None)
    if primary is None:
        primary = "week" if counts.get("week", MAX_PRIMARY_PERIOD + 1) <= MAX_PRIMARY_PERIOD else None
    if primary is None:
        return ()
    names = [name for name, _ in _CYCLES]
    longer = [counts[n] for n in names[names.index(primary) + 1 :] if n in counts and counts[n] <= MAX_PERIOD]
    return (counts[primary], *longer)


def seasonal_periods(freq: object) -> tuple[int, ...]:
    """Every plausible seasonal period of data at frequency ``freq``, the main one first.

    A period is the number of steps in one natural cycle (day, week, year), kept when it is a
    whole number >= 2; ``()`` when there is none (yearly data, an unknown or irregular
    frequency, ``None``). ``freq`` is a pandas frequency string (any spelling or anchor, with a
    multiple: ``"30min"``, ``"W-SUN"``, ``"QS-OCT"``) or a pandas ``DateOffset``.

    ============================  ==================  ==============================
    frequency                     periods             cycles
    ============================  ==================  ==============================
    ``h``                         (24, 168)           day, week
    ``30min`` / ``15min``         (48, 336) / (96,    day, week
                                  672)
    ``min``                       (1440, 10080)       day, week
    ``s`` / ``10s``               (60, 3600) /        minute, hour / hour, day
                                  (360, 8640)
    ``D``                         (7, 365)            week, year
    ``B``                         (5,)                week (of business days)
    ``bh``                        (8, 40)             day, week (business hours)
    ``W``                         (52,)               year
    ``M`` / ``MS`` / ``ME``       (12,)               year
    ``SMS`` (semi-month)          (24,)               year
    ``Q`` / ``QS`` / ``QE``       (4,)                year
    ``Y`` / ``YS``                ()                  none
    ============================  ==================  ==============================

    Sub-daily steps take as main cycle the longest of day, hour, minute and second that spans
    at most :data:`MAX_PRIMARY_PERIOD` (1440) steps, then every longer cycle up to
    :data:`MAX_PERIOD` (10080) steps. A multiple divides the cycle when it can (``"2h"`` ->
    (12, 84)) and drops the cycles it does not divide (``"5h"`` -> ()). The year is
    365.25 days, rounded for daily and weekly steps (``"D"`` -> 365, ``"2W"`` -> 26).
    """
    text = _freq_string(freq)
    if text is None:
        return ()
    match = _FREQ_RE.match(text)
    if match is None:
        return ()
    k = int(match.group(1)) if match.group(1) else 1
    base = match.group(2)
    if k < 1:
        return ()
    out: list[int] = []
    if base in _NANOS:
        return _sub_daily(_NANOS[base] * k)
    if base == "D":
        if 7 % k == 0 and 7 // k >= 2:
            out.append(7 // k)
        out.append(round(365.25 / k))
    elif base == "W":
        out.append(round(365.25 / (7 * k)))
    elif base in _BUSINESS_DAY:
        out.append(5 // k if 5 % k == 0 else 0)
    elif base in _BUSINESS_HOUR:
        out += [8 // k if 8 % k == 0 else 0, 40 // k if 40 % k == 0 else 0]
    elif base in _PER_YEAR:
        per_year = _PER_YEAR[base]
        out.append(per_year // k if per_year % k == 0 else 0)
    return tuple(p for p in out if p >= 2)


def seasonality_from_freq(freq: str | None) -> int:
    """The main seasonal period for a pandas frequency; 1 when there is none or ``None``.

    The first of :func:`seasonal_periods`: hourly ``"h"`` -> 24 (daily cycle), half-hourly
    ``"30min"`` -> 48, ``"15min"`` -> 96, minutely ``"min"`` -> 1440 (all the daily cycle),
    secondly ``"s"`` -> 60, ``"D"`` -> 7 (weekly), business day ``"B"`` -> 5, business hour
    ``"bh"`` -> 8, ``"W"`` (any anchor) -> 52, monthly -> 12, semi-monthly -> 24, quarterly
    -> 4; yearly and anything unrecognised -> 1. Multi-seasonal data have more periods
    (half-hourly: 48 and 336): see :func:`seasonal_periods`.
    """
    periods = seasonal_periods(freq)
    return periods[0] if periods else 1

