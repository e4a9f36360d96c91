"""The command line: every command on small data, and every bad input with its message."""

import atexit
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lstmcast.cli import main
from tests.conftest import dated_frame

FAST = ["--set", "train.max_epochs=2", "--set", "model.hidden_size=8", "--quiet"]


@pytest.fixture(scope="module")
def csv(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("data") / "hourly.csv"
    dated_frame(200).to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def model_dir(csv, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("model") / "m"
    code = main(["train", "--data", str(csv), "--target", "y", "--features", "x1", "--input-length", "24",
                 "--horizon", "6", "--out", str(out), *FAST])
    assert code == 0
    return out


def run_json(args, capsys) -> dict:
    capsys.readouterr()
    assert main([*args, "--json"]) == 0
    out = capsys.readouterr().out
    return json.loads(out)  # exactly one JSON object on stdout


def error_of(args, capsys) -> str:
    capsys.readouterr()
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return err


def test_demo_json(tmp_path, capsys):
    payload = run_json(["demo", "--out", str(tmp_path), *FAST], capsys)
    assert payload["noise_floor"] == 0.1
    assert set(payload["baselines"]) == {"naive"}
    assert "no seasonal period" in payload["baselines_missing"]["seasonal_naive"]  # said, not dropped
    assert payload["metrics"]["rmse"] > 0
    for key in ("loss_plot", "forecast_plot"):
        assert Path(payload["paths"][key]).stat().st_size > 1000
    assert (tmp_path / "model" / "weights.safetensors").is_file()


def test_train_writes_a_model_directory(model_dir):
    names = {p.name for p in model_dir.iterdir()}
    assert {"config.json", "scaler.json", "weights.safetensors", "meta.json", "metrics.json",
            "history.csv", "loss.png", "forecast.png"} <= names
    assert json.loads((model_dir / "config.json").read_text())["data"]["horizon"] == 6


def test_predict_writes_the_next_horizon(model_dir, csv, tmp_path, capsys):
    out = tmp_path / "forecast.csv"
    payload = run_json(["predict", "--model", str(model_dir), "--data", str(csv), "--out", str(out)], capsys)
    assert payload["rows"] == 6
    table = pd.read_csv(out)
    assert list(table.columns) == ["time", "target", "step", "mean", "q0.1", "q0.5", "q0.9"]  # median head
    assert table["time"].iloc[0] == "2024-01-09 08:00:00"


def test_evaluate_reports_baselines(model_dir, csv, capsys):
    payload = run_json(["evaluate", "--model", str(model_dir), "--data", str(csv)], capsys)
    assert set(payload["baselines"]) == {"naive", "seasonal_naive"}
    assert payload["season"] == 24
    assert set(payload["metrics"]) >= {"rmse", "mae", "smape"}


def test_config_file_and_overrides(csv, tmp_path, capsys):
    cfg = tmp_path / "c.toml"
    cfg.write_text("[data]\ninput_length = 16\n[model]\nhidden_size = 4\n[train]\nmax_epochs = 1\n")
    payload = run_json(["train", "--data", str(csv), "--target", "y", "--config", str(cfg), "--set",
                        "data.horizon=2", "--out", str(tmp_path / "m"), "--quiet"], capsys)
    saved = json.loads((tmp_path / "m" / "config.json").read_text())
    assert saved["data"]["input_length"] == 16 and saved["data"]["horizon"] == 2
    assert saved["model"]["hidden_size"] == 4 and payload["training"]["epochs"] == 1


# ------------------------------------------------------------------ bad input
def write(tmp_path, name, text) -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


# the --out of commands expected to fail before they write: one folder per test process (the
# suite runs in several), removed at exit, so that one that does train never meets another's run
_SCRATCH = Path(tempfile.mkdtemp(prefix="lstmcast-test-cli-"))
atexit.register(shutil.rmtree, _SCRATCH, True)
NEVER = str(_SCRATCH / "never")


def train_args(data, *extra):
    return ["train", "--data", data, "--target", "y", "--out", NEVER, *extra, *FAST]


def test_missing_file(capsys):
    assert "does not exist" in error_of(train_args("/no/such.csv"), capsys)


def test_empty_file(tmp_path, capsys):
    assert "is empty" in error_of(train_args(write(tmp_path, "e.csv", "")), capsys)
    assert "no data rows" in error_of(train_args(write(tmp_path, "h.csv", "y,x\n")), capsys)


def test_unreadable_file(tmp_path, capsys):
    path = tmp_path / "bad.parquet"
    path.write_bytes(b"not parquet at all")
    assert "could not be read as Parquet" in error_of(train_args(str(path)), capsys)
    assert "suffix '.xlsx'" in error_of(train_args(write(tmp_path, "a.xlsx", "y\n1\n")), capsys)


def test_unknown_column_lists_existing_ones(csv, capsys):
    err = error_of(["train", "--data", str(csv), "--target", "price", "--out", NEVER, *FAST], capsys)
    assert "'price' not found" in err and "columns are: 'date', 'y', 'x1', 'x2'" in err


def test_non_numeric_value_names_column_and_row(tmp_path, capsys):
    frame = dated_frame(100)
    frame["y"] = frame["y"].astype(object)
    frame.loc[41, "y"] = "n/a?"
    path = tmp_path / "d.csv"
    frame.to_csv(path, index=False)
    err = error_of(train_args(str(path)), capsys)
    assert "Column 'y'" in err and "'n/a?' at row 42" in err and "2024-01-02 17:00:00" in err


def test_missing_values_offer_fill(tmp_path, capsys):
    frame = dated_frame(100)
    frame.loc[[10, 11, 50], "y"] = np.nan
    path = tmp_path / "d.csv"
    frame.to_csv(path, index=False)
    err = error_of(train_args(str(path)), capsys)
    assert "'y': 3 (first at row 11" in err and "--fill ffill|interpolate|drop" in err
    assert main(train_args(str(path), "--fill", "interpolate", "--out", str(tmp_path / "m"))) == 0


def test_unsorted_and_duplicated_timestamps(tmp_path, capsys):
    frame = dated_frame(100)
    swapped = frame.copy()
    swapped.loc[[20, 21]] = swapped.loc[[21, 20]].to_numpy()
    path = tmp_path / "u.csv"
    swapped.to_csv(path, index=False)
    assert "not sorted by time" in error_of(train_args(str(path)), capsys)
    dup = frame.copy()
    dup.loc[30, "date"] = dup.loc[29, "date"]
    dup.to_csv(path, index=False)
    assert "duplicated timestamps: 2024-01-02 05:00:00" in error_of(train_args(str(path)), capsys)


def test_series_too_short(tmp_path, capsys):
    path = tmp_path / "s.csv"
    dated_frame(5).to_csv(path, index=False)
    err = error_of(train_args(str(path), "--input-length", "24", "--horizon", "4"), capsys)
    assert "too short to learn from" in err and "horizon=4" in err and "longest series has 5" in err
    # with the fractions of a benchmark protocol, the old minimum still applies
    dated_frame(30).to_csv(path, index=False)
    err = error_of(train_args(str(path), "--input-length", "24", "--horizon", "4", "--set", "data.test_fraction=0.2"),
                   capsys)
    assert "has 30 rows" in err and "need at least" in err


def test_horizon_and_input_length_must_be_positive(csv, capsys):
    assert "data.horizon must be an integer >= 1; got 0" in error_of(train_args(str(csv), "--horizon", "0"), capsys)
    assert "data.input_length must be an integer >= 1" in error_of(train_args(str(csv), "--input-length", "0"), capsys)


def test_bad_override(csv, capsys):
    err = error_of(train_args(str(csv), "--set", "model.hiden_size=3"), capsys)
    assert "Unknown key 'model.hiden_size'" in err and "hidden_size" in err


def test_predict_with_other_columns(model_dir, tmp_path, capsys):
    path = tmp_path / "p.csv"
    dated_frame(60).rename(columns={"x1": "z"}).to_csv(path, index=False)
    err = error_of(["predict", "--model", str(model_dir), "--data", str(path)], capsys)
    assert "'x1' not found" in err


def test_tampered_model_directory(model_dir, tmp_path, csv, capsys):
    import shutil

    copy = tmp_path / "m"
    shutil.copytree(model_dir, copy)
    config = json.loads((copy / "config.json").read_text())
    config["model"]["hidden_size"] = 99
    (copy / "config.json").write_text(json.dumps(config))
    assert "modified after the model was saved" in error_of(
        ["predict", "--model", str(copy), "--data", str(csv)], capsys)
    (copy / "scaler.json").unlink()
    assert "missing scaler.json" in error_of(["predict", "--model", str(copy), "--data", str(csv)], capsys)


@pytest.mark.slow
def test_real_process_exit_code_and_no_traceback(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "lstmcast.cli", "train", "--data", str(tmp_path / "none.csv"),
                           "--target", "y", "--out", str(tmp_path / "m")], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 2
    assert "does not exist" in proc.stderr and "Traceback" not in proc.stderr


def test_predict_without_the_time_column(model_dir, tmp_path, capsys):
    path = tmp_path / "p.csv"
    dated_frame(60).drop(columns="date").to_csv(path, index=False)
    err = error_of(["predict", "--model", str(model_dir), "--data", str(path)], capsys)
    assert "trained on timestamped data (frequency 'h')" in err


def test_many_series_from_the_cli(tmp_path, capsys):
    frames = []
    for k, key in enumerate(["north", "south"]):
        f = dated_frame(150, columns=1, seed=k)
        f["shop"] = key
        frames.append(f)
    path = tmp_path / "shops.csv"
    pd.concat(frames).to_csv(path, index=False)
    out = tmp_path / "m"
    assert main(["train", "--data", str(path), "--series-col", "shop", "--target", "y", "--input-length", "24",
                 "--horizon", "2", "--out", str(out), *FAST]) == 0
    renamed = tmp_path / "renamed.csv"
    pd.concat(frames).rename(columns={"shop": "store"}).to_csv(renamed, index=False)
    payload = run_json(["predict", "--model", str(out), "--data", str(renamed), "--series-col", "store"], capsys)
    assert [row["series"] for row in payload["forecast"]] == ["north", "north", "south", "south"]
    scores = run_json(["evaluate", "--model", str(out), "--data", str(path)], capsys)
    assert scores["n_windows"] > 0
    err = error_of(["predict", "--model", str(out), "--data", str(path), "--series-col", "nope"], capsys)
    assert "--series-col 'nope' is not a column" in err


def test_progress_is_plain_log_lines_when_not_a_terminal(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path), "--set", "train.max_epochs=3", "--set", "model.hidden_size=4"]) == 0
    err = capsys.readouterr().err
    assert "epoch    1/3 train " in err and " lr 0.001" in err  # epoch, losses, learning rate
    assert "trained 3 epochs in" in err and "\x1b[" not in err  # no terminal control codes


