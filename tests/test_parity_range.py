"""Export parity is measured against each series' range, so a series around 1e6 with a range of
0.5 is judged at its own scale (float32 ONNX against the float64 reference)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from lstmcast import Forecaster
from tests.conftest import tiny_config

pytest.importorskip("onnxruntime", reason="the onnx extra is not installed: pip install 'lstmcast[onnx]'")


@pytest.fixture(scope="module")
def two_series() -> tuple[Forecaster, pd.DataFrame]:
    t = np.arange(240)
    frames = [pd.DataFrame({"shop": "big", "value": 1e6 + 0.25 * np.sin(t / 4)}),  # level 1e6, range 0.5
              pd.DataFrame({"shop": "unit", "value": np.sin(t / 4)})]  # level 1, range 2
    frame = pd.concat(frames, ignore_index=True)
    config = tiny_config(data={"series_col": "shop", "test_fraction": 0.0}, train={"max_epochs": 2})
    return Forecaster(config).fit(frame), frame


def test_errors_are_relative_to_each_series_range(two_series, tmp_path):
    from lstmcast.export import ForecastPipeline, check_parity
    from lstmcast.export.formats import load_runner, to_exported_program, write_onnx

    forecaster, frame = two_series
    pipeline = ForecastPipeline(forecaster)
    path = tmp_path / "m.onnx"
    write_onnx(pipeline, path, to_exported_program(pipeline))
    runner = load_runner(path, "onnx", pipeline.input_names)
    report = check_parity(runner, forecaster, pipeline, tolerance=1e-5, frame=frame)

    big, unit = report.series["big"], report.series["unit"]
    # each series states the tolerance it was held to, its level and its range
    assert big.tolerance == unit.tolerance == 1e-5
    # the smallest range a window of it was judged against: a short window's own spread, floored
    # by the scaler's scale (0.25 for min-max scaling of a 0.5 range)
    assert big.level == pytest.approx(1e6, rel=1e-3) and 0.2 <= big.range <= 0.5
    assert unit.level == pytest.approx(1.0, rel=0.1) and unit.range >= 0.9
    # float32 steps 0.0625 apart at 1e6: an eighth of that series' range, against 1e-7 of the other's
    assert big.float32_floor == pytest.approx(np.finfo(np.float32).eps * 1e6 / big.range, rel=0.3)
    assert big.float32_floor > 0.1 and unit.float32_floor < 1e-6
    # measured at its own scale, the float32 graph's rounding at 1e6 is a visible fraction of the
    # range (it was ~1e-8 relative to the batch's peak) and the export misses parity
    assert big.rel_error > 1e-3 and not report.passed
    assert unit.rel_error <= 1e-5  # the unit-scale series alone would pass
    worst = max(report.cases, key=lambda c: c.rel_error)
    assert worst.worst_series == "big"
    assert worst.abs_error / 1e6 < 1e-6  # the old peak-relative measure would have passed it
    payload = report.to_dict()
    assert set(payload["series"]) == {"big", "unit"} and payload["series"]["big"]["tolerance"] == 1e-5


def test_the_range_is_floored_by_the_scaler_scale():
    from lstmcast.export.parity import WindowSet, compare

    window = np.zeros((2, 4, 1))  # flat windows: no range of their own
    window[1, :, 0] = [0.0, 1.0, 2.0, 3.0]
    ws = WindowSet("random", window, None, np.zeros((2, 1)), np.array([[0.5], [0.5]]))
    ranges, levels = ws.ranges(1)
    assert ranges[:, 0].tolist() == [0.5, 3.0] and levels[:, 0].tolist() == [0.0, 3.0]
    want = [np.zeros((2, 2, 1))]
    got = [np.full((2, 2, 1), 0.01)]
    abs_err, rows = compare(got, want, ranges)
    assert abs_err == pytest.approx(0.01) and rows.tolist() == pytest.approx([0.02, 0.01 / 3])
