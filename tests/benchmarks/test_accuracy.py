"""The accuracy suite's --quick slice: the baselines reproduce their published values exactly.

Runs benchmarks/accuracy.py's own code on the real files in ../shared/data (no statsforecast,
no training): Naive on M3 yearly / other (17.88 / 6.30), and Naive, seasonal naive and Naive2
on M4 Hourly (43.003; 13.912 / 1.193; 18.383 / 2.395).
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"


def _load(name: str):
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, BENCH / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def suite():
    return _load("accuracy")


def test_quick_slice_reproduces_published_baselines(suite, data_dir):
    checks = suite.quick(data_dir)
    assert {(c["dataset"], c["method"], c["metric"]) for c in checks} >= {
        ("m3_yearly", "naive", "smape"), ("m3_other", "naive", "smape"),
        ("m4_hourly", "snaive", "smape"), ("m4_hourly", "naive2", "smape"),
    }
    for c in checks:
        assert c["ok"], c
        assert c["got"] == pytest.approx(c["published"], abs=0.005)


def test_quick_command_exits_zero_and_prints_table(suite, data_dir, capsys, tmp_path):
    out = tmp_path / "quick.json"
    assert suite.main(["--quick", "--data-dir", str(data_dir), "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "| m4_hourly | snaive | smape | 13.912 | 13.9123 | yes |" in printed
    assert out.is_file() and '"quick"' in out.read_text()


def test_tasks_follow_the_official_holdouts(suite, data_dir):
    data = _load("accuracy_data")
    m4 = data.load_task("m4_hourly", data_dir)
    assert (len(m4.series), m4.horizon, m4.season) == (414, 48, 24)
    yearly, quarterly, other = (data.load_task(n, data_dir) for n in ("m3_yearly", "m3_quarterly", "m3_other"))
    assert [len(t.series) for t in (yearly, quarterly, other)] == [645, 756, 174]
    assert [(t.horizon, t.season, t.freq) for t in (yearly, quarterly, other)] == [
        (6, 1, "YS"), (8, 4, "QS"), (8, 1, "YS")]
    ett = data.load_task("etth1", data_dir)
    (s,) = ett.series
    assert s.train_end == 11520 and len(s.origins) == 120
    assert s.origins[0] == 11520 and s.origins[-1] + 24 == 14400
    demand = data.load_task("demand", data_dir)
    (d,) = demand.series
    assert (d.values.size - d.train_end, demand.seasons) == (336, (48, 336))
    assert str(demand.dates(2)[1]) == "2000-06-05 00:30:00"


def test_seasonal_naive_uses_the_whole_history_not_a_window(suite, data_dir):
    # the week-long season (336) exceeds any default input window: still forecast from history
    task = _load("accuracy_data").load_task("demand", data_dir)
    (s,) = task.series
    fc = suite.snaive_forecasts(task, 336)["demand"]
    np.testing.assert_array_equal(fc[0], s.values[s.train_end - 336 : s.train_end])


def test_subsample_is_deterministic_and_nested(data_dir):
    data = _load("accuracy_data")
    task = data.load_task("m3_quarterly", data_dir)
    small = [s.id for s in data.subsample(task, 10).series]
    assert small == [s.id for s in data.subsample(task, 10).series]
    assert set(small) < {s.id for s in data.subsample(task, 50).series}


def test_bad_dataset_name_is_a_usage_error(suite, capsys):
    with pytest.raises(SystemExit) as exc:
        suite.main(["--datasets", "m5"])
    assert exc.value.code == 2
    assert "unknown dataset(s) ['m5']; valid: m4_hourly" in capsys.readouterr().err


def test_lstm_error_is_reported_not_raised(suite, data_dir):
    # an impossible config for one dataset is a row note, not a crash of the whole suite
    task = _load("accuracy_data").subsample(_load("accuracy_data").load_task("m3_yearly", data_dir), 3)
    result = suite.run_task(task, seeds=[0], overrides=["model.hidden_size=0"], lstm=True, stats=False)
    assert "lstmcast" not in result["scores"]
    assert "Error" in result["notes"]["lstmcast"] and "hidden_size" in result["notes"]["lstmcast"]
    assert result["scores"]["naive"]["smape"] > 0


def test_bad_override_is_a_usage_error_before_any_work(suite, capsys):
    with pytest.raises(SystemExit) as exc:
        suite.main(["--datasets", "m3_other", "--set", "model.nope=1"])
    assert exc.value.code == 2
    assert "--set: Unknown key 'model.nope'" in capsys.readouterr().err


def test_cached_statistical_forecasts_score_without_statsforecast(suite, data_dir):
    # the committed cache answers for every series, so CI needs no statsforecast
    task = _load("accuracy_data").load_task("m3_other", data_dir)
    forecasts, seconds, note = suite.stat_forecasts(task, "theta")
    if not note.startswith("cached"):
        pytest.fail(f"the AutoTheta cache of m3_other was not used: {note}")
    assert set(forecasts) == {s.id for s in task.series}
    assert seconds > 0
    assert suite.score(task, forecasts)["smape"] == pytest.approx(4.808, abs=5e-4)


def test_table_has_a_row_per_metric_and_seconds(suite, data_dir):
    data = _load("accuracy_data")
    task = data.subsample(data.load_task("m3_quarterly", data_dir), 20)
    result = suite.run_task(task, seeds=[0], overrides=[], lstm=False, stats=True)
    table = suite.markdown([result], "python benchmarks/accuracy.py --no-lstm")
    assert "| M3 quarterly (h=8, m=4, 20 series) | sMAPE | — |" in table
    assert "| M3 quarterly | CPU s |" in table
    assert "Theta 8.96" in table
    assert table.endswith("Command: `python benchmarks/accuracy.py --no-lstm`")
    assert set(result["scores"]) == {"naive", "snaive", "naive2", "ets", "theta"}


def test_air_passengers_needs_the_benchmark_requirements_and_scores_mape(suite, monkeypatch):
    data = _load("accuracy_data")
    monkeypatch.setitem(sys.modules, "statsforecast.utils", None)  # as where statsforecast is not installed
    with pytest.raises(data.DataError, match=r"statsforecast\.utils\.AirPassengers.*requirements/bench\.txt"):
        data.load_task("air_passengers", "unused")
    values = np.arange(100.0, 124.0)
    task = data.Task("air_passengers", "AirPassengers", 12, 12, (12,), "MS", "1949-01-01", ("mape", "smape"),
                     [data.Series("air", values, 12, (12,))], "test")
    forecast = {"air": values[None, 12:] * 1.1}  # 10% too high at every step
    scores = suite.score(task, forecast)
    assert scores["mape"] == pytest.approx(10.0) and scores["smape"] == pytest.approx(200 * 0.1 / 2.1)
    result = suite.run_task(task, seeds=[0], overrides=[], lstm=False, stats=False)
    assert "| AirPassengers (h=12, m=12, 1 series) | MAPE |" in suite.markdown([result], "cmd")


def test_generalisation_rows_come_from_statsmodels_with_the_last_horizon_held_out(suite, monkeypatch):
    import types

    import pandas as pd

    data = _load("accuracy_data")
    monkeypatch.setitem(sys.modules, "statsmodels.datasets.nile", None)  # statsmodels not installed
    with pytest.raises(data.DataError, match=r"statsmodels\.datasets\.nile.*requirements/bench\.txt"):
        data.load_task("sm_nile", "unused")
    # a stand-in for statsmodels' loader: 30 years of a known series
    values = np.arange(30.0) * 2.0 + 100.0
    fake = types.SimpleNamespace(load_pandas=lambda: types.SimpleNamespace(
        data=pd.DataFrame({"year": np.arange(1871, 1901), "volume": values})))
    monkeypatch.setitem(sys.modules, "statsmodels.datasets.nile", fake)
    task = data.load_task("sm_nile", "unused")
    (s,) = task.series
    assert (task.horizon, task.season, task.freq, s.train_end, s.origins) == (10, 1, "YS", 20, (20,))
    np.testing.assert_array_equal(s.train, values[:20])
    truth = values[20:]
    scores = suite.score(task, {"nile": (truth + 1.0)[None]})  # off by one everywhere
    assert scores["smape"] == pytest.approx(float(np.mean(200 * 1.0 / (2 * truth + 1.0))))
    assert scores["mase"] == pytest.approx(1.0 / 2.0)  # in-sample naive step is 2
    assert suite.score(task, suite.naive_forecasts(task))["mase"] > scores["mase"]


def test_m3_monthly_without_its_file_names_the_file_and_where_to_get_it(suite, tmp_path, capsys):
    # an optional row whose file is not in shared/data: a usage error (exit 2) saying what to do
    with pytest.raises(_load("accuracy_data").DataError, match=r"M3C\.xls.*forecasters\.org.*--data-dir"):
        _load("accuracy_data").load_task("m3_monthly", tmp_path)
    with pytest.raises(SystemExit) as exc:
        suite.main(["--datasets", "m3_monthly", "--data-dir", str(tmp_path), "--no-lstm"])
    assert exc.value.code == 2
    assert "--datasets m3_monthly:" in capsys.readouterr().err
    assert "m3_monthly" not in _load("accuracy_data").DATASETS  # not in the default run


@pytest.mark.parametrize(("sheet", "message"), [
    ({"Series": ["N1402"], "Obs": [20], "NF": [18]}, r"sheet M3Month should start with columns Series, N, NF"),
    ({"Series": ["N1402"], "N": [20], "NF": [12], "Category": ["MICRO"], "Starting Year": [1990],
      "Starting Month": [1], **{str(i): [1.0] for i in range(1, 21)}}, r"'N1402' has horizon 12 .* the monthly protocol has 18"),
])
def test_m3_monthly_refuses_a_changed_file_naming_the_problem(suite, tmp_path, monkeypatch, sheet, message):
    data = _load("accuracy_data")
    (tmp_path / "M3C.xls").write_bytes(b"")  # read_excel is replaced: only the file's presence counts
    monkeypatch.setattr(data.pd, "read_excel", lambda *a, **k: data.pd.DataFrame(sheet))
    with pytest.raises(data.DataError, match=message):
        data.load_task("m3_monthly", tmp_path)


def test_m3_monthly_without_xlrd_says_how_to_install_it(suite, tmp_path, monkeypatch):
    data = _load("accuracy_data")
    (tmp_path / "M3C.xls").write_bytes(b"")

    def no_xlrd(*args, **kwargs):
        raise ImportError("Missing optional dependency 'xlrd'.")

    monkeypatch.setattr(data.pd, "read_excel", no_xlrd)
    with pytest.raises(data.DataError, match=r"needs xlrd: pip install -r requirements/bench.txt"):
        data.load_task("m3_monthly", tmp_path)


def _m4_weekly_files(directory: Path, lengths: tuple[int, ...], test_length: int = 13) -> None:
    import pandas as pd

    width = max(lengths)
    train = [[f"W{k + 1}", *np.arange(1.0, n + 1), *[np.nan] * (width - n)] for k, n in enumerate(lengths)]
    pd.DataFrame(train, columns=[f"V{i + 1}" for i in range(width + 1)]).to_csv(directory / "Weekly-train.csv", index=False)
    test = [[f"W{k + 1}", *np.full(test_length, float(n + 1))] for k, n in enumerate(lengths)]
    pd.DataFrame(test, columns=[f"V{i + 1}" for i in range(test_length + 1)]).to_csv(directory / "Weekly-test.csv", index=False)


def test_m4_weekly_follows_the_m4_protocol(suite, tmp_path):
    data = _load("accuracy_data")
    _m4_weekly_files(tmp_path, (80, 120))
    task = data.load_task("m4_weekly", tmp_path)
    assert (task.horizon, task.season, task.seasons, task.freq) == (13, 1, (52,), "W")  # M4: seasonality 1
    assert [s.train_end for s in task.series] == [80, 120] and [s.origins for s in task.series] == [(80,), (120,)]
    assert task.series[0].windows(13)[0][1].tolist() == [81.0] * 13
    assert "m4_weekly" in data.OPTIONAL and "m4_weekly" not in data.DATASETS


def test_m4_weekly_refuses_missing_or_mismatched_files(suite, tmp_path):
    data = _load("accuracy_data")
    with pytest.raises(data.DataError, match=r"Weekly-train\.csv and Weekly-test\.csv .*M4-methods.*--data-dir"):
        data.load_task("m4_weekly", tmp_path)
    _m4_weekly_files(tmp_path, (80, 120), test_length=12)
    with pytest.raises(data.DataError, match=r"'W1' has 12 test values; M4 Weekly has 13"):
        data.load_task("m4_weekly", tmp_path)
    _m4_weekly_files(tmp_path, (80, 120))
    test = data.pd.read_csv(tmp_path / "Weekly-test.csv")
    test.iloc[::-1].to_csv(tmp_path / "Weekly-test.csv", index=False)  # the same ids in another order
    with pytest.raises(data.DataError, match=r"train and test files list different series .*matching Weekly files"):
        data.load_task("m4_weekly", tmp_path)