def test_resume_refuses_changed_data_and_new_settings(tmp_path, capsys):
    import shutil

    data = tmp_path / "d.csv"
    dated_frame(200).to_csv(data, index=False)
    run_dir = tmp_path / "m.partial"
    run_dir.mkdir()
    (run_dir / "checkpoint.pt").write_bytes(b"")
    from lstmcast.config import ForecastConfig
    from lstmcast.data.io import sha256_file

    record = {"data": str(data), "data_sha256": sha256_file(data), "config": ForecastConfig().to_dict(), "argv": []}
    (run_dir / "run.json").write_text(json.dumps(record))
    err = error_of(["train", "--resume", str(tmp_path / "m"), "--set", "train.max_epochs=3"], capsys)
    assert "--resume continues a run with its saved config; drop --set/--config" in err
    changed = tmp_path / "other.csv"
    shutil.copy(data, changed)
    with open(changed, "a") as handle:
        handle.write("2024-02-01 00:00:00,0,0,0\n")
    err = error_of(["train", "--resume", str(tmp_path / "m"), "--data", str(changed)], capsys)
    assert "differs from the file the run started on (checksum mismatch)" in err
    assert "train needs --out DIR" in error_of(["train", "--data", str(data), "--target", "y"], capsys)


def test_series_col_on_a_single_series_model(model_dir, csv, capsys):
    err = error_of(["predict", "--model", str(model_dir), "--data", str(csv), "--series-col", "x2"], capsys)
    assert "trained on a single series; drop --series-col" in err


