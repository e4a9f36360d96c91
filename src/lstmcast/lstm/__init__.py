"""The LSTM from first principles: an explicit cell that matches ``torch.nn.LSTM``, a one-step
walk-through with a hand-written backward pass, recording of gates and cell states, gradient-flow
measurement and a long-dependency experiment.

See docs/lstm.md for the equations and which function computes each one.
"""

from lstmcast.lstm.bias import set_chrono_bias, set_forget_bias
from lstmcast.lstm.cell import ExplicitLSTM
from lstmcast.lstm.equations import (
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
    efolding_length,
    gradient_flow,
    gradient_horizon,
    gradient_horizons,
    gradient_norms,
    recurrent_matrix_norms,
    seed_summary,
)
from lstmcast.lstm.introspect import LSTMTrace, describe_gates, record
from lstmcast.lstm.longdep import LongDependencyConfig, accuracy_table, long_dependency_experiment
from lstmcast.lstm.plots import (
    MODEL_COLORS,
    model_color,
    plot_forget_and_cell_norm,
    plot_gate_heatmaps,
    plot_gradient_flow,
    plot_long_dependency,
)
from lstmcast.lstm.walkthrough import check_backward, explain_step, manual_backward

__all__ = [
    "MODEL_COLORS",
    "ExplicitLSTM",
    "GradientFlowConfig",
    "LSTMTrace",
    "LSTMWeights",
    "LongDependencyConfig",
    "StepState",
    "accuracy_table",
    "candidate",
    "cell_update",
    "check_backward",
    "describe_gates",
    "efolding_length",
    "explain_step",
    "forget_gate",
    "gradient_flow",
    "gradient_horizon",
    "gradient_horizons",
    "gradient_norms",
    "hidden_update",
    "input_gate",
    "long_dependency_experiment",
    "lstm_cell",
    "manual_backward",
    "model_color",
    "output_gate",
    "plot_forget_and_cell_norm",
    "plot_gate_heatmaps",
    "plot_gradient_flow",
    "plot_long_dependency",
    "record",
    "recurrent_matrix_norms",
    "seed_summary",
    "set_chrono_bias",
    "set_forget_bias",
]
