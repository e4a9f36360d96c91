"""Export contract: every model variant x every format reproduces the eager model at batch 1, 3
and 64 on random and real windows; ONNX keeps native LSTM nodes and a dynamic batch across
several exports in one process; pt2 loads without lstmcast; int8 stays within its tolerance."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from lstmcast.cli import main
from lstmcast.data.io import future_index
from lstmcast.errors import ConfigError, DataError
from lstmcast.export import (
    FLOAT_TOLERANCE,
    INT8_TOLERANCE,
    ExportParityError,
    ForecastPipeline,
    eager_forecast,
    export_model,
)
from lstmcast.export.formats import SUFFIXES, onnx_model_proto, onnx_session
from lstmcast.export.parity import random_windows
from lstmcast.models.encoders import encoder_ops
from tests.export.variants import VARIANTS

onnx = pytest.importorskip("onnx")

FORMATS = ("pt2", "onnx", "torchscript")


def _last_windows(f, frame, future):
    """Raw inputs for the window at the end of each series, built with the public data path."""
    from lstmcast.data.prepare import future_block, last_window

    model, d = f.model_, f.config_.data
    series = model.prepare(frame)
    window = np.stack([last_window(s, d.input_length)[0] for s in series])
    fut = None
    if f.n_future:
        blocks = [future_block(s, model.layout, d, future, future_index(s.index, f.meta_["frequency"], d.horizon),
                               d.horizon) for s in series]
        fut = np.stack(blocks)
    scalers = [model.scaler(s) for s in series]
    return window, fut, np.stack([s.offset_ for s in scalers]), np.stack([s.scale_ for s in scalers])


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_eager_reference_is_predict(fitted, variant):
    f, frame, future = fitted(variant)
    forecast = f.predict(frame, future=future).to_frame()
    outputs = eager_forecast(f, *_last_windows(f, frame, future))
    np.testing.assert_allclose(outputs[0].reshape(-1), forecast["mean"].to_numpy(), rtol=1e-6, atol=1e-9)
    for q, level in enumerate(f.quantile_levels):
        np.testing.assert_allclose(outputs[1][..., q].reshape(-1), forecast[f"q{level:g}"].to_numpy(), rtol=1e-6)


# variant outer, format inner: ONNX exports of several models (attention, bidirectional) run
# one after another in this process, where a later export could silently fix the batch size
@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("variant", list(VARIANTS))
def test_export_matches_eager(fitted, variant, fmt, tmp_path):
    f, frame, _ = fitted(variant)
    result = export_model(f, tmp_path / f"model{SUFFIXES[fmt]}", fmt, frame=frame)

    report = result.parity
    assert report.passed and report.max_rel <= FLOAT_TOLERANCE, report.to_dict()
    assert sorted((c.kind, c.batch) for c in report.cases) == sorted(
        (kind, batch) for kind in ("random", "real") for batch in (1, 3, 64))
    sidecar = json.loads(result.sidecar.read_text())
    d = f.config_.data
    assert sidecar["inputs"][0] == {"name": "window", "shape": ["batch", d.input_length, len(f.channels)],
                                    "dtype": "float32"}
    assert sidecar["outputs"][0]["shape"] == ["batch", d.horizon, len(d.targets)]
    assert sidecar["channels"] == f.channels and sidecar["horizon"] == d.horizon
    assert sidecar["quantile_levels"] == list(f.quantile_levels)
    assert sidecar["scaling"]["mode"] == ("inputs" if d.series_col else "baked")
    assert sidecar["parity"]["passed"] and sidecar["lstmcast_version"]
    if fmt == "onnx":
        _check_onnx_file(result.path, f)


def _check_onnx_file(path, f):
    model = onnx.load(str(path))
    native = {"lstm": "LSTM", "gru": "GRU"}[f.config_.model.encoder]  # the encoder's own ONNX node, not a Loop
    assert native in {node.op_type for node in model.graph.node}
    for value in [*model.graph.input, *model.graph.output]:
        assert value.type.tensor_type.shape.dim[0].dim_param, f"{value.name} has a fixed batch dimension"
    session = onnx_session(path)
    pipeline = ForecastPipeline(f)
    for batch in (1, 3, 64):
        inputs = random_windows(f, pipeline, batch).inputs(pipeline)
        outputs = session.run(None, inputs)
        assert outputs[0].shape == (batch, f.config_.data.horizon, len(f.config_.data.targets))


@pytest.mark.slow
def test_several_onnx_exports_in_one_process_keep_batch_dynamic(fitted):
    names = ["quantile_attention_bidirectional", "gaussian_bidirectional_mean"]
    for name in names:  # back to back, in memory
        f, _, _ = fitted(name)
        pipeline = ForecastPipeline(f)
        proto = onnx_model_proto(pipeline)
        assert "LSTM" in {node.op_type for node in proto.graph.node}
        assert all(v.type.tensor_type.shape.dim[0].dim_param for v in [*proto.graph.input, *proto.graph.output])
        session = onnx_session(proto.SerializeToString())
        for batch in (1, 3, 64):
            windows = random_windows(f, pipeline, batch, seed=batch)
            got = session.run(None, windows.inputs(pipeline))
            inputs = windows.inputs(pipeline)
            want = eager_forecast(f, inputs["window"], inputs.get("future"), windows.offset, windows.scale)
            np.testing.assert_allclose(got[0], want[0], rtol=1e-5, atol=1e-5 * np.abs(want[0]).max())


def test_pt2_loads_in_a_process_without_lstmcast(fitted, tmp_path):
    f, _frame, _ = fitted("many_series_covariates_calendar")
    result = export_model(f, tmp_path / "model.pt2", "pt2")
    pipeline = ForecastPipeline(f)
    windows = random_windows(f, pipeline, 5, seed=3)
    inputs = windows.inputs(pipeline)
    np.savez(tmp_path / "inputs.npz", **inputs)
    script = textwrap.dedent(f"""
        import sys
        sys.modules["lstmcast"] = None  # any import of lstmcast now fails
        import numpy as np, torch
        inputs = np.load({str(tmp_path / 'inputs.npz')!r})
        program = torch.export.load({str(result.path)!r})
        out = program.module()(*[torch.from_numpy(inputs[n]) for n in {pipeline.input_names!r}])
        np.save({str(tmp_path / 'mean.npy')!r}, out[0].numpy())
        assert not [m for m in sys.modules if m.startswith("lstmcast") and sys.modules[m] is not None]
    """)
    subprocess.run([sys.executable, "-c", script], check=True, timeout=120)
    want = eager_forecast(f, inputs["window"], inputs["future"], windows.offset, windows.scale)[0]
    np.testing.assert_allclose(np.load(tmp_path / "mean.npy"), want, rtol=1e-5, atol=1e-6)


def test_int8_onnx_within_tolerance_and_cli_reports_the_trade_off(fitted, tmp_path, capsys):
    f, _frame, _ = fitted("point_stacked_last")
    f.save(tmp_path / "model")
    out = tmp_path / "model_int8.onnx"
    code = main(["export", "--model", str(tmp_path / "model"), "--format", "onnx", "--quantize", "int8",
                 "--out", str(out)])
    printed = capsys.readouterr().out
    assert code == 0
    assert "int8 vs float" in printed and "max rel error" in printed
    sidecar = json.loads((tmp_path / "model_int8.onnx.json").read_text())
    assert sidecar["quantize"] == "int8"
    assert 0 < sidecar["parity"]["max_rel_error"] <= INT8_TOLERANCE
    stats = sidecar["int8_vs_float"]
    assert stats["size_bytes"]["int8"] < stats["size_bytes"]["float"]
    assert set(stats["median_ms"]) == {"1", "256"}
    ops = {node.op_type for node in onnx.load(str(out)).graph.node}
    assert "DynamicQuantizeLSTM" in ops  # the LSTM weights themselves are int8


def test_cli_export_prints_parity_table_with_real_windows(fitted, tmp_path, capsys):
    f, frame, _ = fitted("recursive_future")
    f.save(tmp_path / "model")
    frame.to_csv(tmp_path / "data.csv", index=False)
    out = tmp_path / "deploy" / "model.pt"
    code = main(["export", "--model", str(tmp_path / "model"), "--format", "torchscript", "--data",
                 str(tmp_path / "data.csv"), "--out", str(out)])
    printed = capsys.readouterr().out
    assert code == 0 and out.is_file() and (out.parent / "model.pt.json").is_file()
    assert "max rel error" in printed and "real" in printed and "random" in printed
    assert "TorchScript is deprecated" in printed


def test_parity_failure_exits_2_and_writes_nothing(fitted, tmp_path, monkeypatch, capsys):
    import lstmcast.export.exporter as exporter

    f, _frame, _ = fitted("point_stacked_last")
    f.save(tmp_path / "model")
    real_loader = exporter.load_runner

    def off_by_a_little(*args, **kwargs):
        run = real_loader(*args, **kwargs)
        return lambda inputs: [o * (1 + 1e-3) for o in run(inputs)]

    monkeypatch.setattr(exporter, "load_runner", off_by_a_little)
    out = tmp_path / "model.pt"
    with pytest.raises(ExportParityError, match=r"does not match the eager model: max relative error .* exceeds"):
        export_model(f, out, "torchscript")
    assert not out.exists() and not (tmp_path / "model.pt.json").exists()
    assert list(tmp_path.iterdir()) == [tmp_path / "model"]  # no staging left behind

    code = main(["export", "--model", str(tmp_path / "model"), "--format", "torchscript", "--out", str(out)])
    captured = capsys.readouterr()
    assert code == 2
    assert "FAILED" in captured.out and "Nothing was written" in captured.err


def test_many_series_scaler_choices(fitted, tmp_path):
    f, frame, _ = fitted("many_series_covariates_calendar")
    assert ForecastPipeline(f).input_names == ["window", "future", "offset", "scale"]
    with pytest.raises(ConfigError, match=r"2 per-series scalers.*--series KEY"):
        ForecastPipeline(f, scaling="baked")
    with pytest.raises(DataError, match="Series 'zzz' is not one the model was trained on; known series: 'a', 'b'"):
        ForecastPipeline(f, series="zzz")
    with pytest.raises(ConfigError, match="needs scaling='baked'"):
        ForecastPipeline(f, series="a", scaling="inputs")
    result = export_model(f, tmp_path / "a.pt", "torchscript", series="a", frame=frame)
    sidecar = json.loads(result.sidecar.read_text())
    assert result.parity.passed
    assert sidecar["scaling"]["mode"] == "baked" and sidecar["scaling"]["series"] == "a"
    assert [i["name"] for i in sidecar["inputs"]] == ["window", "future"]
    assert list(sidecar["scaling"]["scalers"]) == ["a"]


def test_export_argument_errors(fitted, tmp_path):
    f, _, _ = fitted("point_stacked_last")
    with pytest.raises(ConfigError, match="Export format must be one of pt2, onnx, torchscript; got 'tflite'"):
        export_model(f, tmp_path / "m", "tflite")
    with pytest.raises(ConfigError, match="--quantize int8 is offered for --format onnx only"):
        export_model(f, tmp_path / "m.pt2", "pt2", quantize="int8")
    with pytest.raises(ConfigError, match="is a directory; give a file name"):
        export_model(f, tmp_path, "pt2")


def test_check_onnx_graph_demands_the_op_each_encoder_declares(fitted):
    from lstmcast.export.formats import ExportError, check_onnx_graph

    gru = ForecastPipeline(fitted("gru_stacked_bidirectional_quantile")[0])
    proto = onnx_model_proto(gru)
    assert encoder_ops(gru.network) == {"GRU"}
    check_onnx_graph(proto, gru)  # the GRU node is there
    for node in proto.graph.node:
        if node.op_type == "GRU":
            node.op_type = "Loop"  # as if the exporter had decomposed the recurrence
    with pytest.raises(ExportError, match=r"no native GRU node \(the encoder was decomposed into \['Loop'"):
        check_onnx_graph(proto, gru)


def test_every_shared_model_variant_reaches_an_export():
    """The export suite's combined variants (one fit each) cover every option of the shared list
    lstmcast.models.variants.VARIANTS, and what each needs of the data."""
    from lstmcast.models.variants import VARIANTS as MODEL_VARIANTS
    from tests.export.variants import export_config

    configs = [(export_config(data, model).to_dict(), frame_options) for data, model, frame_options in VARIANTS.values()]
    needs = {"targets": lambda c, _: len(c["data"]["targets"]) > 1, "past": lambda c, _: bool(c["data"]["features"]),
             "future": lambda c, _: bool(c["data"]["future_features"]), "time": lambda _, o: bool(o.get("dated")),
             "no-past": lambda c, _: not c["data"]["features"]}
    missing = []
    for name, variant in MODEL_VARIANTS.items():
        def covers(config, options, variant=variant):
            for dotted, value in variant.overrides.items():
                section, key = dotted.split(".")
                got = config[section][key]
                if (list(got) if isinstance(got, list | tuple) else got) != (
                        list(value) if isinstance(value, list | tuple) else value):
                    return False
            return all(needs[n](config, options) for n in variant.needs)

        if not any(covers(c, o) for c, o in configs):
            missing.append(name)
    assert not missing, f"shared model variants no export variant covers: {missing}"
