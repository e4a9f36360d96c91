"""lstmcast.tuning and `lstmcast tune`: search space files, trials, failures, shared studies."""

from __future__ import annotations

import gc
import json
import os
import signal
import socket
import subprocess
import sys
import time
import tomllib
import weakref
from pathlib import Path

import pytest

optuna = pytest.importorskip("optuna")

from optuna.trial import TrialState  # noqa: E402

from lstmcast import tuning  # noqa: E402
from lstmcast.cli import main  # noqa: E402
from lstmcast.config import ForecastConfig  # noqa: E402
from lstmcast.data.synthetic import noisy_sine  # noqa: E402
from lstmcast.errors import ConfigError  # noqa: E402
from tests.conftest import tiny_config  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
TINY_SPACE = """
[model.hidden_size]
type = "int"
low = 4
high = 12
step = 4

["train.learning_rate"]
type = "float"
low = 1e-3
high = 3e-2
log = true
"""


def journal(path: Path) -> optuna.storages.JournalStorage:
    from optuna.storages.journal import JournalFileBackend

    return optuna.storages.JournalStorage(JournalFileBackend(str(path)))


# ---------------------------------------------------------------------------- search space
def test_space_file_in_both_table_styles(tmp_path):
    path = tmp_path / "space.toml"
    path.write_text(TINY_SPACE + '[model.bidirectional]\ntype = "categorical"\nchoices = [true, false]\n')
    space = {p.key: p for p in tuning.load_space(path)}
    assert set(space) == {"model.hidden_size", "train.learning_rate", "model.bidirectional"}
    assert space["model.hidden_size"].distribution() == optuna.distributions.IntDistribution(4, 12, step=4)
    assert space["train.learning_rate"].log
    assert space["model.bidirectional"].choices == (True, False)


def test_space_with_defaults_overrides_entries():
    space = {p.key: p for p in tuning.parse_space(
        {"defaults": True, "model": {"num_layers": {"type": "int", "low": 1, "high": 2}}})}
    assert set(space) == {p.key for p in tuning.DEFAULT_SPACE}
    assert space["model.num_layers"].high == 2


def test_keys_derived_at_fit_time_can_be_searched_as_numbers():
    space = {p.key: p for p in tuning.parse_space({"model": {"patch_length": {"type": "int", "low": 0, "high": 24,
                                                                             "step": 12}}})}
    assert (space["model.patch_length"].type, space["model.patch_length"].bounds) == ("int", (0, 24))
    assert tuning.parse_space({"model.seasonal_skip": {"type": "int", "low": 0, "high": 168}})[0].bounds == (0, 168)
    with pytest.raises(ConfigError, match=r"\[model.patch_length\] takes whole numbers"):
        tuning.parse_space({"model.patch_length": {"type": "float", "low": 0.0, "high": 24.0}})


def test_default_space_holds_the_default_config():
    base = ForecastConfig()
    assert all(p.contains(tuning.config_value(base, p.key)) for p in tuning.DEFAULT_SPACE)


@pytest.mark.parametrize(("raw", "message"), [
    ({"model": {"hiden_size": {"type": "int", "low": 1, "high": 2}}}, r"\[model.hiden_size\] is not a config key"),
    ({"data": {"scaler": {"type": "categorical", "choices": ["minmax", "standard"]}}},
     r"\[data.scaler\] cannot be searched: the loss is in scaled units"),
    ({"model.hidden_size": {"type": "integer", "low": 1, "high": 2}}, r"\[model.hidden_size\] type must be one of"),
    ({"model.hidden_size": {"type": "int", "low": 64, "high": 16}}, r"low \(64\) must not exceed high \(16\)"),
    ({"model.hidden_size": {"type": "int", "low": 16}}, r"\[model.hidden_size\] needs high"),
    ({"model.hidden_size": {"type": "int", "low": 16.5, "high": 32}}, r"low must be an integer"),
    ({"train.learning_rate": {"type": "float", "low": 0, "high": 0.1, "log": True}}, r"log = true needs low > 0"),
    ({"model.dropout": {"type": "float", "low": 0.0, "high": 1.5}},
     r"\[model.dropout\] high = 1.5 is not a valid value: model.dropout must be"),
    ({"model.bidirectional": {"type": "categorical"}}, r"\[model.bidirectional\] needs choices"),
    ({"model.bidirectional": {"type": "int", "low": 0, "high": 1}}, r"\[model.bidirectional\] is not numeric"),
    ({"model.hidden_size": {"type": "int", "low": 4, "high": 8, "scale": "log"}}, r"unknown field\(s\) \['scale'\]"),
    ({"model.hidden_size": 64}, r"\[model.hidden_size\] must be a table"),
    ({"hidden_size": {"type": "int"}}, r"unexpected top-level key 'hidden_size'"),
    ({}, "lists no keys to search"),
])
def test_space_errors_name_the_key(raw, message):
    with pytest.raises(ConfigError, match=message):
        tuning.parse_space(raw)