def test_runs_of_train_never_mix(csv, tmp_path, capsys):
    """A new run over a killed run's OUT.partial starts clean; two runs on one --out at once are
    refused; a run that fails before its first checkpoint leaves no OUT.partial behind."""
    import fcntl

    out = tmp_path / "m"
    partial = tmp_path / "m.partial"
    partial.mkdir()
    (partial / "checkpoint.pt").write_bytes(b"a checkpoint of another run")
    (partial / "run.json").write_text("{}")
    args = ["train", "--data", str(csv), "--target", "y", "--input-length", "24", "--horizon", "6", "--out", str(out),
            *FAST]
    assert main(args) == 0 and (out / "weights.safetensors").is_file() and not partial.exists()
    partial.mkdir()
    with open(partial / "lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)  # another train holds the run
        err = error_of(args, capsys)
    assert "Another `lstmcast train` is writing" in err and str(out) in err
    short = tmp_path / "short.csv"
    dated_frame(5).to_csv(short, index=False)
    err = error_of(["train", "--data", str(short), "--target", "y", "--horizon", "4", "--out", str(tmp_path / "s"),
                    *FAST], capsys)
    assert "too short to learn from" in err and not (tmp_path / "s.partial").exists()


def test_predict_out_naming_a_directory(model_dir, csv, tmp_path, capsys):
    err = error_of(["predict", "--model", str(model_dir), "--data", str(csv), "--out", str(tmp_path)], capsys)
    assert f"--out {tmp_path} is a directory; give a file name such as {tmp_path / 'forecast.csv'}" in err
