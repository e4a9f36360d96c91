import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lstmcast.data.scaling import Scaler
from lstmcast.data.splits import check_length, minimum_length, split_bounds
from lstmcast.data.windows import input_target_windows, sliding_windows
from lstmcast.errors import DataError, NotFittedError


@given(rows=st.integers(5, 60), channels=st.integers(1, 3), length=st.integers(1, 5), stride=st.integers(1, 3))
@settings(max_examples=40, deadline=None)
def test_sliding_windows_are_views_with_the_right_content(rows, channels, length, stride):
    values = np.arange(rows * channels, dtype=float).reshape(rows, channels)
    windows = sliding_windows(values, length, stride)
    assert np.shares_memory(windows, values)
    assert windows.shape == ((rows - length) // stride + 1, length, channels)
    for n in (0, len(windows) - 1):
        np.testing.assert_array_equal(windows[n], values[n * stride : n * stride + length])


def test_input_target_windows_split_inputs_and_targets():
    values = np.arange(40, dtype=float).reshape(20, 2)
    x, y = input_target_windows(values, range(5, 11), input_length=5, horizon=3, target_channels=1)
    np.testing.assert_array_equal(x[0], values[0:5])
    np.testing.assert_array_equal(y[5], values[10:13, :1])
    assert np.shares_memory(x, values) and np.shares_memory(y, values)
    picked_x, _ = input_target_windows(values, np.array([5, 10]), 5, 3, 1)
    np.testing.assert_array_equal(picked_x[1], x[5])


def test_window_length_errors_are_clear():
    with pytest.raises(DataError, match="between 1 and the 4 rows"):
        sliding_windows(np.zeros((4, 1)), 5)


def test_splits_are_chronological_and_targets_stay_in_their_part():
    b = split_bounds(1000, 0.1, 0.2)
    assert (b.train_end, b.val_end) == (700, 800)
    train = b.target_starts("train", 20, 3)
    val = b.target_starts("val", 20, 3)
    test = b.target_starts("test", 20, 3)
    assert train[0] == 20 and train[-1] + 3 <= 700
    assert val[0] == 700 and val[-1] + 3 <= 800
    assert test[0] == 800 and test[-1] + 3 == 1000


def test_minimum_length_is_tight():
    need = minimum_length(20, 5, 0.1, 0.2)
    check_length(need, 20, 5, 0.1, 0.2)
    with pytest.raises(DataError, match=f"need at least {need}"):
        check_length(need - 1, 20, 5, 0.1, 0.2)


@given(st.lists(st.floats(-1e3, 1e3), min_size=2, max_size=50), st.sampled_from(["minmax", "standard", "none"]))
@settings(max_examples=50, deadline=None)
def test_scaler_round_trip(values, kind):
    arr = np.asarray(values).reshape(-1, 1)
    scaler = Scaler(kind).fit(arr)
    np.testing.assert_allclose(scaler.inverse_transform(scaler.transform(arr)), arr, atol=1e-6)
    restored = Scaler.from_dict(scaler.to_dict())
    np.testing.assert_allclose(restored.transform(arr), scaler.transform(arr))


def test_minmax_maps_training_range_to_minus_one_one_and_ignores_later_data():
    train = np.array([[0.0], [10.0], [5.0]])
    scaler = Scaler("minmax").fit(train)
    np.testing.assert_allclose(scaler.transform(train).ravel(), [-1.0, 1.0, 0.0])
    # a value outside the training range is not clipped: nothing leaks from the future
    assert scaler.transform(np.array([[20.0]]))[0, 0] == pytest.approx(3.0)


def test_standard_scaler_uses_population_std():
    x = np.array([[1.0], [2.0], [3.0], [4.0]])
    scaler = Scaler("standard").fit(x)
    assert scaler.scale_[0] == pytest.approx(np.std(x))


def test_constant_channel_does_not_divide_by_zero():
    scaler = Scaler("minmax").fit(np.ones((5, 1)))
    assert np.isfinite(scaler.transform(np.ones((2, 1)))).all()


def test_scaler_errors():
    with pytest.raises(NotFittedError, match="not fitted"):
        Scaler().transform(np.zeros((2, 1)))
    scaler = Scaler().fit(np.zeros((3, 2)))
    with pytest.raises(DataError, match="3 channels, but the scaler was fitted on 2"):
        scaler.transform(np.zeros((2, 3)))
    with pytest.raises(DataError, match="malformed"):
        Scaler.from_dict({"kind": "minmax", "offset": [0.0], "scale": [-1.0]})
