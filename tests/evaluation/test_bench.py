"""Benchmark commands: the quick modes run each protocol on a slice with a tiny model and
reproduce the baselines exactly; missing data gives a clear error.

Reads the benchmark files from ``<repo>/../shared/data`` and skips, saying why, when absent.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from lstmcast.cli import main
from lstmcast.errors import ConfigError, DataError
from lstmcast.evaluation import baselines as B
from lstmcast.evaluation import bench
from lstmcast.evaluation import protocols as P

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"


def _need(*names: str) -> Path:
    for name in names:
        if not (DATA / name).is_file():
            pytest.skip(f"benchmark file {DATA / name} is absent (see shared/data/README.md)")
    return DATA


@pytest.fixture(scope="module")
def ett_quick():
    return bench.run_ett(_need("ETTh1.csv"), "ETTh1", 96, quick=True, overrides=["train.threads=1"])


@pytest.fixture(scope="module")
def m4_quick():
    return bench.run_m4_hourly(_need("m4_hourly_train.csv", "m4_hourly_test.csv"), quick=True,
                               overrides=["train.threads=1"])


def test_published_figures_match_the_data_readme():
    assert bench.PUBLISHED_ETT["ETTh1"]["Repeat"][96] == (1.295, 0.713)
    assert bench.PUBLISHED_ETT["ETTh1"]["DLinear"] == {96: (0.375, 0.399), 192: (0.405, 0.416),
                                                       336: (0.439, 0.443), 720: (0.472, 0.490)}
    assert bench.PUBLISHED_M4_HOURLY["Seasonal naive"] == {"smape": 13.912, "mase": 1.193}
    assert bench.PUBLISHED_M4_HOURLY["RNN benchmark"]["smape"] == 14.698


def test_missing_data_dir_says_what_to_do(tmp_path):
    with pytest.raises(DataError, match=r"Benchmark data directory .*nowhere.* does not exist.*--data-dir DIR"):
        bench.resolve_data_dir(tmp_path / "nowhere", ["ETTh1.csv"])
    with pytest.raises(DataError, match=r"lacks ETTh2\.csv\. Put the unmodified files there"):
        bench.resolve_data_dir(tmp_path, ["ETTh2.csv"])


def test_the_library_assumes_no_data_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # even beside a ../shared/data, nothing is read without being named
    with pytest.raises(DataError, match=r"Give the benchmark data directory \(CLI: --data-dir DIR\), the one "
                                        r"holding ETTh1\.csv"):
        bench.run_ett(None, quick=True)
    with pytest.raises(TypeError):
        bench.run_m4_hourly()  # the data directory is a required argument


def test_cli_bench_needs_an_explicit_data_dir(capsys):
    assert main(["bench", "ett", "--quick"]) == 2
    err = capsys.readouterr().err
    assert "lstmcast bench ett needs --data-dir DIR" in err and "ETTh1.csv" in err and "Traceback" not in err


def test_bad_protocol_options_are_refused():
    with pytest.raises(ConfigError, match="horizon must be one of 96, 192, 336, 720; got 100"):
        bench.run_ett(DATA, horizon=100, quick=True)
    with pytest.raises(ConfigError, match="dataset must be one of ETTh1, ETTh2; got 'ETTm1'"):
        bench.run_ett(DATA, dataset="ETTm1", quick=True)


def test_benchmark_configs_are_valid():
    config = bench.ett_config(96, 336)
    assert config.model.patch_length and 336 % config.model.patch_length == 0
    assert config.model.channel_independent and config.model.normalization != "none"
    assert bench.ett_config(720, 96).model.patch_length in (24, 48)
    m4 = bench.m4_hourly_config()
    assert m4.data.horizon == 48 and m4.data.series_col == "series"


@pytest.mark.slow
def test_ett_quick_reproduces_the_baseline_on_its_slice_and_the_published_figure(ett_quick):
    r = ett_quick
    inputs, targets = P.ett_test_windows(P.load_ett(DATA / "ETTh1.csv"), 336, 96)
    n = bench.ETT_QUICK_TEST_WINDOWS
    assert r["model"]["n_test_windows"] == n
    assert r["baselines"]["repeat"] == P.score_ett(B.naive(inputs[:n], 96), targets[:n])  # exactly
    full = r["baselines_full"]["repeat"]
    assert (round(full["mse"], 3), round(full["mae"], 3)) == (1.295, 0.713)  # published Repeat
    assert r["baselines_full"]["n_test_windows"] == 2784
    assert np.isfinite(r["model"]["mse"]) and np.isfinite(r["model"]["mae"])
    assert r["training"]["n_windows"]["train"] == bench.ETT_QUICK_TRAIN_WINDOWS
    assert r["published"]["DLinear"] == {"mse": 0.375, "mae": 0.399}


@pytest.mark.slow
def test_m4_quick_reproduces_the_official_baselines(m4_quick):
    r = m4_quick
    rounded = {k: {m: round(v, 3) for m, v in s.items()} for k, s in r["baselines"].items()}
    assert rounded["naive"]["smape"] == 43.003
    assert (rounded["seasonal_naive"]["smape"], rounded["seasonal_naive"]["mase"]) == (13.912, 1.193)
    assert (rounded["naive2"]["smape"], rounded["naive2"]["mase"], rounded["naive2"]["owa"]) == (18.383, 2.395, 1.0)
    assert r["n_series"] == 414
    assert r["training"]["n_windows"]["val"] == 414  # the last 48 points of every series
    assert r["training"]["n_windows"]["train"] == 414 * bench.M4_QUICK_TRAIN_WINDOWS
    assert all(np.isfinite(r["model"][m]) for m in ("smape", "mase", "owa"))


@pytest.mark.slow
def test_cli_bench_ett_quick_json(capsys):
    _need("ETTh1.csv")
    assert main(["bench", "ett", "--quick", "--data-dir", str(DATA), "--json", "--quiet",
                 "--set", "train.threads=1"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["command"] == "bench" and payload["benchmark"] == "ett" and payload["quick"] is True
    assert round(payload["baselines_full"]["repeat"]["mse"], 3) == 1.295
    assert payload["hardware"]["cpu_count"] >= 1


@pytest.mark.slow
def test_cli_bench_m4_quick_table(capsys, tmp_path):
    _need("m4_hourly_train.csv", "m4_hourly_test.csv")
    out = tmp_path / "m4.json"
    assert main(["bench", "m4-hourly", "--quick", "--data-dir", str(DATA), "--quiet", "--out", str(out),
                 "--set", "train.threads=1"]) == 0
    text = capsys.readouterr().out
    assert "M4 Hourly" in text and "Seasonal naive" in text and "13.912" in text and "RNN benchmark" in text
    assert "training:" in text and "hardware:" in text
    assert json.loads(out.read_text())["benchmark"] == "m4-hourly"


def test_cli_bench_without_data_exits_with_a_message(tmp_path, capsys):
    assert main(["bench", "m4-hourly", "--quick", "--data-dir", str(tmp_path / "none")]) == 2
    err = capsys.readouterr().err
    assert "lstmcast bench: error: Benchmark data directory" in err and "--data-dir" in err
