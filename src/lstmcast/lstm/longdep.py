"""Long-dependency experiment: which recurrent cells can carry a class over T steps of noise?

Each model in ``config.models`` is trained from scratch on the recall task of
:mod:`lstmcast.lstm.tasks` (class shown at step 0, then ``T - 1`` noise steps, answer at the
end) for every ``T`` in ``config.lengths``, then scored on fresh sequences. A run counts as
**solved** when its test accuracy reaches ``config.success_accuracy`` (0.9 by default; chance is
``1 / n_classes`` = 0.25). Training stops early once the recent training accuracy reaches 0.99,
so solved runs are cheap and the step budget goes to the hard ones.

The default models are the ablation that separates the two things chrono initialisation changes:
the forget biases alone (``lstm-fb1``, ``lstm-fb2``, ``lstm-fb3``; ``lstm-chrono-forget``, chrono's
spread of forget biases with PyTorch's input-gate init) and with the input gate closed
(``lstm-chrono``); ``config.variable_lag`` names models that are also trained with the cue at a
random position (lags ``0 .. T-1``, :func:`~lstmcast.lstm.tasks.make_recall_batch`) and still
scored at the maximal lag ``T-1``.

``LongDependencyConfig.quick()`` is a seconds-long smoke preset for tests;
``LongDependencyConfig()`` is the documented experiment (tens of CPU minutes: run it by hand).
"""

from __future__ import annotations

import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass

import pandas as pd

from lstmcast.errors import ConfigError
from lstmcast.lstm.tasks import (
    MODEL_NAMES,
    build_model,
    evaluate_recall,
    limit_threads,
    train_recall,
)

__all__ = [
    "RESULT_COLUMNS",
    "LongDependencyConfig",
    "accuracy_table",
    "long_dependency_experiment",
    "run_label",
    "seed_table",
    "solved_table",
    "steps_table",
]

#: Columns of the table :func:`long_dependency_experiment` returns.
RESULT_COLUMNS: tuple[str, ...] = (
    "model",
    "training",
    "length",
    "seed",
    "accuracy",
    "solved",
    "chance",
    "steps",
    "train_seconds",
    "cpu_seconds",
    "train_loss",
)


