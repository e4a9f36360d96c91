"""The LSTM from first principles: an explicit cell that matches ``torch.nn.LSTM``, recording of
gates and cell states, gradient-flow measurement and a long-dependency experiment.

See docs/lstm.md for the equations and which function computes each one.
"""

from lstmcast.lstm.bias import set_chrono_bias, set_forget_bias
from lstmcast.lstm.cell import (
    ExplicitLSTM,
    LSTMWeights,
    StepState,
    candidate,
    cell_update,
    forget_gate,
    hidden_update,
    input_gate,
    lstm_cell,
    output_gate,
)
from lstmcast.lstm.gradflow import (
    GradientFlowConfig,
    gradient_flow,
    gradient_horizon,
    gradient_horizons,
    gradient_norms,
)
from lstmcast.lstm.introspect import LSTMTrace, record
from lstmcast.lstm.longdep import LongDependencyConfig, accuracy_table, long_dependency_experiment
from lstmcast.lstm.plots import (
    plot_forget_and_cell_norm,
    plot_gate_heatmaps,
    plot_gradient_flow,
    plot_long_dependency,
)

__all__ = [
    "ExplicitLSTM",
    "GradientFlowConfig",
    "LSTMTrace",
    "LSTMWeights",
    "LongDependencyConfig",
    "StepState",
    "accuracy_table",
    "candidate",
    "cell_update",
    "forget_gate",
    "gradient_flow",
    "gradient_horizon",
    "gradient_horizons",
    "gradient_norms",
    "hidden_update",
    "input_gate",
    "long_dependency_experiment",
    "lstm_cell",
    "output_gate",
    "plot_forget_and_cell_norm",
    "plot_gate_heatmaps",
    "plot_gradient_flow",
    "plot_long_dependency",
    "record",
    "set_chrono_bias",
    "set_forget_bias",
]
