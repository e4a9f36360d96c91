"""Tuning under real concurrency: workers started at the same instant on a fresh SQLite file or
PostgreSQL database all join one study; the model is retrained only from a complete study.

The PostgreSQL test needs a server: ``.ci/run`` starts a throw-away cluster and exports
``LSTMCAST_TEST_POSTGRES_URL`` (e.g. ``postgresql+psycopg://postgres@/postgres?host=/tmp/sock``).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

optuna = pytest.importorskip("optuna")

from optuna.trial import TrialState  # noqa: E402

from lstmcast import tuning  # noqa: E402
from lstmcast.cli import main  # noqa: E402
from lstmcast.data.synthetic import noisy_sine  # noqa: E402
from lstmcast.errors import ConfigError  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
POSTGRES_ENV = "LSTMCAST_TEST_POSTGRES_URL"
SPACE = '[model.hidden_size]\ntype = "int"\nlow = 4\nhigh = 12\nstep = 4\n'
# Imports first, then wait at a gate, so that both workers open the storage at the same instant.
GATED = """
import sys, time
from pathlib import Path
import optuna, torch  # noqa: F401  (the slow imports, before the gate)
from lstmcast import tuning  # noqa: F401
from lstmcast.cli import main
ready, go = Path(sys.argv[1]), Path(sys.argv[2])
ready.touch()
while not go.exists():
    time.sleep(0.001)
sys.exit(main(sys.argv[3:]))
"""


@pytest.fixture
def files(tmp_path):
    data = tmp_path / "sine.csv"
    noisy_sine(300, seed=3).to_csv(data, index=False)
    space = tmp_path / "space.toml"
    space.write_text(SPACE)
    return data, space


def tune_args(data, space, out, storage, trials, *extra):
    return ["tune", "--data", str(data), "--target", "value", "--input-length", "12", "--space", str(space),
            "--trials", str(trials), "--out", str(out), "--storage", storage, "--study", "race",
            "--set", "train.max_epochs=3", "--set", "train.threads=1", "--set", "model.hidden_size=8", "--no-retrain", "--json", *extra]


def start_together(tmp_path, argvs):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "src"), str(REPO)])}
    go = tmp_path / "go"
    readies = [tmp_path / f"ready{i}" for i in range(len(argvs))]
    procs = [subprocess.Popen([sys.executable, "-c", GATED, str(r), str(go), *argv], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=env, cwd=REPO)
             for r, argv in zip(readies, argvs, strict=True)]
    deadline = time.monotonic() + 120
    while not all(r.exists() for r in readies):
        if time.monotonic() > deadline or any(p.poll() is not None for p in procs):
            for p in procs:
                p.kill()
            pytest.fail("a worker did not start: " + "; ".join(p.communicate()[1][-1500:] for p in procs))
        time.sleep(0.01)
    go.touch()
    outputs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0] * len(procs), [err[-2000:] for _, err in outputs]
    return procs, [json.loads(out) for out, _ in outputs]


def check_shared_study(storage, procs, reports, trials):
    study = optuna.load_study(study_name="race", storage=storage)
    found = study.get_trials()
    assert [t.number for t in found] == list(range(len(found)))  # each trial recorded once
    assert trials <= len(found) <= trials + len(procs) - 1
    assert {t.state for t in found} <= {TrialState.COMPLETE, TrialState.PRUNED}
    workers = {t.user_attrs["worker"] for t in found}
    assert workers == {f"{socket.gethostname()}:{p.pid}" for p in procs}  # every worker contributed
    assert sum(r["trials_run_here"] for r in reports) == len(found)


@pytest.mark.slow
def test_two_workers_at_once_on_a_fresh_sqlite_file(tmp_path, files):
    data, space = files
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    argvs = [tune_args(data, space, tmp_path / f"out{i}", url, 6) for i in range(2)]
    procs, reports = start_together(tmp_path, argvs)
    check_shared_study(url, procs, reports, 6)


@pytest.mark.slow
def test_two_workers_at_once_on_a_fresh_postgresql_database(tmp_path, files):
    url = os.environ.get(POSTGRES_ENV)
    if not url:
        reason = f"no PostgreSQL server: {POSTGRES_ENV} is not set (.ci/run starts one and sets it)"
        print(f"SKIPPED: {reason}")
        pytest.skip(reason)
    pytest.importorskip("psycopg", reason="the tune-postgres extra (psycopg) is not installed")
    import sqlalchemy

    database = f"race_{os.getpid()}_{int(time.time())}"
    admin = sqlalchemy.create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sqlalchemy.text(f"CREATE DATABASE {database}"))
    fresh = str(sqlalchemy.engine.make_url(url).set(database=database))
    try:
        data, space = files
        argvs = [tune_args(data, space, tmp_path / f"out{i}", fresh, 6) for i in range(2)]
        procs, reports = start_together(tmp_path, argvs)
        check_shared_study(tuning.open_storage(fresh)[0], procs, reports, 6)
    finally:
        engine = sqlalchemy.create_engine(fresh)
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(sqlalchemy.text(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)"))
        admin.dispose()


def test_schema_race_errors_are_retried():
    calls = []

    def flaky():
        calls.append(1)
        if len(calls) < 3:
            raise RuntimeError("(sqlite3.IntegrityError) UNIQUE constraint failed: alembic_version.version_num")
        return "storage"

    assert tuning.storage.retry_race(flaky) == "storage" and len(calls) == 3
    with pytest.raises(ValueError, match="other"):
        tuning.storage.retry_race(lambda: (_ for _ in ()).throw(ValueError("other")))


def test_missing_postgres_driver_names_the_extra():
    try:
        import psycopg2  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("psycopg2 is installed here; the message is for machines without it")
    with pytest.raises(ConfigError, match=r"lstmcast\[tune-postgres\].*postgresql\+psycopg://"):
        tuning.open_storage("postgresql+psycopg2://u:p@127.0.0.1:1/db")


def test_retrain_waits_for_the_study_to_be_complete(tmp_path, files, capsys):
    data, space = files
    url = f"sqlite:///{tmp_path / 's.db'}"
    args = [a for a in tune_args(data, space, tmp_path / "out", url, 2) if a != "--no-retrain"]
    assert main(args) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["complete"] and report["retrained"]["trial"] == report["best"]["trial"]
    study = optuna.load_study(study_name="race", storage=url)
    running = study.ask()  # another worker's trial, still running (its process is alive)
    running.set_user_attr("worker", f"{socket.gethostname()}:{os.getppid()}")
    args[args.index("--trials") + 1] = "3"
    assert main(args) == 0
    report = json.loads(capsys.readouterr().out)
    assert not report["complete"] and report["running_trials"] == 1
    assert "still run in other workers" in report["retrain_skipped"] and "retrained" not in report
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["retrain_skipped"] == report["retrain_skipped"]


def test_base_config_outside_the_space_is_said(tmp_path, files, capsys):
    data, space = files
    args = tune_args(data, space, tmp_path / "out", f"sqlite:///{tmp_path / 'b.db'}", 1, "--set",
                     "model.hidden_size=64")
    assert main(args) == 0
    captured = capsys.readouterr()
    assert "note: the base configuration lies outside the search space (model.hidden_size = 64" in captured.err
    assert json.loads(captured.out)["baseline"]["trial"] is None
