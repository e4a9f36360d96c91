"""Metrics: hand-computed values, error messages and hypothesis properties."""

from __future__ import annotations

import math
import statistics

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from lstmcast.evaluation import metrics as M

# --------------------------------------------------------------------------- hand-computed values


def test_mae_mse_rmse_hand_values():
    y, f = [1.0, 2.0, 3.0], [2.0, 2.0, 5.0]  # errors -1, 0, -2
    assert M.mae(y, f) == pytest.approx(1.0)
    assert M.mse(y, f) == pytest.approx(5.0 / 3.0)
    assert M.rmse(y, f) == pytest.approx(math.sqrt(5.0 / 3.0))


def test_metrics_average_over_every_axis():
    y = np.zeros((2, 3, 4))
    f = np.ones((2, 3, 4))
    f[0, 0, 0] = 5.0  # one error of 5, 23 errors of 1
    assert M.mae(y, f) == pytest.approx((5 + 23) / 24)
    assert M.mse(y, f) == pytest.approx((25 + 23) / 24)


def test_metrics_return_python_float():
    assert type(M.mae(np.array([1.0]), np.array([2.0]))) is float


def test_mape_hand_value_and_percent():
    assert M.mape([2.0, 4.0], [1.0, 5.0]) == pytest.approx(37.5)  # 100 * mean(1/2, 1/4)
    assert M.mape([-2.0], [-1.0]) == pytest.approx(50.0)  # |y| in the denominator


def test_mape_names_zero_actuals():
    with pytest.raises(
        ValueError, match=r"y_true == 0.*2 zero value\(s\) \(first at index \(0, 1\)\).*smape"
    ):
        M.mape([[1.0, 0.0], [0.0, 2.0]], [[1.0, 1.0], [1.0, 1.0]])


def test_smape_m4_definition():
    assert M.smape([1.0, 3.0], [3.0, 1.0]) == pytest.approx(100.0)  # 200*2/4 each
    assert M.smape([2.0], [0.0]) == pytest.approx(200.0)
    assert M.smape([10.0], [12.0]) == pytest.approx(200.0 * 2 / 22)
    assert M.smape([0.0, 4.0], [0.0, 4.0]) == 0.0  # 0/0 term defined as 0


def test_mase_hand_values():
    insample = [1.0, 2.0, 4.0, 7.0]
    # season 1: scale = mean(1, 2, 3) = 2; mae = 1
    assert M.mase([5.0, 7.0], [6.0, 6.0], insample) == pytest.approx(0.5)
    # season 2: scale = mean(|4-1|, |7-2|) = 4
    assert M.mase([5.0, 7.0], [6.0, 6.0], insample, season=2) == pytest.approx(0.25)


def test_mase_errors():
    with pytest.raises(ValueError, match="longer than season=4, got length 4"):
        M.mase([1.0], [1.0], [1.0, 2.0, 3.0, 4.0], season=4)
    with pytest.raises(ValueError, match="constant at lag season=1"):
        M.mase([1.0], [2.0], [3.0, 3.0, 3.0])
    with pytest.raises(ValueError, match=r"insample must be 1-D \[T\]"):
        M.mase([1.0], [2.0], [[1.0, 2.0], [3.0, 4.0]])
    with pytest.raises(ValueError, match="season must be a positive int"):
        M.mase([1.0], [2.0], [1.0, 2.0, 3.0], season=0)


def test_owa_hand_value():
    assert M.owa(10.0, 1.5, 20.0, 1.0) == pytest.approx(1.0)  # (0.5 + 1.5) / 2
    assert M.owa(18.383, 2.395, 18.383, 2.395) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="smape_naive2 must be positive"):
        M.owa(1.0, 1.0, 0.0, 1.0)


def test_pinball_hand_value():
    # level 0.1, e = 1 - 0 = 1 -> 0.1 ; level 0.9, e = 1 - 2 = -1 -> 0.1
    assert M.pinball_loss([1.0], [[0.0, 2.0]], [0.1, 0.9]) == pytest.approx(0.1)
    # under-forecast at the 0.9 level costs 0.9 per unit
    assert M.pinball_loss([3.0], [[2.0]], [0.9]) == pytest.approx(0.9)


