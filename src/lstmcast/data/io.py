"""The only reader of user files: CSV or Parquet in, a checked DataFrame out.

Every problem is reported with the file, column, row and value involved, and the fix.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from lstmcast.errors import DataError, require

TIME_CANDIDATES = ("date", "time", "timestamp", "datetime", "ds")
CSV_SUFFIXES = (".csv", ".txt", ".tsv")
PARQUET_SUFFIXES = (".parquet", ".pq")


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a CSV or Parquet file, with clear errors for missing, unreadable or empty files."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"Data file {path} does not exist; check the path.")
    if path.is_dir():
        raise DataError(f"Data path {path} is a directory; give a CSV or Parquet file.")
    suffix = path.suffix.lower()
    try:
        if suffix in PARQUET_SUFFIXES:
            require("pyarrow", "parquet")
            frame = pd.read_parquet(path)
        elif suffix in CSV_SUFFIXES:
            frame = pd.read_csv(path, sep="\t" if suffix == ".tsv" else ",")
        else:
            raise DataError(
                f"Data file {path} has suffix {suffix!r}; supported are .csv, .tsv, .txt "
                "(comma-separated) and .parquet."
            )
    except pd.errors.EmptyDataError:
        raise DataError(f"Data file {path} is empty; it needs a header line and data rows.") from None
    except (pd.errors.ParserError, UnicodeDecodeError, OSError, ValueError) as exc:
        if isinstance(exc, DataError):
            raise
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(
            f"Data file {path} could not be read as {'Parquet' if suffix in PARQUET_SUFFIXES else 'CSV'}: "
            f"{first}. Check that it is a valid, uncompressed file of that format."
        ) from exc
    if frame.empty:
        raise DataError(f"Data file {path} has a header but no data rows.")
    return frame


def find_time_column(frame: pd.DataFrame, time_col: str | None, source: str) -> str | None:
    """The time column: the one named, else one called date/time/timestamp/datetime/ds, else None."""
    if time_col is not None:
        if time_col not in frame.columns:
            raise DataError(
                f"Time column {time_col!r} not found in {source}; columns are: {_names(frame.columns)}."
            )
        return time_col
    for name in frame.columns:
        if str(name).lower() in TIME_CANDIDATES:
            return str(name)
    return None


def prepare_frame(
    frame: pd.DataFrame,
    columns: Sequence[str],
    *,
    time_col: str | None = None,
    series_col: str | None = None,
    fill: str | None = None,
    source: str = "the data",
) -> pd.DataFrame:
    """Check and tidy a frame: required numeric ``columns``, a sorted unique time index.

    Returns a new frame indexed by time (DatetimeIndex, or a RangeIndex when there is no time
    column) holding ``series_col`` (if any) and ``columns`` as float64.
    """
    if not isinstance(frame, pd.DataFrame):
        raise DataError(f"Expected a pandas DataFrame for {source}; got {type(frame).__name__}.")
    if frame.empty:
        raise DataError(f"{_cap(source)} has no rows.")
    frame = frame.copy()
    if not isinstance(frame.index, pd.RangeIndex) and time_col is None and frame.index.name:
        frame = frame.reset_index()  # a time index given by the caller becomes a column
    missing = [c for c in columns if c not in frame.columns]
    if series_col is not None and series_col not in frame.columns:
        missing.append(series_col)
    if missing:
        raise DataError(
            f"Column(s) {', '.join(repr(c) for c in missing)} not found in {source}; "
            f"columns are: {_names(frame.columns)}."
        )
    time_name = find_time_column(frame, time_col, source)
    out = pd.DataFrame(index=frame.index)
    if series_col is not None:
        ids = frame[series_col].astype("category")  # one small code per row, not a string per row
        out[series_col] = ids.cat.rename_categories([str(c) for c in ids.cat.categories])
    for column in columns:
        out[column] = _numeric(frame[column], column, source, frame, time_name)
    if time_name is not None:
        out.index = _parse_time(frame[time_name], time_name, source)
    else:
        out.index = pd.RangeIndex(len(out), name="step")
    out = _handle_missing(out, list(columns), fill, source, series_col)
    _check_order(out, series_col, source)
    return out


def _numeric(column: pd.Series, name: str, source: str, frame: pd.DataFrame, time_name: str | None) -> pd.Series:
    if pd.api.types.is_bool_dtype(column):
        return column.astype(np.float64)
    values = pd.to_numeric(column, errors="coerce")
    bad = values.isna() & column.notna()
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        where = _where(frame, row, time_name)
        raise DataError(
            f"Column {name!r} in {source} has non-numeric values: {column.iloc[row]!r} at {where}. "
            "Fix or remove those rows, or leave the column out."
        )
    values = values.astype(np.float64)
    inf = np.isinf(values.to_numpy())
    if inf.any():
        row = int(np.flatnonzero(inf)[0])
        raise DataError(
            f"Column {name!r} in {source} has {int(inf.sum())} infinite value(s), the first at "
            f"{_where(frame, row, time_name)}. Replace them with real numbers or leave them empty and use --fill."
        )
    return values


def _parse_time(column: pd.Series, name: str, source: str) -> pd.Index:
    if pd.api.types.is_integer_dtype(column):
        return pd.Index(column.to_numpy(), name=name)
    parsed = pd.to_datetime(column, errors="coerce")
    bad = parsed.isna()
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise DataError(
            f"Time column {name!r} in {source} has a value that is not a date/time: "
            f"{column.iloc[row]!r} at row {row + 1}. Fix it, or name the right column with --time-col."
        )
    return pd.DatetimeIndex(parsed, name=name)


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


def _check_order(out: pd.DataFrame, series_col: str | None, source: str) -> None:
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
            raise DataError(
                f"{_cap(source)} has duplicated timestamps{label}: {index[row]} appears more than once. "
                "Aggregate or remove duplicates so each time appears once per series."
            )
        order = values[1:] < values[:-1]
        if order.any():
            row = int(np.flatnonzero(order)[0]) + 1
            raise DataError(
                f"{_cap(source)} is not sorted by time{label}: {index[row]} comes after {index[row - 1]}. "
                "Sort the rows by time (e.g. df.sort_values(time_col))."
            )


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file's bytes (run manifests, tamper checks)."""
    import hashlib

    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


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


def future_index(index: pd.Index, freq: str | None, steps: int) -> pd.Index:
    """The ``steps`` timestamps after the end of ``index``."""
    last = index[-1]
    if isinstance(index, pd.DatetimeIndex):
        if freq is None:
            raise DataError("Cannot infer the time step of the data to date the forecast; give regular timestamps.")
        return pd.date_range(last, periods=steps + 1, freq=freq)[1:]
    if freq not in (None, "") and not str(freq).lstrip("-").isdigit():
        raise DataError(
            f"The model was trained on timestamped data (frequency {freq!r}), but this data has no "
            "date/time column; include the time column the model was trained with (--time-col)."
        )
    step = int(freq) if freq not in (None, "") else 1
    return pd.Index(last + step * np.arange(1, steps + 1), name=index.name)


def _where(frame: pd.DataFrame, row: int, time_name: str | None) -> str:
    text = f"row {row + 1}"
    if time_name is not None:
        text += f" (time {frame[time_name].iloc[row]})"
    return text


def _names(columns: Sequence) -> str:
    return ", ".join(repr(str(c)) for c in columns)


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]
