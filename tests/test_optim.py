"""Optimisers against their equations, weight decay, clipping, and state save/restore."""
import numpy as np
import pytest

from numrnn.training.optim import (SGD, Adam, Momentum, RMSProp, clip_by_global_norm, global_norm,
                          make_optimizer)


def _params():
    return {"layer.W1": np.array([[1.0, -2.0], [0.5, 3.0]]), "layer.b": np.array([0.1, -0.2])}


def _grads(k):
    return {"layer.W1": np.array([[0.3, -0.1], [2.0, 0.0]]) * (k + 1),
            "layer.b": np.array([-1.0, 0.5]) / (k + 1)}


def test_sgd_is_theta_minus_lr_g():
    p, opt = _params(), SGD(lr=0.1)
    opt.step(p, _grads(0))
    for name in p:
        np.testing.assert_allclose(p[name], _params()[name] - 0.1 * _grads(0)[name])


def test_momentum_follows_its_equation_over_two_steps():
    p, opt = _params(), Momentum(lr=0.1, momentum=0.9)
    for k in range(2):
        opt.step(p, _grads(k))
    v1 = _grads(0)["layer.W1"]
    v2 = 0.9 * v1 + _grads(1)["layer.W1"]
    np.testing.assert_allclose(p["layer.W1"], _params()["layer.W1"] - 0.1 * v1 - 0.1 * v2)


def test_rmsprop_follows_its_equation_over_two_steps():
    p, opt = _params(), RMSProp(lr=0.01, rho=0.9, eps=1e-8)
    expected = _params()["layer.b"]
    s = np.zeros(2)
    for k in range(2):
        g = _grads(k)["layer.b"]
        s = 0.9 * s + 0.1 * g * g
        expected = expected - 0.01 * g / (np.sqrt(s) + 1e-8)
        opt.step(p, _grads(k))
    np.testing.assert_allclose(p["layer.b"], expected, rtol=1e-14)


def test_adam_follows_its_equation_over_three_steps():
    p, opt = _params(), Adam(lr=0.01, beta1=0.8, beta2=0.95, eps=1e-6)
    expected, m, v = _params()["layer.W1"], 0.0, 0.0
    for k in range(3):
        g = _grads(k)["layer.W1"]
        m = 0.8 * m + 0.2 * g
        v = 0.95 * v + 0.05 * g * g
        m_hat, v_hat = m / (1 - 0.8 ** (k + 1)), v / (1 - 0.95 ** (k + 1))
        expected = expected - 0.01 * m_hat / (np.sqrt(v_hat) + 1e-6)
        opt.step(p, _grads(k))
    np.testing.assert_allclose(p["layer.W1"], expected, rtol=1e-14)
    assert opt.t == 3


def test_adam_first_step_moves_each_entry_by_about_lr():
    p, opt = _params(), Adam(lr=0.01)
    opt.step(p, _grads(0))
    moved = np.abs(p["layer.b"] - _params()["layer.b"])
    np.testing.assert_allclose(moved, 0.01, rtol=1e-6)


@pytest.mark.parametrize("name,hyper", [("sgd", dict(lr=0.1)), ("momentum", dict(lr=0.05)),
                                        ("rmsprop", dict(lr=0.01)), ("adam", dict(lr=0.05))])
def test_every_optimiser_minimises_a_quadratic(name, hyper):
    target = np.array([1.0, -2.0, 0.5])
    p, opt = {"w": np.zeros(3)}, make_optimizer(name, **hyper)
    for _ in range(500):
        opt.step(p, {"w": 2 * (p["w"] - target)})
    np.testing.assert_allclose(p["w"], target, atol=0.02)


def test_weight_decay_adds_lambda_theta_to_weights_but_not_biases():
    p, opt = _params(), SGD(lr=0.1, weight_decay=0.5)
    zero = {k: np.zeros_like(v) for k, v in p.items()}
    opt.step(p, zero)
    np.testing.assert_allclose(p["layer.W1"], _params()["layer.W1"] * (1 - 0.1 * 0.5))
    np.testing.assert_array_equal(p["layer.b"], _params()["layer.b"])


def test_clip_by_global_norm_scales_all_arrays_together():
    g = {"a": np.array([3.0, 0.0]), "b": np.array([[0.0, 4.0]])}
    assert global_norm(g) == pytest.approx(5.0)
    clipped, norm = clip_by_global_norm(g, 1.0)
    assert norm == pytest.approx(5.0)
    assert global_norm(clipped) == pytest.approx(1.0)
    np.testing.assert_allclose(clipped["a"], [0.6, 0.0])
    np.testing.assert_allclose(clipped["b"], [[0.0, 0.8]])
    np.testing.assert_array_equal(g["a"], [3.0, 0.0])          # input untouched
    same, norm = clip_by_global_norm(g, 10.0)                  # below the threshold: unchanged
    np.testing.assert_array_equal(same["b"], g["b"])
    zero, norm = clip_by_global_norm({"a": np.zeros(2)}, 1.0)
    assert norm == 0.0 and np.all(zero["a"] == 0)
    with pytest.raises(ValueError, match="max_norm"):
        clip_by_global_norm(g, 0.0)


def test_clipping_keeps_float32():
    clipped, _ = clip_by_global_norm({"a": np.ones(3, dtype=np.float32) * 10}, 1.0)
    assert clipped["a"].dtype == np.float32


@pytest.mark.parametrize("name", ["sgd", "momentum", "rmsprop", "adam"])
def test_state_dict_resumes_bit_for_bit(name):
    straight_p, straight = _params(), make_optimizer(name, lr=0.01)
    for k in range(4):
        straight.step(straight_p, _grads(k))
    p, first = _params(), make_optimizer(name, lr=0.01)
    for k in range(2):
        first.step(p, _grads(k))
    saved, saved_p = first.state_dict(), {k: v.copy() for k, v in p.items()}
    first.step(p, _grads(9))                                   # must not leak into the saved copy
    second = make_optimizer(saved["name"], **saved["hyper"])
    second.load_state_dict(saved)
    for k in range(2, 4):
        second.step(saved_p, _grads(k))
    for key in saved_p:
        np.testing.assert_array_equal(saved_p[key], straight_p[key])


def test_bad_settings_name_the_argument():
    with pytest.raises(ValueError, match="lr"):
        SGD(lr=0)
    with pytest.raises(ValueError, match="lr"):
        Adam(lr=float("nan"))
    with pytest.raises(ValueError, match="weight_decay"):
        SGD(lr=0.1, weight_decay=-1)
    with pytest.raises(ValueError, match="momentum"):
        Momentum(lr=0.1, momentum=1.0)
    with pytest.raises(ValueError, match="beta2"):
        Adam(beta2=1.0)
    with pytest.raises(ValueError, match="unknown optimizer"):
        make_optimizer("adagrad", lr=0.1)
    with pytest.raises(ValueError, match="keys"):
        SGD(lr=0.1).step(_params(), {"layer.W1": np.zeros((2, 2))})
    with pytest.raises(ValueError, match="shape"):
        SGD(lr=0.1).step(_params(), {"layer.W1": np.zeros(2), "layer.b": np.zeros(2)})
    with pytest.raises(ValueError, match="adam"):
        SGD(lr=0.1).load_state_dict(Adam().state_dict())
