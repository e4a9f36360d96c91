"""The tutorial's program against lstmcast on the same task, side by side.

Runs a faithful copy of the tutorial's program (its DataLoader loop; fixed only where it
crashes: the extra unsqueeze that made a 4-D input, sklearn's MinMaxScaler replaced by the
same arithmetic, plots removed) and `lstmcast` on the same noisy sine, alternating, each in a
fresh process, for several seeds. Prints wall time, time per epoch and test RMSE (original
units) for each, and the ratio. Two more measurements of the same task:

    .venv/bin/python benchmarks/seed_task.py [--seeds 0 1 2]
    .venv/bin/python benchmarks/seed_task.py --epoch [--baseline-src OLD/src]   # CPU ms per epoch vs FLOP floor
    .venv/bin/python benchmarks/seed_task.py --stopping                        # early-stopping rules vs test RMSE
    .venv/bin/python benchmarks/seed_task.py --threads                         # 1 vs 2 threads by model size

``--epoch`` trains 30 epochs on one thread and reports the median CPU time of an epoch next to
its FLOP count (LSTM + head, forward and backward on the training windows, forward on the
validation windows) divided by this machine's one-core sgemm rate, measured in the same run;
``--baseline-src`` runs the same measurement on another source tree (e.g. a ``git archive`` of
an older commit), alternating with this one, each in a fresh process.

``--stopping`` trains each seed for 100 epochs without early stopping, keeps every epoch's
weights, and replays each (patience, min_delta) rule on the recorded validation losses: the
weights a rule would restore, the epoch it would stop at and their test RMSE. The plateau
schedule does not depend on early stopping, so the replay is exactly what the rule would do.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time


def run_tutorial(seed: int) -> dict:
    import numpy as np
    import torch
    import torch.nn as nn

    torch.manual_seed(seed)
    np.random.seed(seed)  # noqa: NPY002 - the tutorial's own global RNG
    SEQ_LENGTH, HIDDEN_SIZE, BATCH_SIZE, EPOCHS, LR = 20, 64, 32, 100, 0.001
    DEVICE = "cuda" if torch.cuda.is_available() else "cpu"
    from lstmcast.data.synthetic import noisy_sine

    data = noisy_sine(1000, 0.1, seed=seed)["value"].to_numpy().reshape(-1, 1)  # same series as ours
    start = time.perf_counter()
    lo, hi = data.min(), data.max()  # MinMaxScaler(feature_range=(-1, 1)).fit_transform(data)
    data_normalized = (data - lo) / (hi - lo) * 2 - 1

    def create_sequences(data, seq_length):
        xs, ys = [], []
        for i in range(len(data) - seq_length - 1):
            xs.append(data[i : i + seq_length])
            ys.append(data[i + seq_length])
        return np.array(xs), np.array(ys)

    X, y = create_sequences(data_normalized, SEQ_LENGTH)
    X_tensor = torch.tensor(X, dtype=torch.float32)  # tutorial: .unsqueeze(-1) -> 4-D input, crashes
    y_tensor = torch.tensor(y, dtype=torch.float32)
    train_size = int(0.8 * len(X))
    train_X, test_X = X_tensor[:train_size], X_tensor[train_size:]
    train_y, test_y = y_tensor[:train_size], y_tensor[train_size:]
    train_dataset = torch.utils.data.TensorDataset(train_X, train_y)
    train_loader = torch.utils.data.DataLoader(train_dataset, batch_size=BATCH_SIZE, shuffle=True)

    class LSTMForecaster(nn.Module):
        def __init__(self, input_size=1, hidden_size=64, output_size=1):
            super().__init__()
            self.hidden_size = hidden_size
            self.lstm = nn.LSTM(input_size=input_size, hidden_size=hidden_size, batch_first=True)
            self.fc = nn.Linear(hidden_size, output_size)

        def forward(self, x, hidden=None):
            batch_size = x.size(0)
            if hidden is None:
                h0 = torch.zeros(1, batch_size, self.hidden_size).to(DEVICE)
                c0 = torch.zeros(1, batch_size, self.hidden_size).to(DEVICE)
                hidden = (h0, c0)
            out, (hn, cn) = self.lstm(x, hidden)
            out = out[:, -1, :]
            return self.fc(out), (hn, cn)

    model = LSTMForecaster(hidden_size=HIDDEN_SIZE).to(DEVICE)
    optimizer = torch.optim.Adam(model.parameters(), lr=LR)
    criterion = nn.MSELoss()
    for _epoch in range(EPOCHS):
        model.train()
        for batch_X, batch_y in train_loader:
            batch_X, batch_y = batch_X.to(DEVICE), batch_y.to(DEVICE)
            optimizer.zero_grad()
            predictions, _ = model(batch_X)
            loss = criterion(predictions, batch_y)
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
    model.eval()
    with torch.no_grad():
        predictions, _ = model(test_X.to(DEVICE))
    pred = (predictions.cpu().numpy() + 1) / 2 * (hi - lo) + lo
    truth = (test_y.numpy() + 1) / 2 * (hi - lo) + lo
    seconds = time.perf_counter() - start
    rmse = float(np.sqrt(np.mean((pred - truth) ** 2)))
    targets = np.arange(train_size, len(X)) + SEQ_LENGTH  # rows of the test targets
    return {"seconds": seconds, "epochs": EPOCHS, "rmse": rmse, "threads": torch.get_num_threads(),
            "floor": realised_noise(seed, targets)}


def run_ours(seed: int) -> dict:
    from lstmcast import DataConfig, ForecastConfig, Forecaster, TrainConfig
    from lstmcast.data.synthetic import noisy_sine

    frame = noisy_sine(1000, 0.1, seed=seed)
    config = ForecastConfig(data=DataConfig(targets=("value",), input_length=20), train=TrainConfig(seed=seed))
    start = time.perf_counter()
    forecaster = Forecaster(config).fit(frame)
    rmse = forecaster.evaluate(frame)["metrics"]["rmse"]
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "epochs": len(forecaster.history_.history), "rmse": rmse,
            "threads": forecaster.meta_["threads"], "floor": realised_noise(seed, range(800, 1000))}


TUTORIAL = {"n_points": 1000, "noise": 0.1, "input_length": 20, "hidden_size": 64, "batch_size": 32}


def tutorial_forecaster(seed: int, **train):
    from lstmcast import DataConfig, ForecastConfig, Forecaster, TrainConfig
    from lstmcast.data.synthetic import noisy_sine

    frame = noisy_sine(TUTORIAL["n_points"], TUTORIAL["noise"], seed=seed)
    config = ForecastConfig(data=DataConfig(targets=("value",), input_length=TUTORIAL["input_length"]),
                            train=TrainConfig(seed=seed, **train))
    return Forecaster(config), frame


def epoch_flops(n_train: int, n_val: int, hidden: int = 64, inputs: int = 1, length: int = 20) -> float:
    """FLOPs of one epoch: 2 per multiply-add of the gate matmuls (4 gates x hidden x (inputs +
    hidden) per step) and the linear head; backward costs twice the forward."""
    forward = length * 2 * 4 * hidden * (inputs + hidden) + 2 * hidden
    return n_train * 3 * forward + n_val * forward


def sgemm_rate() -> float:
    """FLOP/s of a 512 x 512 float32 matmul on one thread (CPU time), best of 5."""
    import torch

    torch.set_num_threads(1)
    a, b = torch.randn(512, 512), torch.randn(512, 512)
    best = 0.0
    for _ in range(5):
        start = time.process_time()
        for _ in range(20):
            a @ b
        best = max(best, 20 * 2 * 512**3 / (time.process_time() - start))
    return best


def bare_epoch_ms(n_train: int, n_val: int) -> float:
    """CPU ms of the arithmetic alone: nn.LSTM + head forward, MSE, backward for every training
    batch and one validation forward, with no optimiser, clipping or batch gathering."""
    import torch

    torch.set_num_threads(1)
    lstm = torch.nn.LSTM(1, TUTORIAL["hidden_size"], batch_first=True)
    head = torch.nn.Linear(TUTORIAL["hidden_size"], 1)
    x, y = torch.randn(TUTORIAL["batch_size"], TUTORIAL["input_length"], 1), torch.randn(TUTORIAL["batch_size"], 1)
    val = torch.randn(n_val, TUTORIAL["input_length"], 1)
    times = []
    for _ in range(15):
        start = time.process_time()
        for _ in range(-(-n_train // TUTORIAL["batch_size"])):
            out, _ = lstm(x)
            torch.nn.functional.mse_loss(head(out[:, -1]), y).backward()
        with torch.no_grad():
            head(lstm(val)[0][:, -1])
        times.append(time.process_time() - start)
    return 1000 * statistics.median(times[3:])


def run_epoch(seed: int, epochs: int = 30) -> dict:
    """Median CPU seconds of one tutorial epoch on one thread, with the FLOP count and sgemm rate."""
    import torch

    from lstmcast.training import Callback

    class Clock(Callback):
        def __init__(self):
            self.marks = []

        def on_fit_start(self, state):
            self.marks.append(time.process_time())

        def on_epoch_end(self, state, record):
            self.marks.append(time.process_time())

    started = time.process_time()
    forecaster, frame = tutorial_forecaster(seed, max_epochs=epochs, patience=0, threads=1)
    clock = Clock()
    forecaster.fit(frame, callbacks=[clock])
    fit_cpu = time.process_time() - started
    per_epoch = [b - a for a, b in zip(clock.marks, clock.marks[1:], strict=False)]
    windows = forecaster.meta_["n_windows"]
    return {"epoch_cpu_ms": 1000 * statistics.median(per_epoch[1:]), "first_epoch_ms": 1000 * per_epoch[0],
            "bare_ms": bare_epoch_ms(windows["train"], windows["val"]),
            "fit_cpu_s": fit_cpu, "flops": epoch_flops(windows["train"], windows["val"]),
            "sgemm_gflops": sgemm_rate() / 1e9, "threads": torch.get_num_threads(),
            "dynamo_imported": "torch._dynamo" in sys.modules}


def epoch_report(seeds: list[int], baseline: str | None) -> None:
    import os

    trees = [("this tree", None)] + ([("baseline", baseline)] if baseline else [])
    rows = []
    for rnd in range(2):
        for seed in seeds:
            for name, src in (trees if rnd == 0 else trees[::-1]):
                env = dict(os.environ)
                if src:
                    env["PYTHONPATH"] = src
                out = subprocess.run([sys.executable, __file__, "--run", "epoch", "--seed", str(seed)], env=env,
                                     capture_output=True, text=True, check=True).stdout
                rows.append({"tree": name, "seed": seed, **json.loads(out.strip().splitlines()[-1])})
    rate = statistics.median(r["sgemm_gflops"] for r in rows)
    flops = rows[0]["flops"]
    print(f"load average {os.getloadavg()[0]:.2f}; one epoch = {flops / 1e9:.3f} GFLOP; one-core sgemm "
          f"{rate:.1f} GFLOP/s (median) -> FLOP floor {1000 * flops / (rate * 1e9):.1f} ms")
    bare = statistics.median(r["bare_ms"] for r in rows)
    print(f"bare arithmetic (LSTM + head forward, MSE, backward; no optimiser): {bare:.1f} ms = "
          f"{bare / (1000 * flops / (rate * 1e9)):.2f}x the floor")
    print(f"{'tree':<10} {'epoch CPU ms':>12} {'x floor':>8} {'first ms':>9} {'fit CPU s':>9} {'dynamo':>7}")
    for name, _ in trees:
        mine = [r for r in rows if r["tree"] == name]
        ms = statistics.median(r["epoch_cpu_ms"] for r in mine)
        print(f"{name:<10} {ms:>12.1f} {ms / (1000 * flops / (rate * 1e9)):>8.2f} "
              f"{statistics.median(r['first_epoch_ms'] for r in mine):>9.1f} "
              f"{statistics.median(r['fit_cpu_s'] for r in mine):>9.2f} {mine[0]['dynamo_imported']!s:>7}")


THREAD_SIZES = [(64, 32, 1), (128, 128, 1), (256, 256, 1)]  # hidden, batch, layers


def run_threads(seed: int, hidden: int = 64, batch: int = 32, layers: int = 1, threads: int = 1) -> dict:
    """Median wall and CPU seconds of an epoch (2..3) at one model size and thread count."""
    from lstmcast import DataConfig, ForecastConfig, Forecaster, ModelConfig, TrainConfig
    from lstmcast.data.synthetic import noisy_sine
    from lstmcast.training import Callback

    class Clock(Callback):
        def __init__(self):
            self.marks = []

        def on_fit_start(self, state):
            self.marks.append((time.perf_counter(), time.process_time()))

        def on_epoch_end(self, state, record):
            self.marks.append((time.perf_counter(), time.process_time()))

    config = ForecastConfig(DataConfig(targets=("value",), input_length=48),
                            ModelConfig(hidden_size=hidden, num_layers=layers, ensemble=1),
                            TrainConfig(seed=seed, max_epochs=3, patience=0, batch_size=batch, threads=threads))
    clock = Clock()
    Forecaster(config).fit(noisy_sine(4000, 0.1, seed=seed), callbacks=[clock])
    walls = [b[0] - a[0] for a, b in zip(clock.marks, clock.marks[1:], strict=False)][1:]
    cpus = [b[1] - a[1] for a, b in zip(clock.marks, clock.marks[1:], strict=False)][1:]
    return {"wall": statistics.median(walls), "cpu": statistics.median(cpus)}


def threads_report(seed: int) -> None:
    import os

    from lstmcast.config import ModelConfig, TrainConfig
    from lstmcast.training.threads import step_work

    print(f"load average {os.getloadavg()[0]:.2f}, {os.cpu_count()} cores; noisy sine of 4,000 points, windows of 48 steps")
    print(f"{'hidden':>6} {'batch':>5} {'layers':>6} {'step work':>10} {'1 thread s':>10} {'2 threads s':>11} "
          f"{'speed-up':>8}")
    for hidden, batch, layers in THREAD_SIZES:
        walls = {1: [], 2: []}
        for threads in (1, 2, 2, 1):  # interleaved pairs
            out = subprocess.run([sys.executable, __file__, "--run", "threads", "--seed", str(seed),
                                  "--size", str(hidden), str(batch), str(layers), str(threads)],
                                 capture_output=True, text=True, check=True).stdout
            walls[threads].append(json.loads(out.strip().splitlines()[-1])["wall"])
        one, two = statistics.median(walls[1]), statistics.median(walls[2])
        work = step_work(ModelConfig(hidden_size=hidden, num_layers=layers), TrainConfig(batch_size=batch))
        print(f"{hidden:>6} {batch:>5} {layers:>6} {work:>10,} {one:>10.3f} {two:>11.3f} {one / two:>8.2f}")


RULES = [(10, 0.0), (10, 0.001), (10, 0.002), (10, 0.005), (10, 0.01), (7, 0.002), (7, 0.005), (5, 0.0), (5, 0.005),
         (5, 0.01), (3, 0.0)]


def run_stopping(seed: int) -> dict:
    """Test RMSE of the weights each early-stopping rule would restore, replayed on one 100-epoch run."""
    from lstmcast.training import Callback

    class Keep(Callback):
        def __init__(self):
            self.weights, self.val = [], []

        def on_epoch_end(self, state, record):
            self.weights.append({k: v.detach().clone() for k, v in state.model.state_dict().items()})
            self.val.append(record.val_loss)

    forecaster, frame = tutorial_forecaster(seed, max_epochs=100, patience=0, threads=1)
    keep = Keep()
    forecaster.fit(frame, callbacks=[keep])
    test_rmse = []
    for weights in keep.weights:
        forecaster.network_.load_state_dict(weights)
        test_rmse.append(forecaster.evaluate(frame)["metrics"]["rmse"])
    out = {}
    for patience, min_delta in RULES:
        stop, best = replay(keep.val, patience, min_delta)
        out[f"{patience}/{min_delta}"] = {"stop": stop, "best": best, "rmse": test_rmse[best - 1]}
    return out


def replay(val: list[float], patience: int, min_delta: float) -> tuple[int, int]:
    """(epoch the rule stops at, epoch whose weights it restores), as EarlyStopping decides."""
    best_loss, best, reference, bad = float("inf"), 0, float("inf"), 0
    for epoch, loss in enumerate(val, start=1):
        if loss < best_loss:
            best_loss, best = loss, epoch
        if loss < reference * (1 - min_delta):
            reference, bad = loss, 0
        else:
            bad += 1
        if bad >= patience:
            return epoch, best
    return len(val), best


def stopping_report(seeds: list[int]) -> None:
    results = {}
    for seed in seeds:
        out = subprocess.run([sys.executable, __file__, "--run", "stopping", "--seed", str(seed)],
                             capture_output=True, text=True, check=True).stdout
        results[seed] = json.loads(out.strip().splitlines()[-1])
    print(f"{'patience/min_delta':<19} " + " ".join(f"{'seed ' + str(s) + ' stop/best/RMSE':>26}" for s in seeds)
          + f" {'mean epochs':>11} {'mean RMSE':>9}")
    for patience, min_delta in RULES:
        key = f"{patience}/{min_delta}"
        cells = [results[s][key] for s in seeds]
        print(f"{key:<19} " + " ".join(f"{c['stop']:>10} {c['best']:>5} {c['rmse']:>9.4f}" for c in cells)
              + f" {statistics.mean(c['stop'] for c in cells):>11.1f} {statistics.mean(c['rmse'] for c in cells):>9.4f}")


def realised_noise(seed: int, rows) -> float:
    """RMSE of the noise itself on the test targets: what a perfect model of the sine would score."""
    import numpy as np

    from lstmcast.data.synthetic import noisy_sine

    observed = noisy_sine(1000, 0.1, seed=seed)["value"].to_numpy()
    clean = np.sin(np.linspace(0.0, 2.0 * np.pi * 10.0, 1000))
    rows = np.asarray(rows)
    return float(np.sqrt(np.mean((observed[rows] - clean[rows]) ** 2)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--epoch", action="store_true", help="CPU ms per epoch against the FLOP floor")
    parser.add_argument("--baseline-src", metavar="DIR", help="with --epoch: also measure this source tree")
    parser.add_argument("--stopping", action="store_true", help="early-stopping rules against test RMSE")
    parser.add_argument("--threads", action="store_true", help="epoch wall time on 1 and 2 threads by model size")
    parser.add_argument("--run", choices=["tutorial", "ours", "epoch", "stopping", "threads"], help=argparse.SUPPRESS)
    parser.add_argument("--size", type=int, nargs=4, help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run == "threads":
        print(json.dumps(run_threads(args.seed, *args.size)))
        return
    if args.run:
        runs = {"tutorial": run_tutorial, "ours": run_ours, "epoch": run_epoch, "stopping": run_stopping}
        print(json.dumps(runs[args.run](args.seed)))
        return
    if args.epoch:
        epoch_report(args.seeds, args.baseline_src)
        return
    if args.stopping:
        stopping_report(args.seeds)
        return
    if args.threads:
        threads_report(args.seeds[0])
        return
    rows = []
    for seed in args.seeds:
        for which in ("tutorial", "ours"):  # alternate, each in a fresh process
            out = subprocess.run([sys.executable, __file__, "--run", which, "--seed", str(seed)],
                                 capture_output=True, text=True, check=True).stdout
            rows.append({"program": which, "seed": seed, **json.loads(out.strip().splitlines()[-1])})
    print(f"{'program':<9} {'seed':>4} {'threads':>7} {'epochs':>6} {'wall s':>8} {'ms/epoch':>9} {'test RMSE':>10}"
          f" {'noise RMSE':>10}")
    for r in rows:
        print(f"{r['program']:<9} {r['seed']:>4} {r['threads']:>7} {r['epochs']:>6} {r['seconds']:>8.2f} "
              f"{1000 * r['seconds'] / r['epochs']:>9.1f} {r['rmse']:>10.4f} {r['floor']:>10.4f}")
    ratios = [t["seconds"] / o["seconds"] for t, o in zip(rows[::2], rows[1::2], strict=True)]
    per_epoch = [(t["seconds"] / t["epochs"]) / (o["seconds"] / o["epochs"])
                 for t, o in zip(rows[::2], rows[1::2], strict=True)]
    ours_rmse = statistics.mean(r["rmse"] for r in rows if r["program"] == "ours")
    tut_rmse = statistics.mean(r["rmse"] for r in rows if r["program"] == "tutorial")
    print(f"\nspeed-up (tutorial wall / ours wall), median over seeds: {statistics.median(ratios):.2f}x "
          f"(per seed: {', '.join(f'{x:.2f}' for x in ratios)})")
    print(f"per-epoch speed-up, median: {statistics.median(per_epoch):.2f}x")
    print(f"mean test RMSE: ours {ours_rmse:.4f} ({100 * (ours_rmse / 0.1 - 1):+.1f}% vs noise floor 0.1), "
          f"tutorial {tut_rmse:.4f} ({100 * (tut_rmse / 0.1 - 1):+.1f}%)")
    for name in ("ours", "tutorial"):
        excess = [r["rmse"] / r["floor"] - 1 for r in rows if r["program"] == name]
        print(f"{name}: test RMSE above the realised noise RMSE of its test targets, mean over seeds: "
              f"{100 * statistics.mean(excess):+.1f}%")


if __name__ == "__main__":
    main()
