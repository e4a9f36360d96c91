"""The published benchmark tables (docs/benchmarks.md): a result of
``lstmcast.evaluation.bench.run_ett`` / ``run_m4_hourly`` as markdown, with the hardware it ran on.

Shared by ``benchmarks/ett.py`` and ``benchmarks/m4_hourly.py``; the data directory defaults to
``../shared/data`` beside the repository (the library itself never assumes one).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lstmcast.evaluation import bench

DEFAULT_DATA_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def hardware(result: dict[str, Any]) -> dict[str, Any]:
    """The result's environment with the CPU model name from /proc/cpuinfo (Linux), when readable."""
    hw = dict(result["hardware"])
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            names = [line.split(":", 1)[1].strip() for line in handle if line.startswith("model name")]
    except OSError:
        names = []
    if names:
        hw["cpu"] = names[0]
    return hw


def result_markdown(result: dict[str, Any], title: str) -> str:
    """A bench result as a markdown table, a title line (``title``: settings) and the training line."""
    header, rows = bench.result_table(result)
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(["---"] * len(header)) + "|"]
    for row in rows:
        cells = [row[0]] + [f"{v:.3f}" if isinstance(v, float) else "" if v is None else str(v) for v in row[1:]]
        lines.append("| " + " | ".join(cells) + " |")
    t, hw = result["training"], result["hardware"]
    lines.append("")
    lines.append(f"{title}{' (quick)' if result['quick'] else ''}: {bench.describe_config(result['config'])}.")
    lines.append(f"Training {t['seconds']:.0f} s wall ({t['epochs']} epochs, best {t['best_epoch']}, "
                 f"{t['stop_reason']}), {t['parameters']:,} parameters, {t['threads']} torch threads; "
                 f"{hw['cpu']}, {hw['cpu_count']} cores, torch {hw['torch']}.")
    return "\n".join(lines)
