"""M4 Hourly benchmark: one global LSTM over the 414 series next to the official baselines.

    python benchmarks/m4_hourly.py                            # full run (~10-25 min on 2 cores)
    python benchmarks/m4_hourly.py --set model.head=point     # another configuration of ours
    python benchmarks/m4_hourly.py --quick                    # seconds: tiny model, short tails
    python benchmarks/m4_hourly.py --from-json runs/m4.json   # re-print a saved result

Protocol (Makridakis et al., IJF 2020; see lstmcast.evaluation.protocols): horizon 48, seasonality
24, sMAPE and MASE per series averaged over the 414 series, OWA against Naive2; the model is
trained on the training series only (validation: their last 48 points) and forecasts the 48
official test points. Prints a markdown table and the hardware; writes the result as JSON with
--out. Not part of the test suite.
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
    return result_markdown(result, "M4 Hourly, 414 series, horizon 48")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=str(DEFAULT_DATA_DIR), help=f"default {DEFAULT_DATA_DIR}")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out", help="JSON file for the result")
    parser.add_argument("--from-json", nargs="+", metavar="FILE", help="print saved results instead of running")
    args = parser.parse_args(argv)
    if args.from_json:
        for path in args.from_json:
            print(markdown(json.loads(Path(path).read_text())) + "\n")
        return 0
    result = bench.run_m4_hourly(args.data_dir, quick=args.quick, overrides=args.set)
    result["hardware"] = hardware(result)
    print(markdown(result))
    if args.out:
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(jsonable(result), indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
