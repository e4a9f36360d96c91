"""Writers and loaders for the three export formats, and ONNX Runtime's int8 quantization.

Every writer takes a :class:`ForecastPipeline` and a path and writes one file; every loader
returns a *runner*: ``runner(inputs: dict[name, float32 array]) -> list[array]`` in the
pipeline's output order, so the parity check treats all formats alike.

- ``pt2``: ``torch.export`` with a dynamic batch and the window length fixed at input_length,
  saved with ``torch.export.save``. Loading needs torch only (``torch.export.load(path).module()``).
- ``onnx``: the dynamo-based exporter, fed the same ``ExportedProgram``. Converting the program
  (rather than handing the module and ``dynamic_shapes`` to ``torch.onnx.export``) keeps every
  recurrent encoder a native ONNX node (``LSTM``, ``GRU``: the ops each encoder of
  :mod:`lstmcast.models.encoders` declares): given ``dynamic_shapes``, the exporter may swap in a
  while-loop decomposition.
- ``torchscript``: ``torch.jit.trace``. TorchScript is deprecated in torch 2.13 (``torch.jit.trace``
  warns); it is kept for runtimes that still load ``.pt`` TorchScript files. Prefer pt2 or onnx.
"""

from __future__ import annotations

import contextlib
import logging
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

from lstmcast.errors import LstmcastError, require
from lstmcast.export.pipeline import ForecastPipeline
from lstmcast.models.encoders import encoder_ops

FORMATS = ("pt2", "onnx", "torchscript")
SUFFIXES = {"pt2": ".pt2", "onnx": ".onnx", "torchscript": ".pt"}
Runner = Callable[[dict[str, np.ndarray]], list[np.ndarray]]


class ExportError(LstmcastError, RuntimeError):
    """A model could not be exported, or its export does not reproduce the eager model."""


_NOISY_LOGGERS = (
    "torch.onnx._internal.exporter._registration",  # "torchvision is not installed. Skipping ..."
    "onnxscript.optimizer._constant_folding",  # "Skipping constant folding for op Split ..."
)


@contextlib.contextmanager
def _quiet_known_torch_warnings() -> Iterator[None]:
    """Silence messages that every LSTM export raises and no user can act on: nn.LSTM's
    ``_flat_weights`` list being re-assigned while tracing, a pytree deprecation inside torch
    itself, the ONNX exporter's log lines about torchvision ops it will not need, and the ONNX
    optimizer's note that it leaves attention's weight Split unfolded. Every other warning stays
    visible."""
    loggers = [logging.getLogger(name) for name in _NOISY_LOGGERS]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=r"The tensor attributes .*_flat_weights", category=UserWarning)
            warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\)", category=FutureWarning)
            yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


def _batch_dims(pipeline: ForecastPipeline) -> tuple[tuple[dict[int, Any], ...]]:
    batch = torch.export.Dim("batch", min=1)
    # forward(*inputs): one spec per positional input, all sharing the batch dimension
    return (tuple({0: batch} for _ in pipeline.input_names),)


def to_exported_program(pipeline: ForecastPipeline) -> torch.export.ExportedProgram:
    """``torch.export`` of the pipeline: batch dynamic (>= 1), every other dimension fixed."""
    args = pipeline.example_inputs()
    try:
        with _quiet_known_torch_warnings(), torch.no_grad():
            return torch.export.export(pipeline, args, dynamic_shapes=_batch_dims(pipeline))
    except Exception as exc:  # torch raises many types here; name the step and keep the cause
        raise ExportError(f"torch.export could not capture the forecast pipeline: {exc}") from exc


def write_pt2(pipeline: ForecastPipeline, path: Path,
              program: torch.export.ExportedProgram | None = None) -> torch.export.ExportedProgram:
    program = program or to_exported_program(pipeline)
    with _quiet_known_torch_warnings():
        torch.export.save(program, str(path))
    return program


def write_onnx(pipeline: ForecastPipeline, path: Path,
               program: torch.export.ExportedProgram | None = None) -> Any:
    """Write ``path`` and return the ``onnx.ModelProto`` (optimized by the exporter)."""
    require("onnxscript", "onnx")
    require("onnx", "onnx")
    proto = onnx_model_proto(pipeline, program)
    import onnx

    onnx.save_model(proto, str(path))
    return proto