def test_space_file_errors_name_the_file(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text("[model.hidden_size\n")
    with pytest.raises(ConfigError, match=r"bad\.toml is not valid TOML"):
        tuning.load_space(path)
    with pytest.raises(ConfigError, match=r"missing\.toml does not exist"):
        tuning.load_space(tmp_path / "missing.toml")


def test_trials_with_other_input_lengths_are_scored_on_the_same_windows():
    frame = noisy_sine(300, seed=1)
    targets = []
    for length in (8, 40):
        fitted = tuning.Forecaster(tiny_config(data={"input_length": length}, train={"max_epochs": 1})).fit(frame)
        targets.append([list(t) for t in fitted.windows(frame, part="val").times])
    assert targets[0] == targets[1] and len(targets[0]) == 30


# ---------------------------------------------------------------------------- storage
def test_unreachable_storage_names_the_url(tmp_path):
    with pytest.raises(ConfigError, match=r"Cannot open the study storage sqlite:////nonexistent-dir/x\.db"):
        tuning.open_storage("sqlite:////nonexistent-dir/x.db")
    with pytest.raises(ConfigError, match=r"postgresql://tuner:\*\*\*@127\.0\.0\.1:9/db") as info:
        tuning.open_storage("postgresql://tuner:secret@127.0.0.1:9/db")  # no driver here, or nothing listening
    assert "secret" not in str(info.value)
    with pytest.raises(ConfigError, match=r"journal:.*no-such-dir/s\.journal: directory .* does not exist"):
        tuning.open_storage(str(tmp_path / "no-such-dir" / "s.journal"))


def test_cli_reports_an_unreachable_storage(tmp_path, capsys):
    code = main(["tune", "--demo", "--storage", "sqlite:////nonexistent-dir/x.db", "--out", str(tmp_path)])
    assert code == 2
    assert "Cannot open the study storage sqlite:////nonexistent-dir/x.db" in capsys.readouterr().err


def test_cli_needs_data_or_demo(tmp_path, capsys):
    assert main(["tune", "--out", str(tmp_path)]) == 2
    assert "either --data FILE or --demo" in capsys.readouterr().err


# ---------------------------------------------------------------------------- trials
@pytest.fixture(scope="module")
def tuned(tmp_path_factory):
    out = tmp_path_factory.mktemp("tune")
    frame = noisy_sine(300, seed=1)
    base = tiny_config()
    study = tuning.open_study(None, "unit", out, seed=0, max_epochs=3)
    space = tuning.parse_space(tomllib.loads(TINY_SPACE))
    rows = []
    result = tuning.tune(frame, base, study, space=space, n_trials=4, on_trial=rows.append)
    paths = tuning.write_results(study, result, out)
    return result, study, paths, rows, base


def test_tune_runs_the_base_config_first_and_reports_the_best(tuned):
    result, study, _, rows, base = tuned
    trials = study.get_trials()
    assert [t.number for t in trials] == [0, 1, 2, 3] and result.trials_here == 4
    assert trials[0].params == {"model.hidden_size": 8, "train.learning_rate": 1e-3}  # the base config
    assert result.baseline_number == 0 and result.baseline_value == trials[0].value
    assert result.best_value == min(t.value for t in trials if t.state == TrialState.COMPLETE)
    assert result.best_value <= result.baseline_value
    assert result.best_config == base.with_overrides(result.best_params)
    assert [r.number for r in rows] == [0, 1, 2, 3] and rows[0].note == "base configuration"
    assert all(t.user_attrs["worker"] == tuning.WORKER for t in trials)


def test_tune_writes_a_config_ready_for_train(tuned):
    result, _, paths, _, _ = tuned
    assert ForecastConfig.from_toml(paths["config"]) == result.best_config
    csv = Path(paths["trials"]).read_text().splitlines()
    assert len(csv) == 5 and "params_model.hidden_size" in csv[0]
    summary = json.loads(Path(paths["summary"]).read_text())
    assert summary["best"]["value"] == result.best_value and summary["n_trials"] == 4
    for name in ("history_plot", "importances_plot", "learning_curves_plot"):
        assert Path(paths[name]).read_bytes()[:4] == b"\x89PNG"


def test_a_crashed_trial_is_failed_and_the_study_goes_on(monkeypatch):
    calls = []
    real_fit = tuning.Forecaster.fit

    def flaky_fit(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("simulated crash")
        return real_fit(self, *args, **kwargs)

    monkeypatch.setattr(tuning.Forecaster, "fit", flaky_fit)
    study = optuna.create_study()
    space = tuning.parse_space({"model.hidden_size": {"type": "int", "low": 4, "high": 8}})
    result = tuning.tune(noisy_sine(300, seed=1), tiny_config(), study, space=space, n_trials=3)
    states = [t.state for t in study.trials]
    assert states == [TrialState.COMPLETE, TrialState.FAIL, TrialState.COMPLETE]
    assert study.trials[1].user_attrs["error"] == "RuntimeError: simulated crash"
    assert result.states == {"COMPLETE": 2, "FAIL": 1}


def test_an_invalid_combination_fails_with_the_config_message():
    study = optuna.create_study()
    space = tuning.parse_space({"model.attention": {"type": "categorical", "choices": [True]},
                                "model.attention_heads": {"type": "categorical", "choices": [3]}})
    result = tuning.tune(noisy_sine(300, seed=1), tiny_config(), study, space=space, n_trials=1)
    assert result.best_config is None and result.states == {"FAIL": 1}
    assert "model.attention_heads (3) must divide" in study.trials[0].user_attrs["error"]


class AlwaysPrune(optuna.pruners.BasePruner):
    def prune(self, study, trial):
        return True


def test_a_pruned_trial_stops_after_its_epoch_and_frees_its_model(monkeypatch):
    networks = []

    class Recording(tuning.Forecaster):
        def fit(self, *args, **kwargs):
            super().fit(*args, **kwargs)
            networks.append(weakref.ref(self.network_))
            return self

    monkeypatch.setattr(tuning.trials, "Forecaster", Recording)
    study = optuna.create_study(pruner=AlwaysPrune())
    space = tuning.parse_space({"model.hidden_size": {"type": "int", "low": 4, "high": 8}})
    tuning.tune(noisy_sine(300, seed=1), tiny_config(train={"max_epochs": 20}), study, space=space, n_trials=2)
    assert [t.state for t in study.trials] == [TrialState.PRUNED] * 2
    assert [t.user_attrs["epochs"] for t in study.trials] == [1, 1]  # stopped cleanly, not after 20
    gc.collect()
    assert len(networks) == 2 and all(ref() is None for ref in networks)


def test_workers_of_one_study_must_share_the_base_config(tmp_path):
    study = tuning.open_study(None, "s", tmp_path)
    space = tuning.parse_space({"model.hidden_size": {"type": "int", "low": 4, "high": 8}})
    tuning.tune(noisy_sine(300, seed=1), tiny_config(), study, space=space, n_trials=1)
    other = tuning.open_study(None, "s", tmp_path)
    with pytest.raises(ConfigError, match=r"another base configuration \(differs in train.max_epochs\)"):
        tuning.tune(noisy_sine(300, seed=1), tiny_config(train={"max_epochs": 4}), other, space=space, n_trials=2)


def test_sampler_is_seeded_per_trial_number():
    def first_params(seed, n):
        study = optuna.create_study(sampler=tuning.storage.trial_seeded_sampler(seed))
        for _ in range(n):
            trial = study.ask()
            trial.suggest_float("x", 0, 1)
            study.tell(trial, 0.0)
        return [t.params["x"] for t in study.trials]

    assert first_params(0, 3) == first_params(0, 3)
    assert len(set(first_params(0, 3))) == 3 and first_params(0, 1) != first_params(1, 1)


def test_a_trial_of_a_dead_worker_is_failed(tmp_path):
    study = optuna.create_study(storage=journal(tmp_path / "j"), study_name="s")
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    trial = study.ask()
    trial.set_user_attr("worker", f"{socket.gethostname()}:{dead.pid}")
    alive = study.ask()
    alive.set_user_attr("worker", f"{socket.gethostname()}:{os.getppid()}")
    elsewhere = study.ask()
    elsewhere.set_user_attr("worker", f"another-host:{dead.pid}")
    assert tuning.fail_dead_trials(study) == [trial.number]
    assert [t.state for t in study.trials] == [TrialState.FAIL, TrialState.RUNNING, TrialState.RUNNING]


# ---------------------------------------------------------------------------- many workers (real processes)
def _worker_args(data: Path, space: Path, out: Path, trials: int, *extra: str) -> list[str]:
    return ["tune", "--data", str(data), "--target", "value", "--input-length", "12", "--space", str(space),
            "--trials", str(trials), "--out", str(out), "--set", "model.hidden_size=8", "--set", "train.threads=1",
            "--no-retrain", "--json", *extra]


def _worker(data: Path, space: Path, out: Path, trials: int, *extra: str) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "lstmcast.cli", *_worker_args(data, space, out, trials, *extra)]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "src"), str(REPO)])}
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=REPO)


