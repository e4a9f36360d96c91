"""Plain nn.Modules: the LSTM forecasting network and its output heads."""

from lstmcast.models.heads import GaussianHead, PointHead, QuantileHead, make_head
from lstmcast.models.network import LSTMForecastNet

__all__ = ["GaussianHead", "LSTMForecastNet", "PointHead", "QuantileHead", "make_head"]