def onnx_model_proto(pipeline: ForecastPipeline, program: torch.export.ExportedProgram | None = None) -> Any:
    """The pipeline as an ``onnx.ModelProto``, with checks that the encoder stayed native and the
    batch dimension stayed symbolic on every input and output."""
    require("onnxscript", "onnx")
    program = program or to_exported_program(pipeline)
    try:
        with _quiet_known_torch_warnings():
            onnx_program = torch.onnx.export(program, pipeline.example_inputs(), dynamo=True, optimize=True,
                                             verbose=False)
    except Exception as exc:
        raise ExportError(f"The ONNX exporter could not translate the forecast pipeline: {exc}") from exc
    if onnx_program is None:
        raise ExportError("The ONNX exporter returned no program for the forecast pipeline.")
    model = onnx_program.model  # onnx_ir.Model
    name_values(model.graph, pipeline.input_names, pipeline.output_names)
    with _quiet_known_torch_warnings():
        model = fold_weights(model)
    proto = require("onnx_ir", "onnx").serde.serialize_model(model)
    check_onnx_graph(proto, pipeline)
    return proto


def name_values(graph: Any, input_names: list[str], output_names: list[str]) -> None:
    """Give the graph's inputs and outputs their public names, first renaming any intermediate
    value that already has one of them (the exporter names values after the FX nodes, so
    instance normalisation's ``aten.mean`` yields a value called ``mean``, and passing
    ``output_names`` to the exporter then makes two values of that name: an invalid model)."""
    public = set(input_names) | set(output_names)
    ends = {id(v) for v in [*graph.inputs, *graph.outputs]}
    for node in graph:
        for value in node.outputs:
            if value.name in public and id(value) not in ends:
                value.name = f"{value.name}_inner"
    for value, name in zip(graph.inputs, input_names, strict=True):
        value.name = name
    for value, name in zip(graph.outputs, output_names, strict=True):
        value.name = name


def fold_weights(model: Any) -> Any:
    """Constant-fold the whole graph with no size limit.

    The exporter reorders each LSTM's recurrent weights from torch's gate order (i, f, g, o) to
    ONNX's (i, o, f, c) with Slice/Concat nodes, and its optimizer folds only tensors of up to
    8192 elements: from hidden_size 46 up, the reordering would run on every call, and ONNX
    Runtime's int8 quantizer could not see the weights (it quantizes initializers only).
    """
    optimizer = require("onnxscript.optimizer", "onnx")
    return optimizer.optimize(model, input_size_limit=1 << 40, output_size_limit=1 << 40)


def check_onnx_graph(proto: Any, pipeline: ForecastPipeline | None = None) -> None:
    """Raise ExportError unless every graph input and output has a symbolic batch dimension and
    the graph holds the native node of every op the network's encoders declare (``LSTM``
    without a pipeline)."""
    ops = {node.op_type for node in proto.graph.node}
    wanted = encoder_ops(pipeline.network) if pipeline is not None else {"LSTM"}
    missing = sorted(wanted - ops)
    if missing:
        raise ExportError(
            f"The ONNX graph has no native {' / '.join(missing)} node (the encoder was decomposed into "
            f"{sorted(ops & {'Loop', 'Scan', 'MatMul'})}); ONNX Runtime would run it far slower. "
            "This is an exporter regression: report it with your torch and onnxscript versions."
        )
    for value in [*proto.graph.input, *proto.graph.output]:
        dims = value.type.tensor_type.shape.dim
        if not dims or not dims[0].dim_param:
            fixed = dims[0].dim_value if dims else "missing"
            raise ExportError(
                f"The ONNX graph's {value.name!r} has its batch dimension fixed to {fixed}; it must stay "
                "dynamic. This is the torch exporter specializing a shape (seen when several models are "
                "exported in one process); export this model in a fresh process."
            )
    if pipeline is not None:
        names = [v.name for v in proto.graph.input]
        if names != pipeline.input_names:
            raise ExportError(f"The ONNX graph's inputs are {names}; expected {pipeline.input_names}.")


