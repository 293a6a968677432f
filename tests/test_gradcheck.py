"""The gradient checker itself: the error formula, perturbation hygiene, and that it can fail."""
import numpy as np
import pytest
from hypothesis import given, strategies as st
from hypothesis.extra.numpy import arrays

from numrnn.nn.gradcheck import (check_gradients, directional_derivative, numerical_gradient,
                              relative_error)

finite = st.floats(-1e6, 1e6, allow_nan=False)


def test_relative_error_is_defined_at_zero():
    assert relative_error(np.zeros(3), np.zeros(3)) == 0.0
    assert relative_error(0.0, 0.0) == 0.0
    assert relative_error(np.zeros(2), np.array([0.0, 1e-30])) == 1.0


@given(a=arrays(np.float64, 5, elements=finite), b=arrays(np.float64, 5, elements=finite))
def test_relative_error_is_symmetric_bounded_and_zero_only_for_equal(a, b):
    e = relative_error(a, b)
    assert e == relative_error(b, a)
    assert 0.0 <= e <= 2.0
    assert (e == 0.0) == np.array_equal(a, b)


def test_relative_error_sees_a_difference_below_float64s_resolution_and_near_its_largest():
    # found by hypothesis: 5e-324 / 2 rounds to 0, which made two different arrays look equal
    assert relative_error(np.array([2.0, 0.0]), np.array([2.0, 5e-324])) > 0.0
    assert relative_error(np.array([1e308]), np.array([-1e308])) == 2.0     # no overflow to inf


def test_relative_error_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="shapes"):
        relative_error(np.zeros(2), np.zeros(3))


def test_numerical_gradient_of_a_known_function_and_array_restored():
    x = np.array([[0.3, -1.2], [2.0, 0.5]])
    saved = x.copy()
    grad = numerical_gradient(lambda: float(np.sum(np.sin(x) * x)), x)
    np.testing.assert_array_equal(x, saved)
    assert relative_error(grad, np.cos(x) * x + np.sin(x)) < 1e-9


def test_directional_derivative_and_restoration():
    x = np.array([1.0, 2.0, 3.0])
    v = np.array([0.0, 0.6, 0.8])
    d = directional_derivative(lambda: float(np.sum(x ** 3)), x, v)
    np.testing.assert_array_equal(x, [1.0, 2.0, 3.0])
    assert d == pytest.approx(np.dot(3 * x ** 2, v), rel=1e-9)


@pytest.mark.parametrize("directional", [False, True])
def test_check_gradients_reports_per_array_and_catches_a_wrong_one(directional):
    w, u = np.array([0.5, -1.0]), np.array([2.0])
    loss = lambda: float(np.sum(w ** 2) * u[0])
    right = {"w": 2 * w * u[0], "u": np.array([np.sum(w ** 2)])}
    report = check_gradients(loss, {"w": w, "u": u}, right, directional=directional)
    assert set(report) == {"w", "u"} and report.passed(1e-7)
    wrong = dict(right, w=w * u[0])                    # forgot the factor 2
    report = check_gradients(loss, {"w": w, "u": u}, wrong, directional=directional)
    assert report["w"] > 0.1 and report["u"] < 1e-7 and not report.passed()
    assert "w" in str(report)


def test_float32_arrays_are_refused():
    with pytest.raises(TypeError, match="float64"):
        numerical_gradient(lambda: 0.0, np.zeros(2, dtype=np.float32))


def test_noise_floor_excuses_only_differences_a_difference_quotient_cannot_resolve():
    w = np.array([1.0])
    loss = lambda: float(1e3 + 1e-9 * w[0])          # gradient 1e-9, far below the rounding of 1e3
    report = check_gradients(loss, {"w": w}, {"w": np.array([1e-9])}, loss_scale=1e3)
    assert report.noise > 1e-7 and report.passed()
    assert report["w"] > 1e-7                          # the relative error alone measures noise
    strict = check_gradients(loss, {"w": w}, {"w": np.array([1e-9])})
    assert strict.noise == 0.0
    wrong = check_gradients(loss, {"w": w}, {"w": np.array([1e-3])}, loss_scale=1e3)
    assert not wrong.passed()                          # an error above the floor still fails
