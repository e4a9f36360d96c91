"""ETTh1 / ETTh2 long-horizon benchmark: our LSTM next to Repeat and the published figures.

    python benchmarks/ett.py                                  # ETTh1, horizon 96 (~10-25 min on 2 cores)
    python benchmarks/ett.py --dataset ETTh2 --horizons 96 192
    python benchmarks/ett.py --set model.hidden_size=128      # another configuration of ours
    python benchmarks/ett.py --quick                          # seconds: tiny model on a slice
    python benchmarks/ett.py --from-json runs/ett-96.json     # re-print a saved result

Protocol (Informer; DLinear, AAAI 2023; see lstmcast.evaluation.protocols): train rows 0..8639,
validation 8640..11519, test 11520..14399, z-score fitted on train, stride-1 windows of 336,
MSE/MAE on the scaled data over windows, steps and the 7 channels, last partial batch of 32
dropped. Prints a markdown table per run and the hardware; writes each result as JSON with --out.
Not part of the test suite.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from lstmcast.evaluation import bench
from lstmcast.persistence import jsonable

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_report import DEFAULT_DATA_DIR, hardware, result_markdown


def markdown(result: dict) -> str:
    return result_markdown(result, f"{result['dataset']} multivariate, horizon {result['horizon']}, input {result['input_length']}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", choices=bench.ETT_DATASETS, default="ETTh1")
    parser.add_argument("--horizons", type=int, nargs="+", default=[96])
    parser.add_argument("--input-length", type=int, default=336)
    parser.add_argument("--data-dir", default=str(DEFAULT_DATA_DIR), help=f"default {DEFAULT_DATA_DIR}")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out", help="directory for one JSON result per horizon")
    parser.add_argument("--from-json", nargs="+", metavar="FILE", help="print saved results instead of running")
    args = parser.parse_args(argv)
    if args.from_json:
        for path in args.from_json:
            print(markdown(json.loads(Path(path).read_text())) + "\n")
        return 0
    for horizon in args.horizons:
        result = bench.run_ett(args.data_dir, args.dataset, horizon, args.input_length, quick=args.quick,
                               overrides=args.set)
        result["hardware"] = hardware(result)
        print(markdown(result) + "\n", flush=True)
        if args.out:
            out = Path(args.out) / f"{args.dataset}-{horizon}{'-quick' if args.quick else ''}.json"
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(json.dumps(jsonable(result), indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