def write_torchscript(pipeline: ForecastPipeline, path: Path) -> list[str]:
    """``torch.jit.trace`` (the only LSTM-friendly TorchScript path); returns notes on deprecation."""
    notes = []
    with warnings.catch_warnings(record=True) as caught, _quiet_known_torch_warnings():
        warnings.simplefilter("always", DeprecationWarning)
        # MultiheadAttention's shape checks become constants in the trace; the window length and
        # widths are fixed by design and the parity check runs batch 1, 3 and 64 through the file
        warnings.filterwarnings("ignore", category=torch.jit.TracerWarning, module=r"torch\.nn\.(functional|modules\.rnn)")
        try:
            traced = torch.jit.trace(pipeline, pipeline.example_inputs(), check_trace=False)
        except Exception as exc:
            raise ExportError(f"torch.jit.trace could not trace the forecast pipeline: {exc}") from exc
        torch.jit.save(traced, str(path))
    for warning in caught:
        if issubclass(warning.category, DeprecationWarning) and "jit" in str(warning.message):
            notes.append("TorchScript is deprecated in torch 2.13 (torch.jit.trace warns); prefer --format pt2 "
                         "or --format onnx for new deployments.")
            break
    for warning in caught:  # anything else torch said stays visible
        if not issubclass(warning.category, DeprecationWarning):
            warnings.warn_explicit(warning.message, warning.category, warning.filename, warning.lineno)
    return notes


def quantize_onnx(source: Path, target: Path) -> None:
    """ONNX Runtime's dynamic int8 quantization: int8 weights for LSTM (``DynamicQuantizeLSTM``)
    and MatMul/Gemm, activations quantized on the fly; inputs and outputs stay float32.
    Weights use 7 bits (``reduce_range``): ONNX Runtime's u8 x s8 kernels on x86 CPUs without
    VNNI saturate 8-bit products (on an AVX2-only CPU the demo-sized stacked LSTM's max relative
    error was 0.1 with 8 bits, 0.002 with 7), and the file must be right on any CPU. The graph
    is first pre-processed (shape inference, ORT's graph optimizations), as ONNX Runtime
    recommends; the result runs on ONNX Runtime only (com.microsoft ops)."""
    quantization = require("onnxruntime.quantization", "onnx")
    from onnxruntime.quantization.shape_inference import quant_pre_process

    prepared = target.with_name(target.name + ".pre.onnx")
    try:
        quant_pre_process(str(source), str(prepared))
        quantization.quantize_dynamic(str(prepared), str(target), weight_type=quantization.QuantType.QInt8,
                                      reduce_range=True)
    finally:
        prepared.unlink(missing_ok=True)


# ---------------------------------------------------------------------------- loaders
def onnx_session(model: str | Path | bytes, threads: int = 1) -> Any:
    """An ONNX Runtime CPU session with ``threads`` intra-op threads (1 is fastest for small
    models and under concurrent load)."""
    ort = require("onnxruntime", "onnx")
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    source = model if isinstance(model, bytes) else str(model)
    return ort.InferenceSession(source, sess_options=options, providers=["CPUExecutionProvider"])


def load_runner(path: str | Path, fmt: str, input_names: list[str], threads: int = 1) -> Runner:
    """A runner over an exported file: named float32 inputs -> outputs as numpy arrays."""
    path = Path(path)
    if fmt == "onnx":
        session = onnx_session(path, threads)

        def run_onnx(inputs: dict[str, np.ndarray]) -> list[np.ndarray]:
            return session.run(None, {name: inputs[name] for name in input_names})

        return run_onnx
    if fmt == "pt2":
        module = torch.export.load(str(path)).module()
    elif fmt == "torchscript":
        with warnings.catch_warnings():  # its deprecation is reported once, by write_torchscript
            warnings.filterwarnings("ignore", message=r".*torch\.jit\.load. is deprecated", category=DeprecationWarning)
            module = torch.jit.load(str(path), map_location="cpu")
    else:
        raise ExportError(f"Unknown export format {fmt!r}; expected one of {', '.join(FORMATS)}.")

    def run_torch(inputs: dict[str, np.ndarray]) -> list[np.ndarray]:
        with torch.no_grad():
            out = module(*[torch.from_numpy(np.ascontiguousarray(inputs[n])) for n in input_names])
        return [t.numpy() for t in (out if isinstance(out, (tuple, list)) else (out,))]

    return run_torch
