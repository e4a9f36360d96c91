"""A property-based fuzzer of saved model directories: hypothesis mutates the files of a tiny
trained model (meta.json, config.json, scaler.json: values replaced by other JSON types, NaN,
huge or negative numbers, keys dropped or added, truncated bytes, binary junk; weights.safetensors:
truncated, header or data bytes flipped), with the checksums in meta.json either left stale or
recomputed (so that the checks behind the checksums are reached too), then runs
``lstmcast predict --model DIR --data F`` in-process and ``Forecaster.load``.

Every run must end with exit 0 or a message and exit 2 (``load`` returns or raises one of our
errors): a traceback or any other exit status fails the test.

CI runs a few examples (``LSTMCAST_FUZZ_EXAMPLES``, default 12, a few seconds). For a longer run
by hand::

    LSTMCAST_FUZZ_EXAMPLES=500 python -m pytest tests/test_fuzz_model_dir.py -q -p no:cacheprovider \
        --hypothesis-show-statistics

(the statistics show the share of examples refused with exit 2 and forecast with exit 0).
"""

from __future__ import annotations

import hashlib
import json
import math
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from lstmcast import Forecaster
from lstmcast.errors import LstmcastError
from lstmcast.persistence import CHECKED_FILES
from tests.conftest import tiny_config
from tests.test_fuzz_cli import EXAMPLES, run

JSON_FILES = ["meta.json", "config.json", "scaler.json"]
ODD_JSON = [None, True, False, 0, 1, -1, 2**70, -(2**70), 1e308, -1e308, math.nan, math.inf, -math.inf, 0.5,
            "", "x", "minmax", "../../etc/passwd", "/dev/zero", [], [1, 2], [[1.0], [2.0]], {}, {"a": 1},
            {"kind": "minmax", "offset": [0.0], "scale": [1.0]}]


@pytest.fixture(scope="module")
def saved(tmp_path_factory) -> tuple[Path, Path]:
    """A tiny model directory and a CSV it can forecast from, made once for the module."""
    root = tmp_path_factory.mktemp("fuzz_model")
    frame = pd.DataFrame({"date": pd.date_range("2024-01-01", periods=120, freq="h"),
                          "value": np.sin(np.arange(120) / 4)})
    data = root / "data.csv"
    frame.to_csv(data, index=False)
    model = Forecaster(tiny_config(train={"max_epochs": 1})).fit(frame).save(root / "model")
    return model, data


def _paths(doc: Any, prefix: tuple = ()) -> list[tuple]:
    """Every path (keys and indices) into a JSON document, the root included."""
    found = [prefix]
    if isinstance(doc, dict):
        for key, value in doc.items():
            found += _paths(value, (*prefix, key))
    elif isinstance(doc, list):
        for i, value in enumerate(doc[:8]):
            found += _paths(value, (*prefix, i))
    return found


def _edit(doc: Any, path: tuple, kind: str, value: Any) -> Any:
    """``doc`` with the node at ``path`` replaced (``set``), removed (``drop``) or given a new key
    (``add``); a removal from the root or from a scalar replaces it instead."""
    if not path:
        return value if kind != "add" or not isinstance(doc, dict) else {**doc, "fuzz": value}
    parent = doc
    for step in path[:-1]:
        parent = parent[step]
    last = path[-1]
    if kind == "drop":
        del parent[last]
    elif kind == "add" and isinstance(parent[last], dict):
        parent[last]["fuzz"] = value
    else:
        parent[last] = value
    return doc


@st.composite
def mutations(draw) -> list[tuple]:
    """One to three edits, each (file, how, arguments)."""
    edits = []
    for _ in range(draw(st.integers(1, 3))):
        name = draw(st.sampled_from([*JSON_FILES, "weights.safetensors"]))
        if name.endswith(".json"):
            how = draw(st.sampled_from(["set", "set", "set", "drop", "add", "truncate", "junk"]))
        else:
            how = draw(st.sampled_from(["truncate", "flip_header", "flip_data", "junk"]))
        edits.append((name, how, draw(st.integers(0, 2**16)), draw(st.sampled_from(ODD_JSON)),
                      draw(st.binary(min_size=1, max_size=64))))
    return edits


def _apply(model: Path, edit: tuple) -> None:
    name, how, where, value, junk = edit
    file = model / name
    raw = file.read_bytes()
    if how == "truncate":
        file.write_bytes(raw[:where % max(len(raw), 1)])
    elif how == "junk":
        file.write_bytes(junk)
    elif how in ("flip_header", "flip_data"):
        header = 8 + int.from_bytes(raw[:8], "little") if len(raw) >= 8 else len(raw)
        lo, hi = (0, min(header, len(raw))) if how == "flip_header" else (min(header, len(raw)), len(raw))
        if hi > lo:
            data = bytearray(raw)
            data[lo + where % (hi - lo)] ^= 1 << (where % 8) or 1
            file.write_bytes(bytes(data))
    else:
        try:
            doc = json.loads(raw)
        except ValueError:
            return  # an earlier edit broke it already
        paths = _paths(doc)
        target = paths[where % len(paths)]
        kind = "set" if how == "drop" and not target else how
        file.write_text(json.dumps(_edit(doc, target, kind, value)), encoding="utf-8")


def _recompute_checksums(model: Path) -> None:
    """Make meta.json's checksums match the files again, when meta.json still has a map of them."""
    try:
        meta = json.loads((model / "meta.json").read_bytes())
    except ValueError:
        return
    if isinstance(meta, dict) and isinstance(meta.get("sha256"), dict):
        for name in CHECKED_FILES:
            if (model / name).is_file():
                meta["sha256"][name] = hashlib.sha256((model / name).read_bytes()).hexdigest()
        (model / "meta.json").write_text(json.dumps(meta), encoding="utf-8")


@given(edits=mutations(), recompute=st.booleans())
@settings(max_examples=EXAMPLES, deadline=None, derandomize=EXAMPLES <= 50,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
def test_mutated_model_directories_never_traceback(saved, edits, recompute):
    model, data = saved
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(shutil.copytree(model, Path(tmp) / "model"))
        for edit in edits:
            _apply(copy, edit)
        if recompute:
            _recompute_checksums(copy)
        code, err = run(["predict", "--model", str(copy), "--data", str(data), "--out", str(Path(tmp) / "f.csv")])
        event(f"predict exit {code}")
        assert code in (0, 2), (code, edits, err[-3000:])
        assert "Traceback" not in err, (edits, err[-3000:])
        if code == 2:
            assert "error:" in err, (edits, err[-3000:])  # a message, not silence
        try:
            Forecaster.load(copy)
        except LstmcastError as exc:
            assert code == 2, (edits, exc)  # the CLI refused the same directory