def test_pinball_shape_errors():
    with pytest.raises(ValueError, match=r"y_true.shape \+ \(Q,\) = \(2, 2\).*got \(2,\)"):
        M.pinball_loss([1.0, 2.0], [1.0, 2.0], [0.1, 0.9])
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        M.pinball_loss([1.0], [[1.0]], [50])


def test_interval_coverage_hand_value():
    y = [1.0, 2.0, 3.0, 4.0]
    lower = [0.0, 2.0, 3.5, 0.0]
    upper = [1.0, 3.0, 4.0, 3.0]
    assert M.interval_coverage(y, lower, upper) == pytest.approx(0.5)  # bounds are inclusive


def test_interval_coverage_crossed_bounds():
    with pytest.raises(
        ValueError, match=r"lower > upper at 1 position\(s\) \(first at index \(1,\)\)"
    ):
        M.interval_coverage([1.0, 2.0], [0.0, 3.0], [2.0, 2.5])


def test_crps_gaussian_at_the_mean():
    # CRPS(N(0, s^2), 0) = s * (2 phi(0) - 1/sqrt(pi)) = s * (sqrt(2/pi) - 1/sqrt(pi))
    expected = math.sqrt(2 / math.pi) - 1 / math.sqrt(math.pi)
    assert M.crps_gaussian([0.0], [0.0], [1.0]) == pytest.approx(expected)
    assert M.crps_gaussian([5.0], [5.0], [3.0]) == pytest.approx(3 * expected)


def test_crps_gaussian_matches_numerical_integral():
    y, mu, sd = 1.3, 0.2, 0.7
    dist = statistics.NormalDist(mu, sd)
    # CRPS = int (F(x) - 1{x >= y})^2 dx, integrated on both sides of the jump at y
    numeric = 0.0
    for lo, hi, step in ((mu - 12 * sd, y, 0.0), (y, mu + 12 * sd, 1.0)):
        xs = np.linspace(lo, hi, 4001)
        integrand = (np.array([dist.cdf(v) for v in xs]) - step) ** 2
        numeric += float(np.sum((integrand[1:] + integrand[:-1]) / 2 * np.diff(xs)))
    assert M.crps_gaussian([y], [mu], [sd]) == pytest.approx(numeric, abs=1e-5)


def test_crps_gaussian_rejects_nonpositive_std():
    with pytest.raises(ValueError, match="std must be positive"):
        M.crps_gaussian([0.0, 1.0], [0.0, 1.0], [1.0, 0.0])


def test_crps_quantiles_is_twice_pinball_and_approximates_gaussian():
    y, mu, sd = np.array([0.4, -1.0, 2.0]), np.zeros(3), np.ones(3)
    levels = np.linspace(0.005, 0.995, 199)
    dist = statistics.NormalDist()
    q_pred = np.array([[dist.inv_cdf(q) for q in levels]] * 3)  # [3, Q]
    approx = M.crps_quantiles(y, q_pred, levels)
    assert approx == pytest.approx(2 * M.pinball_loss(y, q_pred, levels))
    assert approx == pytest.approx(M.crps_gaussian(y, mu, sd), rel=0.01)


def test_point_metrics_keys():
    out = M.point_metrics([1.0, 2.0, 3.0], [2.0, 2.0, 5.0])
    assert set(out) == {"mae", "mse", "rmse", "smape"}
    out = M.point_metrics([5.0, 7.0], [6.0, 6.0], insample=[1.0, 2.0, 4.0, 7.0], season=2)
    assert out["mase"] == pytest.approx(0.25)
    assert out["mae"] == pytest.approx(1.0)


