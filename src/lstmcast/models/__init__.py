"""Plain nn.Modules: the forecasting network, its recurrent encoders and its output heads."""

from lstmcast.models.encoders import ENCODERS, GRUEncoder, LSTMEncoder
from lstmcast.models.heads import HEADS, GaussianHead, PointHead, QuantileHead, make_head
from lstmcast.models.network import LSTMForecastNet

__all__ = ["ENCODERS", "HEADS", "GRUEncoder", "GaussianHead", "LSTMEncoder", "LSTMForecastNet", "PointHead", "QuantileHead",
           "make_head"]
