"""backtest --data DIR/ on a Parquet dataset directory: alone, the same result as the same rows
in one file; under torchrun with --distributed (2 CPU processes, gloo), each fold's model trained
data-parallel on the processes' own series and every series scored."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pa = pytest.importorskip("pyarrow")
pa_ds = pytest.importorskip("pyarrow.dataset")
pq = pytest.importorskip("pyarrow.parquet")

from lstmcast.cli import main  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
SETS = {"model.hidden_size": 8, "train.max_epochs": 2, "train.batch_size": 32, "train.patience": 0,
        "train.device": "cpu", "model.head": "point", "model.ensemble": 1, "data.horizon": 6,
        "data.input_length": 24, "train.seed": 0}
FLAGS = ["--folds", "2", "--quiet", "--json", *[item for k, v in SETS.items() for item in ("--set", f"{k}={v}")]]


def panel(n_series: int = 8, n: int = 120, seed: int = 0) -> pd.DataFrame:
    """Hourly sines of different phase and level, in the unique_id / ds / y layout."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    return pd.concat([pd.DataFrame({"unique_id": f"s{k}", "ds": pd.date_range("2024-01-01", periods=n, freq="h"),
                                    "y": 10 + k + np.sin(2 * np.pi * t / 24 + k) + 0.1 * rng.standard_normal(n)})
                      for k in range(n_series)], ignore_index=True)


def write_hive(frame: pd.DataFrame, root: Path) -> Path:
    pa_ds.write_dataset(pa.Table.from_pandas(frame, preserve_index=False), root, format="parquet",
                        partitioning=["unique_id"], partitioning_flavor="hive")
    return root


def cli(args: list[str], capsys) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(args)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_a_directory_alone_backtests_like_the_same_rows_in_one_file(tmp_path, capsys):
    frame = panel()
    root = write_hive(frame, tmp_path / "ds")
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), tmp_path / "all.parquet")
    code, out, err = cli(["backtest", "--data", str(root), "--out", str(tmp_path / "bd"), *FLAGS], capsys)
    assert code == 0, err
    from_dir = json.loads(out)
    code, out, err = cli(["backtest", "--data", str(tmp_path / "all.parquet"), "--out", str(tmp_path / "bf"),
                          *FLAGS], capsys)
    assert code == 0, err
    from_file = json.loads(out)
    assert from_dir["n_series"] == from_file["n_series"] == 8
    assert from_dir["metrics"] == pytest.approx(from_file["metrics"], rel=1e-9)
    for name, scores in from_file["baselines"].items():
        assert from_dir["baselines"][name] == pytest.approx(scores, rel=1e-12)
    a, b = (pd.read_csv(tmp_path / d / "forecasts.csv") for d in ("bd", "bf"))
    assert sorted(a["series"].unique()) == [f"s{k}" for k in range(8)] and len(a) == len(b) == 8 * 2 * 6
    np.testing.assert_allclose(a["mean"].to_numpy(), b["mean"].to_numpy(), rtol=1e-9)
    assert "shards" not in from_dir  # one process read every series


def test_misuse_exits_2_with_the_fix(tmp_path, capsys, monkeypatch):
    root = write_hive(panel(2), tmp_path / "ds")
    pq.write_table(pa.Table.from_pandas(panel(2), preserve_index=False), tmp_path / "all.parquet")
    code, _, err = cli(["backtest", "--distributed", "--data", str(tmp_path / "all.parquet"), "--out",
                        str(tmp_path / "b"), *FLAGS], capsys)
    assert code == 2 and "all.parquet is a file. Give --data DIR/" in err and "drop --distributed" in err
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        monkeypatch.delenv(name, raising=False)
    code, _, err = cli(["backtest", "--distributed", "--data", str(root), "--out", str(tmp_path / "b"), *FLAGS],
                       capsys)
    assert code == 2 and "needs the environment torchrun sets up" in err and "torchrun" in err
    code, _, err = cli(["backtest", "--distributed", "--data", str(root), "--out", str(tmp_path / "b"), *FLAGS,
                        "--set", "model.conformal=true", "--set", "model.head=quantile"], capsys)
    assert code == 2 and "model.conformal=true" in err and "series-sharded" in err


def torchrun(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
           "-m", "lstmcast.cli", "backtest", "--distributed", *args]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "src"), str(REPO)])}
    return subprocess.run(cmd, capture_output=True, text=True, cwd=cwd, timeout=300, env=env)


@pytest.mark.slow
def test_two_processes_backtest_every_series(tmp_path):
    """2 ranks (torchrun, gloo), 4 series each: every fold's model trained with DDP, rank 0 scores
    all 8 series; the scores agree with one process statistically (other global batches)."""
    frame = panel()
    root = write_hive(frame, tmp_path / "ds")
    proc = torchrun(["--data", str(root), "--out", str(tmp_path / "b2"), *FLAGS], tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout)  # one JSON object: only rank 0 prints
    assert report["n_series"] == 8 and report["shards"] == {"processes": 2, "series": [4, 4]}
    assert "data-parallel" in report["models"] and len(report["training"]) == 2
    assert sorted(report["training"][0]["rows"]) == [f"s{k}" for k in range(8)]
    fc = pd.read_csv(tmp_path / "b2" / "forecasts.csv")
    assert sorted(fc["series"].unique()) == [f"s{k}" for k in range(8)] and len(fc) == 8 * 2 * 6
    assert fc["mean"].notna().all() and sorted(fc["fold"].unique()) == [0, 1]
    saved = json.loads((tmp_path / "b2" / "backtest.json").read_text())
    assert saved["metrics"] == pytest.approx(report["metrics"])
    # the baselines see only the history: the same numbers as one process on every series
    code = main(["backtest", "--data", str(root), "--out", str(tmp_path / "b1"), *FLAGS])
    alone = json.loads((tmp_path / "b1" / "backtest.json").read_text())
    assert code == 0
    for name, scores in alone["baselines"].items():
        assert report["baselines"][name] == pytest.approx(scores, rel=1e-9)
    # the model's MAE is recomputed from the gathered rows: every series is in the score
    for k, fold in enumerate(report["per_fold"]):
        rows = fc[fc["fold"] == k]
        assert fold["lstm"]["mae"] == pytest.approx(np.abs(rows["mean"] - rows["actual"]).mean(), rel=1e-9)
    assert report["metrics"]["mase"] == pytest.approx(alone["metrics"]["mase"], rel=0.5)


@pytest.mark.slow
def test_a_short_series_of_one_process_stops_every_process_with_its_name(tmp_path):
    frame = panel()
    frame = frame[(frame["unique_id"] != "s5") | (frame.groupby("unique_id").cumcount() < 12)]
    proc = torchrun(["--data", str(write_hive(frame, tmp_path / "ds")), "--out", str(tmp_path / "b"), *FLAGS],
                    tmp_path)
    assert proc.returncode != 0 and not (tmp_path / "b").exists()
    # both processes name the series and the fix, the one holding it and the other one
    assert proc.stderr.count("error: Series 's5' has 12 rows") == 2, proc.stderr[-3000:]
    assert "Use at most" in proc.stderr
    twice = panel()
    twice = pd.concat([twice, twice[twice["unique_id"] == "s2"].iloc[:3]], ignore_index=True)
    proc = torchrun(["--data", str(write_hive(twice, tmp_path / "dup")), "--out", str(tmp_path / "b"), *FLAGS],
                    tmp_path)
    assert proc.returncode != 0 and proc.stderr.count("error: ") == 2, proc.stderr[-3000:]
    assert "s2" in proc.stderr and "duplicate" in proc.stderr.lower()
