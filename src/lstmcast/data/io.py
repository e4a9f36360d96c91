"""The only reader of user files: CSV or Parquet in, a checked DataFrame out.

Every problem is reported with the file, column, row and value involved, and the fix. What is
decided from the content rather than said by the user (the delimiter, decimal commas, day-first
dates, which column holds the time, a conversion of mixed UTC offsets to UTC, filled missing
timestamps) is stated: each decision is a :class:`DataNote` warning and is listed in the
returned frame's ``attrs["notes"]``.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from lstmcast.errors import DataError, require

TIME_CANDIDATES = ("date", "time", "timestamp", "datetime", "ds")
CSV_SUFFIXES = (".csv", ".txt", ".tsv")
PARQUET_SUFFIXES = (".parquet", ".pq")
NIXTLA_COLUMNS = ("unique_id", "ds", "y")  # NeuralForecast / StatsForecast long format
_SEPARATORS = (",", ";", "\t", "|")
_DECIMAL_COMMA = re.compile(r"^\s*[-+]?\d+,\d+\s*$")
_NUMERIC_DATE = re.compile(r"^\s*(\d{1,2})([./-])(\d{1,2})\2(\d{2,4})\b")
_SNIFF_BYTES = 64 * 1024


class DataNote(UserWarning):
    """A decision taken from the content of the data (not an error): what was done, and how to
    say otherwise."""


def _note(notes: list[str], text: str) -> None:
    notes.append(text)
    warnings.warn(text, DataNote, stacklevel=3)


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


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a CSV or Parquet file, with clear errors for missing, unreadable or empty files.

    CSV: the delimiter (comma, semicolon, tab or bar) is sniffed from the first lines, and a
    file separated by semicolons or tabs whose numbers use decimal commas is read with them.
    A row with more fields than the header is refused (it would shift its values).
    """
    path = Path(path)
    if not path.exists():
        raise DataError(f"Data file {path} does not exist; check the path.")
    if path.is_dir():
        raise DataError(f"Data path {path} is a directory; give a CSV or Parquet file.")
    suffix = path.suffix.lower()
    notes: list[str] = []
    try:
        if suffix in PARQUET_SUFFIXES:
            require("pyarrow", "parquet")
            frame = pd.read_parquet(path)
        elif suffix in CSV_SUFFIXES:
            encoding = _bom_encoding(path)
            sep, decimal = _sniff(path, "\t" if suffix == ".tsv" else None, encoding)
            if sep != ("\t" if suffix == ".tsv" else ","):
                _note(notes, f"read {path.name} as {_SEP_NAMES[sep]}-separated"
                             + (" with decimal commas" if decimal == "," else ""))
            with warnings.catch_warnings():
                warnings.simplefilter("error", pd.errors.ParserWarning)
                frame = pd.read_csv(path, sep=sep, decimal=decimal, index_col=False, encoding=encoding)
        else:
            raise DataError(
                f"Data file {path} has suffix {suffix!r}; supported are .csv, .tsv, .txt "
                "(comma-, semicolon- or tab-separated) and .parquet."
            )
    except pd.errors.EmptyDataError:
        raise DataError(f"Data file {path} is empty; it needs a header line and data rows.") from None
    except pd.errors.ParserWarning as exc:  # index_col=False: a row with an extra field
        raise DataError(
            f"Data file {path} has rows with more fields than its header ({_extra_field_row(path)}); "
            "pandas would shift or drop their values. A decimal comma in a comma-separated file does "
            "this: write 1.5 instead of 1,5, quote such values, or separate the fields with ';'."
        ) from exc
    except (pd.errors.ParserError, UnicodeDecodeError, OSError, ValueError) as exc:
        if isinstance(exc, DataError):
            raise
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        hint = "Check that it is a valid, uncompressed file of that format."
        if isinstance(exc, UnicodeDecodeError):
            hint = ("The file is not UTF-8 text: save it as UTF-8 (from Latin-1, e.g. "
                    "iconv -f latin1 -t utf-8), or check that it is an uncompressed CSV file.")
        if "Expected" in first and "fields" in first:
            hint = ("Every row needs as many fields as the header; a decimal comma in a comma-separated "
                    "file adds one: write 1.5 instead of 1,5, quote such values, or separate fields with ';'.")
        raise DataError(
            f"Data file {path} could not be read as {'Parquet' if suffix in PARQUET_SUFFIXES else 'CSV'}: "
            f"{first}. {hint}"
        ) from exc
    if frame.empty:
        raise DataError(f"Data file {path} has a header but no data rows.")
    first_col = str(frame.columns[0])
    if first_col.startswith("Unnamed: 0") and pd.api.types.is_integer_dtype(frame[first_col]) \
            and np.array_equal(frame[first_col].to_numpy(), np.arange(len(frame))):
        frame = frame.drop(columns=first_col)  # the row numbers DataFrame.to_csv() writes
        _note(notes, f"dropped the unnamed first column of {path.name}: it holds row numbers 0..n-1 "
                     "(the index DataFrame.to_csv() writes)")
    frame.attrs["notes"] = notes
    return frame