@dataclass(frozen=True)
class LongDependencyConfig:
    """Settings of :func:`long_dependency_experiment`. Defaults are the documented experiment."""

    models: tuple[str, ...] = (
        "rnn", "gru", "lstm-fb1", "lstm-fb2", "lstm-fb3", "lstm-chrono-forget", "lstm-chrono",
    )
    variable_lag: tuple[str, ...] = ("lstm-fb1",)
    lengths: tuple[int, ...] = (10, 50, 100, 200)
    seeds: tuple[int, ...] = (0, 1, 2)
    hidden_size: int = 32
    n_classes: int = 4
    noise: float = 0.1
    batch_size: int = 64
    learning_rate: float = 3e-3
    max_steps: int = 1500
    eval_samples: int = 1000
    success_accuracy: float = 0.9
    num_threads: int | None = 1
    n_jobs: int = 2

    def __post_init__(self) -> None:
        unknown = [m for m in self.models if m not in MODEL_NAMES]
        if unknown or not self.models:
            raise ConfigError(f"models must be a non-empty subset of {', '.join(MODEL_NAMES)}, got {self.models}.")
        unknown = [m for m in self.variable_lag if m not in MODEL_NAMES]
        if unknown:
            raise ConfigError(
                f"variable_lag must name models from {', '.join(MODEL_NAMES)}, got {unknown}."
            )
        if not self.lengths or any(not isinstance(t, int) or t < 1 for t in self.lengths):
            raise ConfigError(f"lengths must be positive integers, got {self.lengths}.")
        if not self.seeds or any(not isinstance(seed, int) or seed < 0 for seed in self.seeds):
            raise ConfigError(f"seeds must be one or more non-negative integers, got {self.seeds}.")
        for name in ("hidden_size", "batch_size", "max_steps", "eval_samples", "n_jobs"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be >= 1, got {getattr(self, name)}.")
        if self.n_classes < 2:
            raise ConfigError(f"n_classes must be >= 2, got {self.n_classes}.")
        if not 0.0 < self.success_accuracy <= 1.0:
            raise ConfigError(f"success_accuracy must be in (0, 1], got {self.success_accuracy}.")
        if self.learning_rate <= 0 or self.noise < 0:
            raise ConfigError(
                f"learning_rate must be > 0 and noise >= 0, got {self.learning_rate} and {self.noise}."
            )

    @classmethod
    def quick(cls) -> LongDependencyConfig:
        """A smoke-test preset: tiny models, two short lengths, a few dozen steps (seconds)."""
        return cls(
            models=("rnn", "gru", "lstm-fb1"),
            variable_lag=("lstm-fb1",),
            lengths=(5, 10),
            seeds=(0,),
            hidden_size=8,
            batch_size=32,
            max_steps=40,
            eval_samples=200,
            n_jobs=1,
        )

    def to_dict(self) -> dict:
        return asdict(self)

    def runs(self) -> list[tuple[str, str, int, int]]:
        """Every ``(model, training, length, seed)`` the experiment runs, in table order."""
        variants = [(m, "fixed") for m in self.models] + [(m, "variable-lag") for m in self.variable_lag]
        return [(m, training, t, s) for t in self.lengths for m, training in variants for s in self.seeds]


def run_label(model: str, training: str) -> str:
    """The table row of a run: the model name, with ``' (variable lag)'`` for that training."""
    return model if training == "fixed" else f"{model} ({training.replace('-', ' ')})"


def _run_one(config: LongDependencyConfig, name: str, training: str, length: int, seed: int) -> dict:
    """Train and score one model at one length and seed (a pure function of its arguments)."""
    cpu_start = time.process_time()
    with limit_threads(config.num_threads):
        model = build_model(
            name, config.n_classes + 1, config.hidden_size, config.n_classes,
            max_length=length, seed=seed,
        )
        trained = train_recall(
            model,
            length,
            steps=config.max_steps,
            batch_size=config.batch_size,
            learning_rate=config.learning_rate,
            noise=config.noise,
            n_classes=config.n_classes,
            seed=seed,
            variable_lag=training == "variable-lag",
        )
        accuracy = evaluate_recall(
            model, length, n_samples=config.eval_samples, noise=config.noise,
            n_classes=config.n_classes, seed=seed,
        )
    return {
        "model": name,
        "training": training,
        "length": length,
        "seed": seed,
        "accuracy": accuracy,
        "solved": accuracy >= config.success_accuracy,
        "chance": 1.0 / config.n_classes,
        "steps": trained.steps,
        "train_seconds": trained.seconds,
        "cpu_seconds": time.process_time() - cpu_start,
        "train_loss": trained.loss,
    }


def long_dependency_experiment(config: LongDependencyConfig | None = None) -> pd.DataFrame:
    """Train every model at every length and seed and return one row per run.

    Columns (:data:`RESULT_COLUMNS`): ``model``, ``training`` ('fixed': the cue always at step 0;
    'variable-lag': at a random step), ``length`` (T), ``seed``, ``accuracy`` (test, on
    ``eval_samples`` fresh sequences with the cue at step 0), ``solved`` (accuracy >= ``success_accuracy``), ``chance``,
    ``steps`` (updates taken), ``train_seconds`` (wall), ``cpu_seconds`` (CPU time of the whole
    run: the cost on an idle machine, whatever else shares the CPU) and ``train_loss`` (mean of the
    last 20 batches).
    ``frame.attrs`` holds the config and the total wall time (``wall_seconds``).

    Runs are independent and seeded, so the result does not depend on ``config.n_jobs``: with
    ``n_jobs > 1`` they are spread over that many worker processes (each on ``num_threads``
    threads), the sensible use of several cores for models this small.
    """
    config = config or LongDependencyConfig()
    jobs = config.runs()
    start = time.perf_counter()
    if config.n_jobs == 1:
        rows = [_run_one(config, *job) for job in jobs]
    else:
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=config.n_jobs, mp_context=context) as pool:
            # longest sequences first, so the slow runs do not end up alone at the tail
            order = sorted(range(len(jobs)), key=lambda k: -jobs[k][2])
            futures = {k: pool.submit(_run_one, config, *jobs[k]) for k in order}
            rows = [futures[k].result() for k in range(len(jobs))]
    frame = pd.DataFrame(rows, columns=list(RESULT_COLUMNS))
    frame.attrs["config"] = config.to_dict()
    frame.attrs["wall_seconds"] = time.perf_counter() - start
    return frame


def _labelled(results: pd.DataFrame) -> pd.DataFrame:
    frame = results.copy()
    training = frame["training"] if "training" in frame.columns else "fixed"
    frame["run"] = [run_label(m, t) for m, t in zip(frame["model"], pd.Series(training, index=frame.index),
                                                    strict=True)]
    return frame


def _ordered(table: pd.DataFrame, frame: pd.DataFrame) -> pd.DataFrame:
    return table.loc[list(dict.fromkeys(frame["run"]))]


def accuracy_table(results: pd.DataFrame) -> pd.DataFrame:
    """Mean test accuracy over seeds as a runs x lengths table (rows in the order they were run;
    a variable-lag run is the row ``'<model> (variable lag)'``)."""
    frame = _labelled(results)
    table = frame.pivot_table(index="run", columns="length", values="accuracy", aggfunc="mean")
    return _ordered(table, frame)


def solved_table(results: pd.DataFrame) -> pd.DataFrame:
    """``'solved/runs'`` counts as a runs x lengths table of strings, e.g. ``'3/3'``."""
    frame = _labelled(results)
    counts = frame.groupby(["run", "length"], sort=False)["solved"].agg(["sum", "count"])
    text = counts["sum"].astype(int).astype(str) + "/" + counts["count"].astype(str)
    return _ordered(text.unstack("length"), frame)


def seed_table(results: pd.DataFrame, column: str = "accuracy", digits: int = 2) -> pd.DataFrame:
    """Every seed's value as a runs x lengths table of strings in seed order, e.g. ``'0.27/0.72/0.52'``."""
    frame = _labelled(results).sort_values("seed", kind="stable")
    text = frame.groupby(["run", "length"], sort=False)[column].agg(
        lambda values: "/".join(f"{v:.{digits}f}" for v in values)
    )
    return _ordered(text.unstack("length"), frame)


def steps_table(results: pd.DataFrame) -> pd.DataFrame:
    """Mean training steps taken over seeds as a runs x lengths table (``max_steps``: ran out)."""
    frame = _labelled(results)
    table = frame.pivot_table(index="run", columns="length", values="steps", aggfunc="mean")
    return _ordered(table, frame)
