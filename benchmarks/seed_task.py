"""The tutorial's program against lstmcast on the same task, side by side.

Runs a faithful copy of the tutorial's program (its DataLoader loop; fixed only where it
crashes: the extra unsqueeze that made a 4-D input, sklearn's MinMaxScaler replaced by the
same arithmetic, plots removed) and `lstmcast` on the same noisy sine, alternating, each in a
fresh process, for several seeds. Prints wall time, time per epoch and test RMSE (original
units) for each, and the ratio. Usage:

    .venv/bin/python benchmarks/seed_task.py [--seeds 0 1 2]
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
    parser.add_argument("--run", choices=["tutorial", "ours"], help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run:
        print(json.dumps((run_tutorial if args.run == "tutorial" else run_ours)(args.seed)))
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
