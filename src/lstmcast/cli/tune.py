"""lstmcast tune: hyper-parameter search with Optuna."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from lstmcast.cli.common import (
    CommandError,
    build_config,
    emit_json,
    format_value,
    plot_writers,
    to_stderr,
)
from lstmcast.cli.fitting import demo_inputs


class _TrialTable:
    """The live table of ``lstmcast tune``: one line per trial this worker finishes."""

    def __init__(self) -> None:
        self.started = False

    def row(self, r: Any) -> None:
        if not self.started:
            print(f"{'trial':>5}  {'state':<8} {'val loss':>10} {'best':>16} {'epochs':>6} {'time':>7}  params")
            self.started = True
        params = " ".join(f"{k.rpartition('.')[2]}={_short(v)}" for k, v in r.params.items())
        seconds = f"{r.seconds:.1f}s" if r.seconds is not None else ""
        best = f"{r.best_value:.5g} (#{r.best_number})" if r.best_value is not None else ""
        value = f"{r.value:.5g}" if r.value is not None else ""
        note = f"  [{r.note}]" if r.note else ""
        print(f"{r.number:>5}  {r.state:<8} {value:>10} {best:>16} "
              f"{r.epochs if r.epochs is not None else '':>6} {seconds:>7}  {params}{note}", flush=True)


def _short(value: Any) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value).lower() if isinstance(value, bool) else str(value)


def _read_summary(out: Path) -> dict[str, Any]:
    try:
        summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return summary if isinstance(summary, dict) else {}


def _retrained_trial(out: Path) -> int | None:
    """The trial whose configuration the model in OUT/model was retrained from (summary.json)."""
    retrained = _read_summary(out).get("retrained")
    trial = retrained.get("trial") if isinstance(retrained, dict) else None
    return trial if isinstance(trial, int) and (out / "model").is_dir() else None


def cmd_tune(args: argparse.Namespace) -> int:
    import warnings

    from lstmcast.config import parse_duration
    from lstmcast.errors import require

    optuna = require("optuna", "tune")
    from lstmcast import tuning

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    frame, config, source = _tune_inputs(args)
    out = Path(args.out)
    space = tuning.load_space(args.space, base=config) if args.space else tuning.DEFAULT_SPACE
    timeout = parse_duration(args.timeout) if args.timeout else None
    study = tuning.open_study(args.storage, args.study, out, pruner=args.pruner, seed=args.sampler_seed,
                              max_epochs=config.train.max_epochs)
    live = not args.json and not args.quiet
    if live:
        print(f"Study {study.study_name!r} in {study.user_attrs.get('storage')}: up to {args.trials} trials"
              f"{f', {args.timeout} in this worker' if timeout else ''}, {args.pruner} pruner; objective: best "
              "validation loss (scaled units). Searching:")
        for param in space:
            print(f"  {param.describe()}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # the notes are printed below
        result = tuning.tune(frame, config, study, space=space, n_trials=args.trials, timeout=timeout,
                             source=source, on_trial=_TrialTable().row if live else None)
    for note in result.notes:
        to_stderr(f"lstmcast tune: note: {note}")
    with tuning.output_lock(out):
        extra = _retrain(result, args, out, frame, source, live)
        paths = tuning.write_results(study, result, out, extra)
    if result.best_config is None:
        raise CommandError(
            f"No trial of study {result.study_name!r} completed ({result.states}); the errors of failed "
            f"trials are in {paths['trials']} (column user_attrs_error)."
        )
    payload = {"command": "tune", **result.summary(), **extra, "paths": paths}
    if args.json:
        emit_json(payload)
    else:
        _print_result(result, payload, extra, paths)
    return 0


def _tune_inputs(args: argparse.Namespace) -> tuple[Any, Any, str]:
    """(frame, base config, source) of ``--data FILE`` or ``--demo``."""
    if bool(args.demo) == bool(args.data):
        raise CommandError("Give the series to tune on: either --data FILE or --demo (the noisy sine of `lstmcast demo`).")
    if args.trials < 1:
        raise CommandError(f"--trials must be at least 1; got {args.trials}.")
    if args.demo:
        frame, base = demo_inputs(args.data_seed)
        source = "the demo series"
    else:
        from lstmcast.data.io import read_table

        frame, base, source = read_table(args.data), None, str(args.data)
    return frame, build_config(args, base), source


def _retrain(result: Any, args: argparse.Namespace, out: Path, frame: Any, source: str, live: bool) -> dict[str, Any]:
    """Retrain the best configuration into OUT/model when the study is complete and the model
    there is not already that trial's; what was done, for the summary."""
    from lstmcast.forecaster import Forecaster

    extra: dict[str, Any] = {}
    if result.best_config is None or args.no_retrain:
        return extra
    if not result.complete:
        extra["retrain_skipped"] = (f"{result.running} trial(s) of the study still run in other workers, so "
                                    "the best trial may change; the worker that finishes last retrains")
        if live:
            print(f"Not retraining: {extra['retrain_skipped']}.")
        return extra
    if _retrained_trial(out) == result.best_number:
        extra["retrained"] = _read_summary(out).get("retrained")
        if live:
            print(f"The model in {out / 'model'} is already trial {result.best_number}, the best; not retraining.")
        return extra
    if live:
        print(f"Retraining the best configuration (trial {result.best_number}) -> {out / 'model'}")
    forecaster = Forecaster(result.best_config).fit(frame, source=source)
    scores = forecaster.evaluate(frame, source=source)
    writers = plot_writers(forecaster, forecaster.historical_forecasts(frame, source=source))
    forecaster.save(out / "model", extras=writers, metrics=scores)
    history = forecaster.history_
    extra["retrained"] = {"trial": result.best_number,
                          "validation_loss": history.best_loss if history is not None else None,
                          "model": str(out / "model"), "test_metrics": scores["metrics"],
                          "baselines": scores["baselines"]}
    return extra


def _print_result(result: Any, payload: dict[str, Any], extra: dict[str, Any], paths: dict[str, str]) -> None:
    states = ", ".join(f"{n} {k.lower()}" for k, n in result.states.items())
    print(f"{result.n_trials} trials in the study ({states}); {result.trials_here} run here in {result.seconds:.1f}s.")
    print(f"best: trial {result.best_number}, validation loss {result.best_value:.5g}: "
          + " ".join(f"{k}={_short(v)}" for k, v in result.best_params.items()))
    if result.baseline_number == result.best_number:
        print("the base configuration is still the best; try more trials or another --space")
    elif result.baseline_value is not None:
        gain = payload["baseline"]["improvement"]
        print(f"base configuration (trial {result.baseline_number}): {result.baseline_value:.5g}"
              + (f"; the best is {gain:.1%} lower" if gain is not None else ""))
    if "retrained" in extra:
        print(f"retrained: validation loss {extra['retrained']['validation_loss']:.5g}, test "
              + ", ".join(f"{k}={format_value(v)}" for k, v in extra["retrained"]["test_metrics"].items()))
    for name, path in paths.items():
        print(f"{name}: {path}")