def test_one_registry_behind_every_bundle():
    from lstmcast.evaluation.folds import FOLD_METRICS, scores_of
    from lstmcast.scoring.windows import WINDOW_METRICS

    y, f = np.array([[[1.0], [2.0], [3.0]]]), np.array([[[2.0], [2.0], [5.0]]])  # [S=1, H=3, T=1]
    assert list(M.point_metrics(y, f)) == ["mae", "mse", "rmse", "smape"]  # order kept
    assert set(WINDOW_METRICS) | set(FOLD_METRICS) <= set(M.POINT_METRICS)
    for name, metric in M.POINT_METRICS.items():
        assert M.score_point(y, f, [name]) == {name: metric(y, f)}
    assert scores_of(y, f, [0.5]) == {"mae": M.mae(y, f), "rmse": M.rmse(y, f), "smape": M.smape(y, f), "mase": 0.5}
    with pytest.raises(ValueError, match=r"Unknown point metric\(s\) \['wape'\]; expected names from"):
        M.score_point(y, f, ["mae", "wape"])


# --------------------------------------------------------------------------- input checks


@pytest.mark.parametrize("func", [M.mae, M.mse, M.rmse, M.mape, M.smape])
def test_shape_mismatch_is_reported(func):
    with pytest.raises(
        ValueError, match=r"same shape, got y_true \(3,\), y_pred \(3, 1\).*do not broadcast"
    ):
        func([1.0, 2.0, 3.0], [[1.0], [2.0], [3.0]])


@pytest.mark.parametrize("func", [M.mae, M.mse, M.rmse, M.mape, M.smape])
def test_empty_input_is_reported(func):
    with pytest.raises(ValueError, match="y_true is empty"):
        func([], [])


def test_non_numeric_input_is_reported():
    with pytest.raises(TypeError, match="y_pred must be numeric"):
        M.mae([1.0], ["a"])


def test_nan_propagates():
    assert math.isnan(M.mae([1.0, np.nan], [1.0, 2.0]))
    assert math.isnan(M.interval_coverage([np.nan], [0.0], [1.0]))


def test_metrics_module_does_not_import_torch():
    import ast
    import inspect

    tree = ast.parse(inspect.getsource(M))
    imported = {
        alias.name.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in (
            node.names if isinstance(node, ast.Import) else [ast.alias(node.module or "")]
        )
    }
    assert "torch" not in imported


# --------------------------------------------------------------------------- properties

finite = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False)
pairs = st.integers(1, 30).flatmap(
    lambda n: st.tuples(
        arrays(np.float64, n, elements=finite), arrays(np.float64, n, elements=finite)
    )
)


@settings(max_examples=60, deadline=None)
@given(pairs)
def test_rmse_at_least_mae_and_nonnegative(pair):
    y, f = pair
    assert M.rmse(y, f) >= M.mae(y, f) * (1 - 1e-12) - 1e-9
    assert M.mae(y, f) >= 0
    assert M.mse(y, f) == pytest.approx(M.rmse(y, f) ** 2, rel=1e-9, abs=1e-9)


@settings(max_examples=60, deadline=None)
@given(pairs)
def test_symmetry_and_bounds(pair):
    y, f = pair
    assert M.mae(y, f) == pytest.approx(M.mae(f, y))
    assert M.smape(y, f) == pytest.approx(M.smape(f, y))
    assert 0.0 <= M.smape(y, f) <= 200.0 + 1e-9
    assert M.mae(y, y) == 0.0
    assert M.smape(y, y) == 0.0


@settings(max_examples=60, deadline=None)
@given(pairs)
def test_median_pinball_is_half_mae(pair):
    y, f = pair
    assert M.pinball_loss(y, f[:, None], [0.5]) == pytest.approx(
        M.mae(y, f) / 2, rel=1e-9, abs=1e-9
    )


@settings(max_examples=40, deadline=None)
@given(pairs, st.floats(0.01, 100.0))
def test_crps_gaussian_bounded_by_mae(pair, sd):
    # CRPS <= E|X - y| <= |mu - y| + E|X - mu|, and CRPS >= |mu - y| - E|X-mu| ... keep the
    # simple, always-true ones: 0 <= CRPS <= MAE(mu) + sd * sqrt(2/pi)
    y, mu = pair
    crps = M.crps_gaussian(y, mu, np.full_like(y, sd))
    assert crps >= 0
    assert crps <= M.mae(y, mu) + sd * math.sqrt(2 / math.pi) + 1e-6
