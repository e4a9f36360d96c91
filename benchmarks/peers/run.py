"""lstmcast next to a plain PyTorch loop, Darts and NeuralForecast on the tutorial task.

The task: a 1000-point noisy sine (noise std 0.1, ``lstmcast.data.synthetic.noisy_sine``),
windows of 20 steps, an LSTM with 64 hidden units, one step ahead, batch 32, Adam at 1e-3,
gradients clipped at norm 1. Each program is scored by the RMSE of its one-step forecasts of
the last 200 points (rows 800-999, original units), each forecast from the 20 true values
before it. Every run is a fresh process on one thread (``OMP_NUM_THREADS=1`` and
``torch.set_num_threads(1)``); the programs are interleaved (round r, seed s, all programs),
and the table holds medians of the whole process's CPU seconds (user + sys, from ``wait4``),
wall seconds and peak RSS over all runs, and each seed's test RMSE.

    lstmcast-demo   ``lstmcast demo --data-seed S --seed S --json`` (trains, scores, writes the
                    model directory and the plots)
    lstmcast-api    ``Forecaster(config).fit(frame).evaluate(frame)`` with the demo's config
    pytorch-loop    the tutorial's own loop (benchmarks/seed_task.py): DataLoader, 100 epochs
    darts           ``BlockRNNModel(model="LSTM")``, 100 epochs, trained on rows 0-799
    neuralforecast  ``LSTM`` (1 encoder layer, MLP decoder 64, MSE loss), 2,200 steps of 32 windows
                    (~100 epochs), ``cross_validation(refit=False)`` over the last 200 points

Darts and NeuralForecast come from benchmarks/peers/requirements.txt, in a separate
environment (never a dependency of lstmcast, its tests or CI); without them their rows say so.

    pip install torch==2.13.0 -r benchmarks/peers/requirements.txt
    python benchmarks/peers/run.py [--seeds 0 1 2] [--rounds 2] [--programs ...] [--baseline-src OLD/src]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
PROGRAMS = ("lstmcast-demo", "lstmcast-api", "pytorch-loop", "darts", "neuralforecast")
N_POINTS, NOISE, WINDOW, HIDDEN, BATCH, EPOCHS, TEST = 1000, 0.1, 20, 64, 32, 100, 200


def series(seed: int):
    sys.path.insert(0, str(REPO / "src"))
    from lstmcast.data.synthetic import noisy_sine

    return noisy_sine(N_POINTS, NOISE, seed=seed)["value"].to_numpy()


def rmse(pred, truth) -> float:
    import numpy as np

    return float(np.sqrt(np.mean((np.asarray(pred, dtype=float) - np.asarray(truth, dtype=float)) ** 2)))


# ---------------------------------------------------------------------------- one run each
def run_lstmcast_api(seed: int) -> dict:
    sys.path.insert(0, str(REPO / "benchmarks"))
    from seed_task import run_ours

    return {"rmse": run_ours(seed)["rmse"]}


def run_pytorch_loop(seed: int) -> dict:
    sys.path.insert(0, str(REPO / "benchmarks"))
    from seed_task import run_tutorial

    return {"rmse": run_tutorial(seed)["rmse"]}


def run_darts(seed: int) -> dict:
    import numpy as np
    from darts import TimeSeries
    from darts.models import BlockRNNModel

    values = series(seed)
    lo, hi = values[: N_POINTS - TEST].min(), values[: N_POINTS - TEST].max()
    scaled = TimeSeries.from_values(((values - lo) / (hi - lo) * 2 - 1).astype(np.float32))
    model = BlockRNNModel(
        input_chunk_length=WINDOW, output_chunk_length=1, model="LSTM", hidden_dim=HIDDEN, n_rnn_layers=1,
        batch_size=BATCH, n_epochs=EPOCHS, optimizer_kwargs={"lr": 1e-3}, random_state=seed,
        pl_trainer_kwargs={"accelerator": "cpu", "enable_progress_bar": False, "enable_model_summary": False,
                           "logger": False, "enable_checkpointing": False, "gradient_clip_val": 1.0},
    )
    model.fit(scaled[: N_POINTS - TEST], verbose=False)
    forecast = model.historical_forecasts(scaled, start=N_POINTS - TEST, forecast_horizon=1, stride=1,
                                          retrain=False, last_points_only=True, verbose=False)
    pred = (forecast.values().ravel() + 1) / 2 * (hi - lo) + lo
    return {"rmse": rmse(pred, values[N_POINTS - TEST:])}


def run_neuralforecast(seed: int) -> dict:
    import logging

    import pandas as pd
    from neuralforecast import NeuralForecast
    from neuralforecast.losses.pytorch import MSE
    from neuralforecast.models import LSTM

    logging.getLogger("pytorch_lightning").setLevel(logging.ERROR)
    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    values = series(seed)
    lo, hi = values[: N_POINTS - TEST].min(), values[: N_POINTS - TEST].max()
    frame = pd.DataFrame({"unique_id": "sine", "ds": range(N_POINTS), "y": (values - lo) / (hi - lo) * 2 - 1})
    steps = EPOCHS * ((N_POINTS - TEST - WINDOW) // BATCH + 1)
    model = LSTM(h=1, input_size=WINDOW, encoder_n_layers=1, encoder_hidden_size=HIDDEN, decoder_hidden_size=HIDDEN,
                 decoder_layers=1, loss=MSE(), max_steps=steps, learning_rate=1e-3, batch_size=1, windows_batch_size=BATCH,
                 scaler_type="identity", random_seed=seed, enable_progress_bar=False, enable_model_summary=False,
                 logger=False, enable_checkpointing=False, accelerator="cpu", gradient_clip_val=1.0)
    nf = NeuralForecast(models=[model], freq=1)
    cv = nf.cross_validation(frame, n_windows=TEST, step_size=1, refit=False)
    pred = (cv["LSTM"].to_numpy() + 1) / 2 * (hi - lo) + lo
    return {"rmse": rmse(pred, values[N_POINTS - TEST:])}


def child(program: str, seed: int) -> None:
    import torch

    torch.set_num_threads(1)
    runs = {"lstmcast-api": run_lstmcast_api, "pytorch-loop": run_pytorch_loop, "darts": run_darts,
            "neuralforecast": run_neuralforecast}
    print(json.dumps(runs[program](seed)))


# ---------------------------------------------------------------------------- the harness
def command(program: str, seed: int, out: Path) -> list[str]:
    if program in ("lstmcast-demo", "baseline-demo"):
        return [sys.executable, "-m", "lstmcast.cli", "demo", "--data-seed", str(seed), "--seed", str(seed),
                "--out", str(out / f"demo{seed}"), "--json", "--quiet"]
    return [sys.executable, __file__, "--child", program, "--seed", str(seed)]


def measure(program: str, seed: int, out: Path, baseline: str | None = None) -> dict:
    """Run one program in a fresh process; its CPU seconds and peak RSS from wait4.
    ``baseline-demo`` is ``lstmcast demo`` from another source tree (``--baseline-src``)."""
    src = baseline if program == "baseline-demo" else str(REPO / "src")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
           "PYTHONPATH": os.pathsep.join([str(src), os.environ.get("PYTHONPATH", "")])}
    started = time.perf_counter()
    with tempfile.TemporaryFile("w+") as stdout, tempfile.TemporaryFile("w+") as stderr:
        proc = subprocess.Popen(command(program, seed, out), stdout=stdout, stderr=stderr, env=env, cwd=out)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - started
        stdout.seek(0)
        stderr.seek(0)
        text, err = stdout.read(), stderr.read()
    row = {"program": program, "seed": seed, "cpu": usage.ru_utime + usage.ru_stime, "wall": wall,
           "rss_mb": usage.ru_maxrss / 1024}
    if proc.returncode != 0:
        return {**row, "error": (err.strip().splitlines() or ["failed"])[-1][:200]}
    demo = program in ("lstmcast-demo", "baseline-demo")
    payload = json.loads(text[text.index("{"):]) if demo else json.loads(text.strip().splitlines()[-1])
    return {**row, "rmse": payload["metrics"]["rmse"] if demo else payload["rmse"]}


def available(program: str) -> str | None:
    """None when the program can run here, else why not."""
    module = {"darts": "darts", "neuralforecast": "neuralforecast"}.get(program)
    if module is None:
        return None
    probe = subprocess.run([sys.executable, "-c", f"import {module}"], capture_output=True)
    return None if probe.returncode == 0 else (f"{module} is not installed "
                                               "(pip install torch==2.13.0 -r benchmarks/peers/requirements.txt)")


def table(rows: list[dict], programs: list[str], seeds: list[int], missing: dict[str, str]) -> str:
    ok = {p: [r for r in rows if r["program"] == p and "error" not in r] for p in programs}
    ref = "darts" if ok.get("darts") else None
    ref_cpu = statistics.median(r["cpu"] for r in ok[ref]) if ref else None
    loop_cpu = statistics.median(r["cpu"] for r in ok["pytorch-loop"]) if ok.get("pytorch-loop") else None
    head = ("| program | CPU s | wall s | vs Darts (CPU) | vs plain loop (CPU) | peak RSS MB | test RMSE (seeds "
            + "/".join(map(str, seeds)) + ") |\n|---|---|---|---|---|---|---|")
    lines = [head]
    for p in programs:
        if p in missing or not ok[p]:
            why = missing.get(p) or next((r["error"] for r in rows if r["program"] == p), "no run")
            lines.append(f"| {p} | - | - | - | - | - | not run: {why} |")
            continue
        cpu = statistics.median(r["cpu"] for r in ok[p])
        wall = statistics.median(r["wall"] for r in ok[p])
        rss = statistics.median(r["rss_mb"] for r in ok[p])
        per_seed = " / ".join(f"{statistics.median(r['rmse'] for r in ok[p] if r['seed'] == s):.4f}"
                              for s in seeds if any(r["seed"] == s for r in ok[p]))
        vs_darts = f"{cpu / ref_cpu:.2f}" if ref_cpu else "-"
        vs_loop = f"{cpu / loop_cpu:.2f}" if loop_cpu else "-"
        lines.append(f"| {p} | {cpu:.2f} | {wall:.2f} | {vs_darts} | {vs_loop} | {rss:.0f} | {per_seed} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--programs", nargs="+", choices=PROGRAMS, default=list(PROGRAMS))
    parser.add_argument("--json", metavar="FILE", help="also write every run as JSON")
    parser.add_argument("--baseline-src", metavar="DIR", help="also run `lstmcast demo` from this source tree "
                        "(e.g. a git archive of an older commit) as the row baseline-demo")
    parser.add_argument("--child", choices=PROGRAMS[1:], help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.seed)
        return
    missing = {p: why for p in args.programs if (why := available(p))}
    programs = [*args.programs, *(["baseline-demo"] if args.baseline_src else [])]
    runnable = [p for p in programs if p not in missing]
    rows = []
    load = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        for rnd in range(args.rounds):
            for seed in args.seeds:
                order = runnable if rnd % 2 == 0 else runnable[::-1]
                for program in order:
                    row = measure(program, seed, Path(tmp), args.baseline_src)
                    rows.append({**row, "round": rnd})
                    print(json.dumps(row), file=sys.stderr, flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))
    end_load = os.getloadavg()
    print(f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; load average at start {load[0]:.2f}, at end "
          f"{end_load[0]:.2f} ({os.cpu_count()} cores); medians over {args.rounds} rounds x {len(args.seeds)} seeds\n")
    print(table(rows, programs, args.seeds, missing))


if __name__ == "__main__":
    main()