_SEP_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "bar"}


def _bom_encoding(path: Path) -> str:
    """utf-16 for a file starting with a UTF-16 byte-order mark, else utf-8 (a UTF-8 BOM is dropped)."""
    with open(path, "rb") as handle:
        start = handle.read(2)
    return "utf-16" if start in (b"\xff\xfe", b"\xfe\xff") else "utf-8-sig"


def _sniff(path: Path, sep: str | None, encoding: str = "utf-8") -> tuple[str, str]:
    """(separator, decimal mark) from the first lines of a CSV file."""
    with open(path, "rb") as handle:
        head = handle.read(_SNIFF_BYTES)
    text = head.decode(encoding, errors="replace").lstrip("\ufeff")
    lines = [line for line in text.splitlines() if line.strip()]
    if len(head) == _SNIFF_BYTES and len(lines) > 1:
        lines = lines[:-1]  # the last line may be cut
    lines = lines[:50]
    if not lines:
        return sep or ",", "."
    if sep is None:
        counts = {s: [_count_outside_quotes(line, s) for line in lines] for s in _SEPARATORS}
        consistent = [s for s in _SEPARATORS if counts[s][0] > 0 and len(set(counts[s])) == 1]
        if consistent:
            sep = max(consistent, key=lambda s: counts[s][0])
        else:  # no separator splits every line alike: the one the header uses most
            sep = max(_SEPARATORS, key=lambda s: (counts[s][0], s == ","))
            sep = sep if counts[sep][0] > 0 else ","
    decimal = "."
    if sep != ",":
        fields = [f.strip().strip('"') for line in lines[1:] for f in line.split(sep)]
        if any(_DECIMAL_COMMA.match(f) for f in fields) and not any(re.fullmatch(r"[-+]?\d+\.\d+", f) for f in fields):
            decimal = ","
    return sep, decimal


def _count_outside_quotes(line: str, sep: str) -> int:
    count, quoted = 0, False
    for char in line:
        if char == '"':
            quoted = not quoted
        elif char == sep and not quoted:
            count += 1
    return count


def _extra_field_row(path: Path) -> str:
    import csv

    with open(path, encoding="utf-8", errors="replace", newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader, [])
        for number, row in enumerate(reader, start=2):
            if len(row) > len(header):
                return f"line {number} has {len(row)} fields, the header {len(header)}: {','.join(row)[:80]!r}"
    return "the header has fewer fields than the rows"


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
        out.index = _parse_time(frame[time_name], time_name, source, notes)
    else:
        out.index = pd.RangeIndex(len(out), name="step")
    _check_order(out, series_col, source)
    out = _check_regular(out, list(columns), series_col, fill, fill_gaps, source, notes)
    out = _handle_missing(out, list(columns), fill, source, series_col)
    out.attrs["notes"] = notes
    return out


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
        if isinstance(value, str) and _DECIMAL_COMMA.match(value):
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


def _parse_time(column: pd.Series, name: str, source: str, notes: list[str] | None = None) -> pd.Index:
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


def _check_regular(out: pd.DataFrame, columns: list[str], series_col: str | None, fill: str | None,
                   fill_gaps: bool, source: str, notes: list[str]) -> pd.DataFrame:
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
                a, b = found.largest_at
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
        if len(index) >= 2:
            mine = infer_frequency(index)
            if not same_step(mine, freq):
                raise DataError(
                    f"The data is spaced at a step of {_step_text(mine)}, but the model was trained on data at "
                    f"a step of {_step_text(freq)}; its forecast would be dated and shaped at the wrong step. "
                    f"Give data at the model's step (resample to '{freq}'), or train a model on this data."
                )
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
