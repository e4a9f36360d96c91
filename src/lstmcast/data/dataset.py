"""Parquet datasets of many series, read shard by shard (pyarrow.dataset; the ``parquet`` extra).

A dataset is a directory of Parquet files holding one long table (time, series id, values):

    DIR/unique_id=A/part-0.parquet     partitioned by series (hive layout, as NeuralForecast,
    DIR/unique_id=B/part-0.parquet     Spark and ``pyarrow.dataset.write_dataset`` write it)
    DIR/part-0.parquet ...             or files holding many series, with a series column
                                       (row groups sorted by series keep reads selective)

:func:`open_dataset` lists the series and their row counts without reading any values (the
partition folders and the files' footers; for files without partitions, one pass over the series
column alone). :func:`assign` gives each of ``world`` processes a deterministic, row-balanced
share of the series, and :meth:`SeriesDataset.read` reads only the rows of the series asked for:
every process computes the same assignment on its own, with no communication.
"""

from __future__ import annotations

import dataclasses
import hashlib
import heapq
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from lstmcast.config import DataConfig
from lstmcast.data.io import PARQUET_SUFFIXES, TIME_CANDIDATES
from lstmcast.errors import DataError, require

DEFAULT_SERIES_COL = "unique_id"


@dataclass
class SeriesDataset:
    """An opened dataset: its files, the series column and every series with its row count.

    ``series`` maps each key (as text, the way models name series) to its row count, in key
    order; ``partitioned`` tells whether the series column is a partition field (a folder level).
    """

    path: Path
    series_col: str
    series: dict[str, int]
    partitioned: bool
    columns: list[str]
    _dataset: Any = field(repr=False)
    _values: dict[str, Any] = field(repr=False, default_factory=dict)  # key -> the typed value

    @property
    def n_rows(self) -> int:
        return sum(self.series.values())

    def shard(self, rank: int, world: int) -> list[str]:
        """The series keys process ``rank`` of ``world`` reads (see :func:`assign`)."""
        return assign(self.series, world, what=str(self.path))[rank]

    def read(self, keys: Sequence[str] | None = None, time_col: str | None = None) -> pd.DataFrame:
        """The rows of series ``keys`` (every series when None) as one long frame, the series
        column included, sorted by series and time (``time_col``, else a column named like
        ``ds`` / ``date`` / ``time``): the files of a dataset carry no order. Only the files
        (partitioned) or row groups (sorted files) that can hold those series are read."""
        pa = require("pyarrow", "parquet")
        pa_ds = require("pyarrow.dataset", "parquet")
        if keys is None:
            table = self._dataset.to_table()
        else:
            wanted = pa.array([self._values[k] for k in keys], type=self._dataset.schema.field(self.series_col).type)
            table = self._dataset.to_table(filter=pa_ds.field(self.series_col).isin(wanted))
        frame = table.to_pandas()
        if isinstance(frame[self.series_col].dtype, pd.CategoricalDtype):
            frame[self.series_col] = frame[self.series_col].astype(str)
        frame = frame[[c for c in self.columns if c in frame.columns]]
        time = time_col or next((c for c in frame.columns if str(c).lower() in TIME_CANDIDATES), None)
        if time is not None and time in frame.columns:
            frame = frame.sort_values([self.series_col, time], kind="stable", ignore_index=True)
        return frame


def is_dataset(path: str | Path) -> bool:
    """A directory (a dataset) rather than a single file."""
    return Path(path).is_dir()


def open_dataset(path: str | Path, series_col: str | None = None) -> SeriesDataset:
    """Open the Parquet dataset in directory ``path`` and list its series (see the module doc).

    ``series_col``: the series id column or partition field; by default the one partition field
    (``DIR/KEY=VALUE/``), else a column named ``unique_id``. Raises :class:`DataError` for a
    missing or empty directory, files whose columns or types differ, or no series column.
    """
    pa_ds = require("pyarrow.dataset", "parquet")
    root = Path(path)
    if not root.is_dir():
        raise DataError(f"Dataset directory {root} does not exist; check the path.")
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in PARQUET_SUFFIXES
                   and not any(part.startswith((".", "_")) for part in p.relative_to(root).parts))
    if not files:
        raise DataError(f"Dataset directory {root} holds no Parquet files (*.parquet); write the series there, "
                        "e.g. partitioned by series as DIR/unique_id=A/part-0.parquet.")
    dataset = pa_ds.dataset([str(f) for f in files], format="parquet", partitioning="hive",
                            partition_base_dir=str(root))
    fragments = list(dataset.get_fragments())
    partition_fields = _check_schemas(root, fragments, dataset.schema)
    columns = list(dataset.schema.names)
    col = _series_column(root, series_col, partition_fields, columns)
    partitioned = col in partition_fields
    values: dict[str, Any] = {}
    counts: dict[str, int] = {}
    if partitioned:
        for fragment in fragments:
            value = pa_ds.get_partition_keys(fragment.partition_expression).get(col)
            if value is None:
                raise DataError(f"{fragment.path} lies outside the {col}=VALUE folders of {root}; every file of a "
                                f"dataset partitioned by {col!r} must sit in one.")
            key = str(value)
            values[key] = value
            counts[key] = counts.get(key, 0) + fragment.metadata.num_rows
    else:
        _count_column(root, dataset, col, counts, values)
    if not counts:
        raise DataError(f"Dataset directory {root} has no rows.")
    order = sorted(counts)
    return SeriesDataset(root, col, {k: counts[k] for k in order}, partitioned, columns, dataset, values)