@pytest.fixture
def series_files(tmp_path):
    data = tmp_path / "sine.csv"
    noisy_sine(400, seed=2).to_csv(data)
    space = tmp_path / "space.toml"
    space.write_text(TINY_SPACE)
    return data, space


@pytest.mark.slow
def test_two_worker_processes_share_one_study(tmp_path, series_files, capsys):
    data, space = series_files
    out = tmp_path / "run"
    workers = [_worker(data, space, out, 8, "--set", "train.max_epochs=4") for _ in range(2)]
    outputs = [w.communicate(timeout=120) for w in workers]
    assert [w.returncode for w in workers] == [0, 0], [err[-2000:] for _, err in outputs]
    study = optuna.load_study(study_name="lstmcast", storage=journal(out / "study.journal"))
    trials = study.get_trials()
    numbers = [t.number for t in trials]
    assert numbers == list(range(len(trials))) and 8 <= len(trials) <= 9  # each trial once; at most one extra
    assert {t.state for t in trials} <= {TrialState.COMPLETE, TrialState.PRUNED}
    by_worker = {t.user_attrs["worker"] for t in trials}
    assert by_worker == {f"{socket.gethostname()}:{w.pid}" for w in workers}  # both did work
    assert sum(t.user_attrs.get("baseline", False) for t in trials) >= 1
    best = min(t.value for t in trials if t.state == TrialState.COMPLETE)
    reports = [json.loads(stdout) for stdout, _ in outputs]
    assert sum(r["trials_run_here"] for r in reports) == len(trials)
    # the study is complete: one more worker (here in-process) runs nothing and reports the best of all
    capsys.readouterr()
    assert main(_worker_args(data, space, out, 8, "--set", "train.max_epochs=4")) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["trials_run_here"] == 0 and report["best"]["value"] == best
    assert json.loads((out / "summary.json").read_text())["best"]["value"] == best


