"""A property-based fuzzer of the command line: hypothesis writes CSV files (separators, decimal
commas, quoting, dates of many formats and offsets, gaps, duplicates, missing and non-numeric
values, extra fields, BOMs, CRLF) and picks option values, then runs ``train`` (one epoch of a
tiny model) and, when it succeeds, ``predict``, in-process through ``main()``.

Every run must end with exit 0 or a message and exit 2: an exception escaping ``main()`` (which
pytest shows as a traceback) or any other exit status fails the test.

CI runs a few examples (``LSTMCAST_FUZZ_EXAMPLES``, default 12, well under a minute). For a
longer run by hand::

    LSTMCAST_FUZZ_EXAMPLES=500 python -m pytest tests/test_fuzz_cli.py -q -p no:cacheprovider
"""

from __future__ import annotations

import contextlib
import io
import os
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lstmcast.cli import main

EXAMPLES = int(os.environ.get("LSTMCAST_FUZZ_EXAMPLES", "12"))
TIME_NAMES = ["date", "time", "ds", "timestamp", "week_ending", "month", "", "when", "Date"]
SEPARATORS = [",", ";", "\t", "|"]
FREQS = ["h", "30min", "D", "W", "MS", "min"]
ZONES = [None, "UTC", "Europe/Berlin", "+10:00", "America/New_York"]
DATE_FORMATS = [None, "%d.%m.%Y %H:%M", "%m/%d/%Y", "%d/%m/%Y %H:%M", "%Y%m%d", "%Y-%m"]
ODD_VALUES = ["", "nan", "NaN", "inf", "-inf", "abc", "1,5", '"2,5"', '"3"', "1e400", "1_000", "TRUE", " 4 ", "--"]
OPTION_VALUES = {
    "--input-length": ["1", "2", "6", "0", "-3", "100000", "99999999999"],
    "--horizon": ["1", "3", "0", "500"],
    "--fill": ["ffill", "interpolate", "drop"],
    "--seed": ["0", "7", str(2**63), str(2**70)],
    "--device": ["cpu", "auto", "cpu:abc", "mps", "cuda:7", "tpu"],
    "--series-col": ["id", "series", "nope", "date", "y"],
    "--target": ["y", "x", "date", "nope", "id"],
    "--time-col": ["date", "ds", "nope", "y"],
}
SETTINGS = ["model.hidden_size=0", "model.hidden_size=1000000000", "train.threads=9999999999",
            "train.batch_size=1", "train.learning_rate=nan", "data.scaler=standard", "data.scaler=none",
            "model.head=quantile", "model.head=gaussian", "model.num_layers=2", "model.bidirectional=true",
            "model.attention=true", "model.attention_heads=3", "data.val_fraction=0", "data.test_fraction=0.5",
            "data.calendar_features=true", "model.patch_length=4", "model.dropout=2", "train.seed=-1",
            "data.normalization=mean", "model.strategy=recursive", "data.fill_gaps=true", "nosection.key=1",
            "model.quantiles=[0.9,0.1]", "train.device='cpu:abc'", "model.forget_bias=inf"]


