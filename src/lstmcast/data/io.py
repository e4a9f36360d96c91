"""The only reader of user files: CSV or Parquet in, a checked DataFrame out.

Every problem is reported with the file, column, row and value involved, and the fix. What is
decided from the content rather than said by the user (the delimiter, decimal commas, day-first
dates, which column holds the time, a conversion of mixed UTC offsets to UTC, filled missing
timestamps) is stated: each decision is a :class:`DataNote` warning and is listed in the
returned frame's ``attrs["notes"]``.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from lstmcast._json import sha256_file
from lstmcast.data.reading import (
    CSV_SUFFIXES,
    DECIMAL_COMMA,
    PARQUET_SUFFIXES,
    read_table,
)
from lstmcast.data.times import (
    TIME_CANDIDATES,
    Spacing,
    find_time_column,
    future_index,
    infer_frequency,
    parse_time,
    same_step,
    spacing,
)
from lstmcast.data.wording import DataNote
from lstmcast.data.wording import cap as _cap
from lstmcast.data.wording import names as _names
from lstmcast.data.wording import note as _note
from lstmcast.data.wording import where as _where
from lstmcast.errors import DataError

__all__ = ["CSV_SUFFIXES", "NIXTLA_COLUMNS", "PARQUET_SUFFIXES", "TIME_CANDIDATES", "DataNote", "Spacing",
           "as_pandas", "find_time_column", "future_index", "infer_frequency", "prepare_frame", "read_table",
           "same_step", "series_groups", "sha256_file", "spacing"]

NIXTLA_COLUMNS = ("unique_id", "ds", "y")  # NeuralForecast / StatsForecast long format


def as_pandas(frame: Any, source: str = "the data") -> pd.DataFrame:
    """A pandas DataFrame from a pandas, polars or pyarrow table (converted at the edge)."""
    if isinstance(frame, pd.DataFrame):
        return frame
    module = type(frame).__module__.split(".")[0]
    if module == "polars" and hasattr(frame, "to_dict") and hasattr(frame, "schema"):
        if hasattr(frame, "collect") and not hasattr(frame, "to_pandas"):
            frame = frame.collect()  # a LazyFrame
        try:
            return frame.to_pandas()
        except (ImportError, ModuleNotFoundError):  # polars converts through pyarrow when it can
            return pd.DataFrame(frame.to_dict(as_series=False))
    if module == "pyarrow" and hasattr(frame, "to_pandas") and hasattr(frame, "schema"):
        if hasattr(frame, "to_table"):  # a pyarrow dataset
            frame = frame.to_table()
        return frame.to_pandas()
    raise DataError(
        f"Expected a table for {source} (a pandas or polars DataFrame, or a pyarrow Table); got "
        f"{type(frame).__module__}.{type(frame).__name__}. Convert it with pandas.DataFrame(...)."
    )


def prepare_frame(
    frame: Any,
    columns: Sequence[str],
    *,
    time_col: str | None = None,
    series_col: str | None = None,
    fill: str | None = None,
    fill_gaps: bool = False,
    source: str = "the data",
) -> pd.DataFrame:
    """Check and tidy a frame: required numeric ``columns``, a sorted unique regular time index.

    ``frame`` may be a pandas or polars DataFrame or a pyarrow Table. Returns a new frame indexed
    by time (DatetimeIndex, or a RangeIndex when there is no time column) holding ``series_col``
    (if any) and ``columns`` as float64. Missing timestamps (gaps in a regular series) are
    refused, or with ``fill_gaps`` reindexed to the regular grid and filled by ``fill``;
    irregular spacing is refused. ``attrs["notes"]`` lists what was decided from the content.
    """
    frame = as_pandas(frame, source)
    if frame.empty:
        raise DataError(f"{_cap(source)} has no rows.")
    notes: list[str] = list(frame.attrs.get("notes", []))
    frame = frame.copy()
    if not isinstance(frame.index, pd.RangeIndex) and frame.index.name and (
            time_col is None or (time_col == frame.index.name and time_col not in frame.columns)):
        frame = frame.reset_index()  # a time index given by the caller becomes a column
    _check_columns(frame, columns, series_col, source)
    skip = [*columns, *([series_col] if series_col else [])]
    time_name = find_time_column(frame, time_col, source, skip=skip, notes=notes)
    roles = {"time column": time_name, "series column": series_col}
    for role, name in roles.items():
        if name is not None and name in columns:
            raise DataError(f"Column {name!r} of {source} is both the {role} and a column to read as values; "
                            "give each column one role (--time-col, --series-col, --target, --features).")
    if time_name is not None and time_name == series_col:
        raise DataError(f"Column {time_name!r} of {source} cannot be both the time column and the series column; "
                        "name the series id column with --series-col and the time column with --time-col.")
    out = pd.DataFrame(index=frame.index)
    if series_col is not None:
        _check_ids(frame[series_col], series_col, source, frame, time_name)
        ids = frame[series_col].astype("category")  # one small code per row, not a string per row
        out[series_col] = ids.cat.rename_categories([str(c) for c in ids.cat.categories])
    for column in columns:
        out[column] = _numeric(frame[column], column, source, frame, time_name)
    if time_name is not None:
        out.index = parse_time(frame[time_name], time_name, source, notes)
    else:
        out.index = pd.RangeIndex(len(out), name="step")
    _check_order(out, series_col, source)
    out = _check_regular(out, list(columns), series_col, fill, fill_gaps, source, notes)
    out = _handle_missing(out, list(columns), fill, source, series_col)
    out.attrs["notes"] = notes
    return out


def regular_arrays(frame: Any, columns: Sequence[str], *, time_col: str | None = None,
                   source: str = "the data") -> tuple[pd.Index, np.ndarray] | None:
    """The common case of :func:`prepare_frame` without building frames: one series (no series
    column), numeric ``columns`` with every value finite, and no time column or a datetime one at
    one fixed step. Returns (the time index, values [n, len(columns)] float64) exactly as
    ``prepare_frame`` would give them, or ``None`` for anything else, which ``prepare_frame``
    then checks, tidies and explains (a batch-1 ``predict`` costs a fraction of a millisecond)."""
    if not isinstance(frame, pd.DataFrame) or frame.empty or not isinstance(frame.index, pd.RangeIndex) \
            or "unique_id" in frame.columns or not all(c in frame.columns for c in columns):
        return None
    arrays = []
    for name in columns:
        column = frame[name]
        if not isinstance(column, pd.Series) or column.dtype.kind not in "fiu":
            return None
        arrays.append(column.to_numpy(np.float64))
    values = np.stack(arrays, axis=1)
    if not np.isfinite(values).all():
        return None
    notes: list[str] = []  # a time column found by its content is noted once, by whichever path takes it
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataNote)
        time_name = find_time_column(frame, time_col, source, skip=columns, notes=notes)
    if time_name is None:
        index: pd.Index = pd.RangeIndex(len(values), name="step")
    else:
        stamps = frame[time_name]
        if time_name in columns or not isinstance(stamps, pd.Series) or not isinstance(stamps.dtype, np.dtype) \
                or stamps.dtype.kind != "M":  # a tz-naive datetime64 column (a time zone takes the full path)
            return None
        steps = np.diff(stamps.to_numpy().view(np.int64))
        if len(steps) and (steps[0] <= 0 or not (steps == steps[0]).all()):  # NaT, unsorted or uneven
            return None
        index = pd.DatetimeIndex(stamps.to_numpy(), name=time_name)
    for text in notes:
        warnings.warn(text, DataNote, stacklevel=3)
    return index, values


def _check_columns(frame: pd.DataFrame, columns: Sequence[str], series_col: str | None, source: str) -> None:
    """Every named column is present; a many-series Nixtla frame names its series column."""
    missing = [c for c in columns if c not in frame.columns]
    if series_col is not None and series_col not in frame.columns:
        missing.append(series_col)
    if missing:
        raise DataError(
            f"Column(s) {', '.join(repr(c) for c in missing)} not found in {source}; "
            f"columns are: {_names(frame.columns)}."
        )
    if series_col is None and "unique_id" in frame.columns and "unique_id" not in columns \
            and frame["unique_id"].nunique(dropna=False) > 1:
        raise DataError(
            f"{_cap(source)} has a 'unique_id' column with {frame['unique_id'].nunique(dropna=False)} "
            "series (the NeuralForecast/StatsForecast long format unique_id, ds, y): name it as the series "
            "column with --series-col unique_id (DataConfig(series_col='unique_id'))."
        )


def _check_ids(ids: pd.Series, name: str, source: str, frame: pd.DataFrame, time_name: str | None) -> None:
    empty = ids.isna().to_numpy() | (ids.astype(str).str.strip() == "").to_numpy()
    if empty.any():
        row = int(np.flatnonzero(empty)[0])
        raise DataError(
            f"Series column {name!r} in {source} is empty in {int(empty.sum())} row(s), the first at "
            f"{_where(frame, row, time_name)}. Give every row its series id, or remove those rows."
        )


def _numeric(column: pd.Series, name: str, source: str, frame: pd.DataFrame, time_name: str | None) -> pd.Series:
    if pd.api.types.is_bool_dtype(column):
        return column.astype(np.float64)
    values = pd.to_numeric(column, errors="coerce")
    bad = values.isna() & column.notna()
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        where = _where(frame, row, time_name)
        value = column.iloc[row]
        hint = "Fix or remove those rows, or leave the column out."
        if isinstance(value, str) and DECIMAL_COMMA.match(value):
            hint = ("It looks like a decimal comma: write 1.5 instead of 1,5, or save the file with ';' "
                    "between fields (such files are read with decimal commas).")
        raise DataError(f"Column {name!r} in {source} has non-numeric values: {value!r} at {where}. {hint}")
    values = values.astype(np.float64)
    inf = np.isinf(values.to_numpy())
    if inf.any():
        row = int(np.flatnonzero(inf)[0])
        raise DataError(
            f"Column {name!r} in {source} has {int(inf.sum())} infinite value(s), the first at "
            f"{_where(frame, row, time_name)}. Replace them with real numbers or leave them empty and use --fill."
        )
    return values


def _check_regular(out: pd.DataFrame, columns: list[str], series_col: str | None, fill: str | None,
                   fill_gaps: bool, source: str, notes: list[str]) -> pd.DataFrame:
    steps = _steps_within_series(out, series_col)
    if steps is not None and len(steps) and bool((steps == steps[0]).all()):
        return out  # one fixed step in every series: regular (calendar steps take the pass below)
    groups = [("", None, out)] if series_col is None else [
        (f" series {key!r}", key, g) for key, g in out.groupby(series_col, sort=False, observed=True)]
    filled, total, changed = [], 0, False
    for label, key, group in groups:
        found = spacing(group.index)
        what = f"{_cap(source)}{' (' + label.strip() + ')' if label else ''}"
        if found.kind == "irregular":
            first = found.first
            detail = (f"the first odd one between {first[0]} and {first[1]}" if isinstance(first, tuple)
                      else f"the first odd one at {first}")
            steps = pd.Series(group.index).diff().iloc[1:]
            raise DataError(
                f"{what} is not regularly spaced: {found.off_grid} of {len(group) - 1} steps differ from the "
                f"most common step ({found.step}); steps range from {steps.min()} to {steps.max()}, {detail}. "
                "Resample it to a regular step before use, e.g. df.set_index(time).resample('1h').mean(), "
                "then fill the empty steps (--fill)."
            )
        if found.kind == "gaps":
            if not fill_gaps:
                a, b = found.largest_at or (None, None)  # set whenever kind == "gaps"
                raise DataError(
                    f"{what} has {found.missing} missing timestamp(s) at its step of {found.step}: the first "
                    f"at {found.first}, the largest gap {found.largest} step(s) between {a} and {b}. Fill them "
                    "with --fill-gaps and --fill ffill|interpolate (data.fill_gaps=true, data.fill), or "
                    "give complete data; nothing is filled silently."
                )
            group = group.reindex(found.grid)
            if series_col is not None:
                group[series_col] = pd.Categorical([str(key)] * len(group), categories=out[series_col].cat.categories)
            total += found.missing
            changed = True
        filled.append(group)
    if not changed:
        return out
    _note(notes, f"{source}: added {total} missing timestamp(s) on the regular grid (data.fill_gaps); "
                 f"their values are filled by --fill {fill}" if fill else
                 f"{source}: added {total} missing timestamp(s) on the regular grid (data.fill_gaps)")
    result = pd.concat(filled) if len(filled) > 1 else filled[0]
    result.index.name = out.index.name
    return result


def _handle_missing(out: pd.DataFrame, columns: list[str], fill: str | None, source: str,
                    series_col: str | None) -> pd.DataFrame:
    counts = out[columns].isna().sum()
    if not counts.any():
        return out
    if fill is None:
        parts = []
        for name, count in counts[counts > 0].items():
            first = int(np.flatnonzero(out[name].isna().to_numpy())[0])
            parts.append(f"{name!r}: {count} (first at row {first + 1}, time {out.index[first]})")
        raise DataError(
            f"{_cap(source)} has missing values in {'; '.join(parts)}. Choose how to fill them with "
            "--fill ffill|interpolate|drop (config key data.fill); nothing is guessed silently."
        )
    groups = [out] if series_col is None else [g for _, g in out.groupby(series_col, sort=False, observed=True)]
    filled = []
    for group in groups:
        group = group.copy()
        if fill == "ffill":
            group[columns] = group[columns].ffill().bfill()
        elif fill == "interpolate":
            group[columns] = group[columns].interpolate(method="linear", limit_direction="both")
        else:
            group = group.dropna(subset=columns)
        filled.append(group)
    out = pd.concat(filled) if len(filled) > 1 else filled[0]
    if out[columns].isna().any().any() or out.empty:
        raise DataError(f"{_cap(source)} has columns with no values at all; nothing can fill them.")
    return out


def series_groups(ids: pd.Series) -> tuple[np.ndarray, pd.Index, np.ndarray]:
    """Rows grouped by series in one pass: (codes per row, the keys in order of first appearance,
    a stable order that puts each series' rows together, keeping their order). A missing id has
    code -1."""
    codes, keys = pd.factorize(ids, sort=False)
    return codes, pd.Index(keys), np.argsort(codes, kind="stable")


def _steps_within_series(out: pd.DataFrame, series_col: str | None) -> np.ndarray | None:
    """Every step between consecutive rows of the same series (in the rows' order), as integers;
    None when the time index is not numeric or datetime-like. One pass for any number of series."""
    index = out.index
    if isinstance(index, pd.DatetimeIndex):
        values = index.asi8
    elif pd.api.types.is_integer_dtype(index.dtype):
        values = np.asarray(index, dtype=np.int64)
    else:
        return None
    if series_col is None:
        return np.diff(values)
    codes, _, order = series_groups(out[series_col])
    codes, values = codes[order], values[order]
    same = codes[1:] == codes[:-1]
    return np.diff(values)[same]


def _check_order(out: pd.DataFrame, series_col: str | None, source: str) -> None:
    steps = _steps_within_series(out, series_col)
    if steps is not None and bool((steps > 0).all()):
        return  # sorted, no duplicates, in every series (the per-series pass below names a problem)
    groups = [("", out.index)] if series_col is None else [
        (f" for series {key!r}", out.index[idx]) for key, idx in out.groupby(series_col, sort=False, observed=True).indices.items()
    ]
    for label, index in groups:
        values = np.asarray(index)
        if len(values) < 2:
            continue
        dup = pd.Index(values).duplicated()
        if dup.any():
            row = int(np.flatnonzero(dup)[0])
            hint = ("Aggregate or remove duplicates so each time appears once per series"
                    + ("; if the file holds several series, name their id column with --series-col"
                       if series_col is None else "") + ".")
            raise DataError(
                f"{_cap(source)} has duplicated timestamps{label}: {index[row]} appears more than once. {hint}"
            )
        order = values[1:] < values[:-1]
        if order.any():
            row = int(np.flatnonzero(order)[0]) + 1
            raise DataError(
                f"{_cap(source)} is not sorted by time{label}: {index[row]} comes after {index[row - 1]}. "
                "Sort the rows by time (e.g. df.sort_values(time_col))."
            )
