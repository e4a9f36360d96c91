"""The accuracy suite's markdown table: a row per (dataset, metric), a CPU-seconds row per
dataset, the notes and the command below it."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

__all__ = ["LABELS", "METHODS", "METRIC_LABELS", "markdown"]

METHODS = ("lstmcast", "naive", "snaive", "snaive_long", "naive2", "ets", "theta")
LABELS = {"lstmcast": "lstmcast", "naive": "Naive", "snaive": "sNaive", "snaive_long": "sNaive (long)",
          "naive2": "Naive2", "ets": "AutoETS", "theta": "AutoTheta"}
METRIC_LABELS = {"smape": "sMAPE", "mase": "MASE", "owa": "OWA", "mae": "MAE", "mse": "MSE", "mape": "MAPE"}


def _fmt(value: float | None, metric: str) -> str:
    if value is None or not math.isfinite(value):
        return "—"
    if metric == "mse" and abs(value) >= 1e4:
        return f"{value:.4g}"
    return f"{value:.3f}" if abs(value) < 100 else f"{value:.1f}"


def markdown(results: Sequence[dict[str, Any]], command: str) -> str:
    """One table: a row per (dataset, metric) and a CPU-seconds row per dataset; notes below."""
    header = ["dataset", "metric", *(LABELS[m] for m in METHODS), "published (same protocol)"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    footnotes: list[str] = []
    footnotes_ets: list[str] = []
    for r in results:
        periods = "/".join(str(m) for m in r["seasons"]) or "1"
        label = f"{r['title']} (h={r['horizon']}, m={periods}, {r['n_series']} series"
        label += f", {r['n_windows']} windows)" if r["n_windows"] != r["n_series"] else ")"
        metrics = [m for m in ("mape", "smape", "mase", "owa", "mae", "mse") if any(m in s for s in r["scores"].values())
                   or m in r["published"]]
        for metric in metrics:
            cells = [_fmt(r["scores"][m].get(metric), metric) if m in r["scores"]
                     else ("n/a" if m in r["notes"] else "—") for m in METHODS]
            published = ", ".join(f"{k} {v:g}" for k, v in r["published"].get(metric, {}).items()) or "—"
            lines.append(f"| {label} | {METRIC_LABELS[metric]} | " + " | ".join(cells) + f" | {published} |")
            label = ""
        secs = [f"{r['seconds'][m]:.1f}" if m in r["seconds"] else "—" for m in METHODS]
        lines.append(f"| {r['title']} | CPU s | " + " | ".join(secs) + " | |")
        for m in METHODS:
            note = r["notes"].get(m, "")
            if note and (m not in r["scores"] or m == "lstmcast" or "season" in note):
                footnotes.append(f"- {r['title']}, {LABELS[m]}: {note}")
        if "ets" in r["notes"] and not footnotes_ets:
            footnotes_ets.append(r["notes"]["ets"].split(";")[0])
    sources = [f"AutoETS / AutoTheta: {footnotes_ets[0]}."] if footnotes_ets else []
    lines += ["", "CPU s: process time of one process on one torch thread (lstmcast: median over seeds, "
              "fit + predict; AutoETS / AutoTheta: as measured when computed, then cached)."]
    return "\n".join([*lines, *sources, "", *footnotes, "", f"Command: `{command}`"])
