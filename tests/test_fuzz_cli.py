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
import zlib
from pathlib import Path

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, event, given, settings
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
def csv_files(draw) -> tuple[bytes, bool, list[str]]:
    """A file's bytes, whether it was drawn well-formed (about half are: a regular series or
    several, UTF-8, no odd values, enough rows) so that many examples reach training and predict
    (the rest carry the corruptions), and the options such a file needs (``--series-col id``)."""
    sep = draw(st.sampled_from(SEPARATORS))
    time_name = draw(st.sampled_from(TIME_NAMES))
    freq = draw(st.sampled_from(FREQS))
    zone = draw(st.sampled_from(ZONES))
    fmt = draw(st.sampled_from(DATE_FORMATS))
    # rare events come from a generator seeded by the draws: hypothesis favours the small end of a
    # range, so "integers(0, 19) == 0" would happen far more often than one time in twenty
    seed = draw(st.integers(0, 2**32 - 1))
    # (crc32, not hash(): str hashes change with each process, and CI's examples would too)
    rng = np.random.default_rng([seed, *(zlib.crc32(str(v).encode()) for v in (sep, time_name, freq, zone, fmt))])
    clean = rng.random() < 0.5
    if clean and freq in ("D", "W", "MS"):
        zone = None  # calendar steps across a DST change are 23 or 25 hours apart in UTC
    odd = 0.0 if clean else 1.0  # the rates of the rare corruptions
    if not clean and rng.random() < 0.1:  # now and then, raw bytes or text
        return draw(st.one_of(st.binary(max_size=300), st.text(max_size=300).map(str.encode))), clean, []
    rows = int(rng.integers(40, 120)) if clean else (
        int(rng.integers(0, 120)) if rng.random() < 0.8 else draw(st.integers(0, 120)))
    decimal = "," if sep != "," and rng.random() < 0.5 else "."
    times = pd.date_range("2024-03-29", periods=rows, freq=freq, tz=zone)
    if rows and not clean and rng.random() < 0.6:  # gaps, duplicates or shuffled rows
        keep = draw(st.lists(st.integers(0, rows - 1), min_size=1, max_size=rows))
        order = sorted(keep) if draw(st.booleans()) else keep
        times = times[order]
    many = rng.random() < 0.3
    names = ["a", "b", ""] if not clean and rng.random() < 0.2 else ["a", "b"]
    if many and clean:  # each series over the whole range, one after the other
        ids = [name for name in names for _ in times]
        times = times.append([times] * (len(names) - 1))
    n = len(times)
    if not (many and clean):
        ids = [str(rng.choice(names)) if many else "s" for _ in range(n)]
    scale = draw(st.sampled_from([1.0, 1e-14, 1e9, 0.0]))
    columns = {"y": np.sin(np.arange(n) / 4) * scale + draw(st.sampled_from([0.0, 1e6, -3.0])),
               "x": rng.normal(size=n)}
    lines = []
    header = [time_name, "id", "y", "x"] if many else [time_name, "y", "x"]
    lines.append(sep.join(header))
    iso_times = fmt is None or (zone not in (None, "UTC") and rng.random() < 0.5)  # keep the offsets
    if clean and (zone not in (None, "UTC") or not _keeps_the_step(fmt, freq)):
        iso_times = True  # a well-formed file: no duplicated local times, no format coarser than the step
    for i, t in enumerate(times):
        stamp = t.isoformat() if iso_times or rng.random() < 0.0003 * odd else t.strftime(fmt)  # rarely, mixed
        values = [f"{columns['y'][i]:.6g}", f"{columns['x'][i]:.4f}"]
        if decimal == ",":
            values = [v.replace(".", ",") for v in values]
        if rng.random() < 0.02 * odd:
            values[int(rng.integers(0, 2))] = str(rng.choice(ODD_VALUES))
        fields = [stamp, *([ids[i]] if many else []), *values]
        if rng.random() < 0.006 * odd:
            fields.append("5")  # an extra field
        lines.append(sep.join(fields))
    text = ("\r\n" if rng.random() < 0.2 else "\n").join(lines) + "\n"
    prefix = "\ufeff" if rng.random() < 0.1 else ""
    encoding = "utf-8" if clean else str(rng.choice(["utf-8"] * 6 + ["latin-1", "utf-16"]))
    needs = ["--series-col", "id"] if clean and many else []
    return (prefix + text).encode(encoding, errors="replace"), clean, needs


def _keeps_the_step(fmt: str | None, freq: str) -> bool:
    """Whether ``fmt`` writes times finely enough for ``freq`` (``%Y-%m`` cannot write hours)."""
    fine = {"%d.%m.%Y %H:%M", "%d/%m/%Y %H:%M"}
    return fmt is None or fmt in fine or (freq in ("D", "W", "MS") and fmt != "%Y-%m") or freq == "MS"


def option_list(content: bytes, clean: bool = False) -> list[str]:
    """Option values from a generator seeded by the file (so that each file gets its own); fewer
    of them for a well-formed file."""
    import hashlib

    rng = np.random.default_rng(int.from_bytes(hashlib.sha256(content).digest()[:8], "little"))
    rate = 0.3 if clean else 1.0
    options = []
    for flag in sorted(OPTION_VALUES):
        if rng.random() < 0.06 * rate:
            options += [flag, str(rng.choice(OPTION_VALUES[flag]))]
    for setting in SETTINGS:
        if rng.random() < 0.015 * rate:
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


@given(case=csv_files(), suffix=st.sampled_from([".csv", ".txt", ".tsv"]))
@settings(max_examples=EXAMPLES, deadline=None, derandomize=EXAMPLES <= 50,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
def test_cli_never_tracebacks(case, suffix):
    content, clean, needs = case
    options = option_list(content, clean)
    options += needs if "--series-col" not in options else []
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / f"data{suffix}"
        data.write_bytes(content)
        out = Path(tmp) / "model"
        base = ["--set", "train.max_epochs=1", "--set", "model.hidden_size=4", "--quiet"]
        base += [] if "--input-length" in options else ["--input-length", "4"]
        base += [] if "--target" in options else ["--target", "y"]
        code, err = run(["train", "--data", str(data), "--out", str(out), *base, *options])
        event(f"train exit {code}" + (" (a well-formed file)" if clean else ""))
        assert code in (0, 2), (code, err[-3000:])
        assert "Traceback" not in err, err[-3000:]
        if code == 2:
            assert "error:" in err, err[-3000:]  # a message, not silence
        if code == 0:
            code, err = run(["predict", "--model", str(out), "--data", str(data)])
            assert code in (0, 2) and "Traceback" not in err, (code, err[-3000:])