@pytest.mark.slow
def test_a_worker_killed_mid_trial_leaves_the_study_usable(tmp_path, series_files, capsys):
    data, space = series_files
    out = tmp_path / "run"
    settings = ("--set", "train.max_epochs=30", "--set", "train.patience=0")
    victim = _worker(data, space, out, 2, *settings)
    journal_file = out / "study.journal"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not (journal_file.exists() and '"worker"' in journal_file.read_text()):
        time.sleep(0.05)
    victim.send_signal(signal.SIGKILL)
    victim.communicate()
    study = optuna.load_study(study_name="lstmcast", storage=journal(journal_file))
    assert [t.state for t in study.get_trials()] == [TrialState.RUNNING]
    capsys.readouterr()
    assert main(_worker_args(data, space, out, 2, *settings)) == 0  # the next worker, here in-process
    report = json.loads(capsys.readouterr().out)
    study = optuna.load_study(study_name="lstmcast", storage=journal(journal_file))
    assert [t.state for t in study.get_trials()] == [TrialState.FAIL, TrialState.COMPLETE]
    assert report["best"]["trial"] == 1 and report["states"] == {"COMPLETE": 1, "FAIL": 1}


@pytest.mark.slow
def test_cli_tune_demo_end_to_end(tmp_path, series_files, capsys):
    _, space = series_files
    code = main(["tune", "--demo", "--trials", "2", "--out", str(tmp_path / "t"), "--set", "train.max_epochs=2",
                 "--set", "model.hidden_size=8", "--set", "train.threads=1", "--space", str(space),
                 "--pruner", "hyperband", "--json"])
    assert code == 0, capsys.readouterr().err[-2000:]
    report = json.loads(capsys.readouterr().out)  # one JSON object
    assert report["command"] == "tune" and report["n_trials"] == 2
    model = Path(report["retrained"]["model"])
    assert (model / "weights.safetensors").is_file()
    assert report["retrained"]["validation_loss"] == pytest.approx(report["best"]["value"], rel=1e-4)
    from lstmcast import Forecaster

    assert Forecaster.load(model).config == ForecastConfig.from_toml(report["paths"]["config"])
