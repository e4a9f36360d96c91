"""Export the whole forecast path (scaling, network, head, inverse scaling) to pt2, ONNX or
TorchScript, each followed by a parity check against the eager model.

    export_model(forecaster_or_dir, "model.onnx", "onnx") -> ExportResult
    ForecastPipeline(forecaster)   the nn.Module that is exported (raw window in, forecast out)

torch is needed; ONNX export and int8 need the ``onnx`` extra (``pip install 'lstmcast[onnx]'``).
"""

from lstmcast.export.exporter import ExportParityError, ExportResult, export_model, sidecar_path
from lstmcast.export.formats import FORMATS, ExportError, load_runner
from lstmcast.export.parity import (
    FLOAT_TOLERANCE,
    INT8_TOLERANCE,
    ParityReport,
    check_parity,
    eager_forecast,
)
from lstmcast.export.pipeline import ForecastPipeline

__all__ = [
    "FLOAT_TOLERANCE", "FORMATS", "INT8_TOLERANCE", "ExportError", "ExportParityError", "ExportResult",
    "ForecastPipeline", "ParityReport", "check_parity", "eager_forecast", "export_model", "load_runner",
    "sidecar_path",
]
