"""File helpers shared by the model directory, runs, the CLI, tuning and backtests: plain JSON
values, atomic writes and file digests."""

from __future__ import annotations

import hashlib
import json
import math
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd


def jsonable(value: Any) -> Any:
    """Plain JSON types: numpy scalars to Python numbers, non-finite floats to null, timestamps to str."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, (np.floating, float)):
        value = float(value)
        return value if math.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, (pd.Timestamp, np.datetime64)):
        return str(value)
    return value


@contextmanager
def atomic_path(path: str | Path, durable: bool = True) -> Iterator[Path]:
    """The one way lstmcast writes an output file: the block writes to the temporary name this
    yields (beside ``path``: ``.NAME.tmpPID-THREAD``, so concurrent writers never share one), which is fsynced (``durable``) and renamed onto
    ``path`` when the block ends without an error, and removed when it does not. Any writer that
    takes a file name works: ``open``, ``torch.save``, ``savefig``, ``DataFrame.to_csv``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}-{threading.get_ident()}")
    try:
        yield tmp
        if durable:
            with open(tmp, "rb") as handle:
                os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_text_atomic(path: str | Path, text: str) -> Path:
    """Write ``text`` to ``path`` atomically (:func:`atomic_path`)."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def write_json_atomic(path: str | Path, payload: Any, indent: int = 2) -> Path:
    return write_text_atomic(path, json.dumps(jsonable(payload), indent=indent))


def sha256_file(path: str | Path) -> str:
    """Hex SHA-256 of a file's bytes, read in 1 MiB chunks (model checksums, run records, exports)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
