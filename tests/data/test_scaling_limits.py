"""Scaler edge cases: tiny but real spreads are scaled; a non-finite saved scaler is refused."""

from __future__ import annotations

import numpy as np
import pytest

from lstmcast.data.scaling import Scaler
from lstmcast.errors import DataError
from tests.conftest import tiny_config


@pytest.mark.parametrize("kind", ["minmax", "standard"])
@pytest.mark.parametrize("amplitude", [1e-14, 1e-100, 1.0, 1e12])
def test_a_small_amplitude_is_scaled_not_treated_as_constant(kind, amplitude):
    values = (amplitude * np.sin(np.arange(200) / 5)).reshape(-1, 1)
    scaled = Scaler(kind).fit(values).transform(values)
    assert 0.5 < np.abs(scaled).max() < 2.0


def test_constant_is_relative_to_the_magnitude():
    values = np.full((50, 2), 1e6)
    values[::2, 0] += 1e-9  # float rounding noise on a large level: constant
    values[::2, 1] += 1.0  # a real spread
    scaler = Scaler("minmax").fit(values)
    assert scaler.scale_.tolist() == [1.0, 0.5]
    assert Scaler("minmax").fit(np.zeros((4, 1))).scale_.tolist() == [1.0]


def test_forecaster_on_a_sine_of_1e_minus_14():
    from lstmcast.data.synthetic import noisy_sine
    from lstmcast.forecaster import Forecaster

    frame = noisy_sine(200, seed=0)
    frame["value"] *= 1e-14
    forecaster = Forecaster(tiny_config(train={"max_epochs": 2})).fit(frame)
    scores = forecaster.evaluate(frame)
    assert scores["metrics"]["rmse"] < 1e-13  # was ~1e-2: the series was left unscaled


@pytest.mark.parametrize("state,message", [
    ({"kind": "minmax", "offset": [float("nan")], "scale": [1.0]}, "NaN or infinity"),
    ({"kind": "minmax", "offset": [0.0], "scale": [float("inf")]}, "NaN or infinity"),
    ({"kind": "minmax", "offset": [[0.0, 1.0]], "scale": [[1.0, 1.0]]}, r"got shapes \(1, 2\)"),
    ({"kind": "minmax", "offset": [0.0, 1.0], "scale": [1.0]}, "same length"),
    ({"kind": "minmax", "offset": [], "scale": []}, "one number per channel"),
    ({"kind": "minmax", "offset": "abc", "scale": [1.0]}, "malformed"),
])
def test_from_dict_refuses_bad_states(state, message):
    with pytest.raises(DataError, match=message):
        Scaler.from_dict(state)