def _check_schemas(root: Path, fragments: list[Any], schema: Any) -> set[str]:
    """The partition field names; raises when two files disagree on columns or types."""
    pa_ds = require("pyarrow.dataset", "parquet")
    first, first_path, partition_fields = None, "", set()
    for fragment in fragments:
        partition_fields |= set(pa_ds.get_partition_keys(fragment.partition_expression))
        physical = {f.name: f.type for f in fragment.metadata.schema.to_arrow_schema()}
        if first is None:
            first, first_path = physical, fragment.path
            continue
        if physical != first:
            raise DataError(f"{fragment.path} and {first_path} have different columns or types "
                            f"({_schema_diff(first, physical)}); every file of dataset {root} must have the "
                            "same columns with the same types. Rewrite the odd file(s) with that schema.")
    return partition_fields


def _schema_diff(a: dict[str, Any], b: dict[str, Any]) -> str:
    only_a, only_b = sorted(set(a) - set(b)), sorted(set(b) - set(a))
    parts = [f"column {name!r} only in the second" for name in only_a]
    parts += [f"column {name!r} only in the first" for name in only_b]
    parts += [f"{name!r} is {b[name]} vs {a[name]}" for name in sorted(set(a) & set(b)) if a[name] != b[name]]
    return "; ".join(parts)


def _series_column(root: Path, given: str | None, partition_fields: set[str], columns: list[str]) -> str:
    if given is not None:
        if given not in columns:
            raise DataError(f"--series-col {given!r} is neither a column nor a partition field of dataset {root}; "
                            f"it has {', '.join(repr(c) for c in columns)}.")
        return given
    if len(partition_fields) == 1:
        return next(iter(partition_fields))
    if DEFAULT_SERIES_COL in columns:
        return DEFAULT_SERIES_COL
    found = f"partition fields {sorted(partition_fields)}" if partition_fields else "no KEY=VALUE folders"
    raise DataError(f"Dataset {root} has no series column: {found} and no column named {DEFAULT_SERIES_COL!r} "
                    f"(columns: {', '.join(repr(c) for c in columns)}). Name it with --series-col COL "
                    "(DataConfig.series_col), or write the dataset partitioned by series (DIR/unique_id=A/...).")


def _count_column(root: Path, dataset: Any, col: str, counts: dict[str, int], values: dict[str, Any]) -> None:
    """Rows per value of ``col``, one record batch at a time (only that column is read)."""
    pc = require("pyarrow.compute", "parquet")
    for batch in dataset.to_batches(columns=[col]):
        for item in pc.value_counts(batch.column(0)).to_pylist():
            if item["values"] is None:
                raise DataError(f"Series column {col!r} of dataset {root} holds missing ids; every row needs its "
                                "series id (drop or fill those rows).")
            key = str(item["values"])
            values[key] = item["values"]
            counts[key] = counts.get(key, 0) + int(item["counts"])


def assign(series: dict[str, int], world: int, what: str = "the dataset") -> list[list[str]]:
    """Series keys per process: the longest series first, each to the least-loaded process
    (ties: the lower rank), so rows are balanced; the same answer on every process. Each list
    is in key order."""
    if world < 1:
        raise ValueError(f"world must be at least 1; got {world}.")
    if len(series) < world:
        raise DataError(f"{what} holds {len(series)} series, fewer than the {world} processes training on it; "
                        f"launch at most {len(series)} (torchrun --nproc-per-node / --nnodes).")
    loads = [(0, rank) for rank in range(world)]
    shares: list[list[str]] = [[] for _ in range(world)]
    for key in sorted(series, key=lambda k: (-series[k], k)):
        load, rank = heapq.heappop(loads)
        shares[rank].append(key)
        heapq.heappush(loads, (load + series[key], rank))
    return [sorted(keys) for keys in shares]


def dataset_sha256(path: str | Path) -> str:
    """One SHA-256 over every Parquet file of the dataset (relative path and content), so a run
    can tell whether it resumes on the same data."""
    root = Path(path)
    digest = hashlib.sha256()
    for file in sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in PARQUET_SUFFIXES):
        digest.update(str(file.relative_to(root)).encode())
        with open(file, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def data_sha256(path: str | Path) -> str:
    """The SHA-256 of a data file, or :func:`dataset_sha256` of a dataset directory."""
    from lstmcast._json import sha256_file

    return dataset_sha256(path) if is_dataset(path) else sha256_file(Path(path))


def load_shard(path: str | Path, data: DataConfig, rank: int = 0, world: int = 1) -> tuple[pd.DataFrame, DataConfig]:
    """The rows of process ``rank``'s share of the dataset's series (all of them when ``world``
    is 1), and ``data`` with the dataset's series column filled in."""
    opened = open_dataset(path, data.series_col)
    frame = opened.read(opened.shard(rank, world) if world > 1 else None, data.time_col)
    if data.series_col != opened.series_col:
        data = dataclasses.replace(data, series_col=opened.series_col)
    return frame, data