@st.composite
def csv_files(draw) -> bytes:
    # rare events come from a seeded generator: hypothesis favours the small end of a range, so
    # "integers(0, 19) == 0" would happen far more often than one time in twenty
    sep = draw(st.sampled_from(SEPARATORS))
    time_name = draw(st.sampled_from(TIME_NAMES))
    freq = draw(st.sampled_from(FREQS))
    zone = draw(st.sampled_from(ZONES))
    fmt = draw(st.sampled_from(DATE_FORMATS))
    # rare events come from a generator seeded by the draws: hypothesis favours the small end of a
    # range, so "integers(0, 19) == 0" would happen far more often than one time in twenty
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng([seed, *(hash(v) % 2**31 for v in (sep, time_name, freq, str(zone), str(fmt)))])
    if rng.random() < 0.05:  # now and then, raw bytes or text
        return draw(st.one_of(st.binary(max_size=300), st.text(max_size=300).map(str.encode)))
    rows = int(rng.integers(0, 120)) if rng.random() < 0.8 else draw(st.integers(0, 120))
    decimal = "," if sep != "," and rng.random() < 0.5 else "."
    times = pd.date_range("2024-03-29", periods=rows, freq=freq, tz=zone)
    if rows and rng.random() < 0.3:  # gaps, duplicates or shuffled rows
        keep = draw(st.lists(st.integers(0, rows - 1), min_size=1, max_size=rows))
        order = sorted(keep) if draw(st.booleans()) else keep
        times = times[order]
    n = len(times)
    scale = draw(st.sampled_from([1.0, 1e-14, 1e9, 0.0]))
    columns = {"y": np.sin(np.arange(n) / 4) * scale + draw(st.sampled_from([0.0, 1e6, -3.0])),
               "x": rng.normal(size=n)}
    many = rng.random() < 0.3
    names = ["a", "b", ""] if rng.random() < 0.2 else ["a", "b"]
    ids = [str(rng.choice(names)) if many else "s" for _ in range(n)]
    lines = []
    header = [time_name, "id", "y", "x"] if many else [time_name, "y", "x"]
    lines.append(sep.join(header))
    iso_times = fmt is None or (zone not in (None, "UTC") and rng.random() < 0.5)  # keep the offsets
    for i, t in enumerate(times):
        stamp = t.isoformat() if iso_times or rng.random() < 0.0003 else t.strftime(fmt)  # rarely, a mixed format
        values = [f"{columns['y'][i]:.6g}", f"{columns['x'][i]:.4f}"]
        if decimal == ",":
            values = [v.replace(".", ",") for v in values]
        if rng.random() < 0.01:
            values[int(rng.integers(0, 2))] = str(rng.choice(ODD_VALUES))
        fields = [stamp, *([ids[i]] if many else []), *values]
        if rng.random() < 0.003:
            fields.append("5")  # an extra field
        lines.append(sep.join(fields))
    text = ("\r\n" if rng.random() < 0.2 else "\n").join(lines) + "\n"
    prefix = "\ufeff" if rng.random() < 0.1 else ""
    encoding = str(rng.choice(["utf-8"] * 8 + ["latin-1", "utf-16"]))
    return (prefix + text).encode(encoding, errors="replace")


def option_list(content: bytes) -> list[str]:
    """Option values from a generator seeded by the file (so that each file gets its own)."""
    import hashlib

    rng = np.random.default_rng(int.from_bytes(hashlib.sha256(content).digest()[:8], "little"))
    options = []
    for flag in sorted(OPTION_VALUES):
        if rng.random() < 0.06:
            options += [flag, str(rng.choice(OPTION_VALUES[flag]))]
    for setting in SETTINGS:
        if rng.random() < 0.015:
            options += ["--set", setting]
    if rng.random() < 0.1:
        options.append("--fill-gaps")
        if "--fill" not in options and rng.random() < 0.7:
            options += ["--fill", str(rng.choice(["ffill", "interpolate"]))]
    return options


def run(argv: list[str]) -> tuple[int, str]:
    """main() in-process; an exception escaping it fails the example."""
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            code = main(argv)
        except SystemExit as exc:  # argparse: usage errors exit 2 with a message
            code = exc.code if isinstance(exc.code, int) else 2
    return code, err.getvalue()


@given(content=csv_files(), suffix=st.sampled_from([".csv", ".txt", ".tsv"]))
@settings(max_examples=EXAMPLES, deadline=None, derandomize=EXAMPLES <= 50,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
def test_cli_never_tracebacks(content, suffix):
    options = option_list(content)
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / f"data{suffix}"
        data.write_bytes(content)
        out = Path(tmp) / "model"
        base = ["--set", "train.max_epochs=1", "--set", "model.hidden_size=4", "--quiet"]
        base += [] if "--input-length" in options else ["--input-length", "4"]
        base += [] if "--target" in options else ["--target", "y"]
        code, err = run(["train", "--data", str(data), "--out", str(out), *base, *options])
        assert code in (0, 2), (code, err[-3000:])
        assert "Traceback" not in err, err[-3000:]
        if code == 2:
            assert "error:" in err, err[-3000:]  # a message, not silence
        if code == 0:
            code, err = run(["predict", "--model", str(out), "--data", str(data)])
            assert code in (0, 2) and "Traceback" not in err, (code, err[-3000:])
