"""Reading user files: CSV (delimiter and decimal commas sniffed) or Parquet in, a DataFrame out,
with clear errors for missing, unreadable or empty files. Part of :mod:`lstmcast.data.io`."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from lstmcast.data.wording import note as _note
from lstmcast.errors import DataError, require

CSV_SUFFIXES = (".csv", ".txt", ".tsv")
PARQUET_SUFFIXES = (".parquet", ".pq")
_SEPARATORS = (",", ";", "\t", "|")
_SNIFF_BYTES = 64 * 1024
DECIMAL_COMMA = re.compile(r"^\s*[-+]?\d+,\d+\s*$")  # 1,5: a decimal comma


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
            sep, decimal = _delimiter(path, suffix, encoding, notes)
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
    return _tidy(frame, path, notes)


def _tidy(frame: pd.DataFrame, path: Path, notes: list[str]) -> pd.DataFrame:
    """Refuse a file without rows; drop the row numbers ``DataFrame.to_csv()`` writes."""
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


def _delimiter(path: Path, suffix: str, encoding: str, notes: list[str]) -> tuple[str, str]:
    """(separator, decimal mark) of a CSV file, stated when it is not the suffix's. A ``.tsv`` is
    read with tabs unless its header holds none: then it is sniffed like a ``.csv`` (a
    comma-separated file named ``.tsv``), and the note says the suffix was overruled."""
    sep, decimal = _sniff(path, "\t" if suffix == ".tsv" else None, encoding)
    if suffix == ".tsv" and _header_lacks_tabs(path, encoding):
        sep, decimal = _sniff(path, None, encoding)
        if sep != "\t":
            _note(notes, f"read {path.name} as {_SEP_NAMES[sep]}-separated"
                         + (" with decimal commas" if decimal == "," else "")
                         + ": its suffix .tsv says tab-separated, but its header has no tab "
                         "(rename it to .csv to read it without this note)")
            return sep, decimal
    if sep != ("\t" if suffix == ".tsv" else ","):
        _note(notes, f"read {path.name} as {_SEP_NAMES[sep]}-separated"
                     + (" with decimal commas" if decimal == "," else ""))
    return sep, decimal


def _header_lacks_tabs(path: Path, encoding: str) -> bool:
    with open(path, "rb") as handle:
        head = handle.read(_SNIFF_BYTES)
    lines = [line for line in head.decode(encoding, errors="replace").splitlines() if line.strip()]
    return bool(lines) and "\t" not in lines[0]


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
        if any(DECIMAL_COMMA.match(f) for f in fields) and not any(re.fullmatch(r"[-+]?\d+\.\d+", f) for f in fields):
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
