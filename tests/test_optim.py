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


def test_weight_decay_leaves_the_learned_skip_scale_alone():
    from numrnn import RNN
    from numrnn.training.model import SequenceModel

    model = SequenceModel(3, 4, 1, layer=RNN(3, 4, skip=2, learn_skip_scale=True, seed=0), seed=0)
    params = model.params
    assert "layer.alpha" in params
    before = {k: v.copy() for k, v in params.items()}
    SGD(lr=0.1, weight_decay=0.5).step(params, {k: np.zeros_like(v) for k, v in params.items()})
    np.testing.assert_array_equal(params["layer.alpha"], before["layer.alpha"])    # still 1: a skip
    np.testing.assert_allclose(params["layer.W1"], before["layer.W1"] * 0.95)


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


# ------------------------------------------------------------------ issue 17: every input checked
@pytest.mark.parametrize("make,argument", [
    (lambda: SGD(lr="0.1"), "lr"), (lambda: SGD(lr=float("inf")), "lr"), (lambda: SGD(lr=-1e-3), "lr"),
    (lambda: SGD(lr=0.1, weight_decay=float("inf")), "weight_decay"),
    (lambda: SGD(lr=0.1, weight_decay=float("nan")), "weight_decay"),
    (lambda: SGD(lr=0.1, weight_decay="a lot"), "weight_decay"),
    (lambda: Adam(eps=0.0), "eps"), (lambda: Adam(eps=-1e-8), "eps"), (lambda: Adam(eps=float("nan")), "eps"),
    (lambda: RMSProp(lr=0.1, eps=0.0), "eps"), (lambda: RMSProp(lr=0.1, eps=float("nan")), "eps"),
    (lambda: RMSProp(lr=0.1, rho=float("nan")), "rho"), (lambda: RMSProp(lr=0.1, rho="high"), "rho"),
    (lambda: Adam(beta1=float("nan")), "beta1"), (lambda: Adam(beta1=-0.1), "beta1"),
    (lambda: Adam(beta2=None), "beta2"),
    (lambda: Momentum(lr=0.1, momentum=float("nan")), "momentum"),
    (lambda: Momentum(lr=0.1, momentum="0.9"), "momentum"),
    (lambda: make_optimizer("adam", lr=0.1, betas=(0.9, 0.99)), "betas"),
    (lambda: make_optimizer(3, lr=0.1), "optimizer"),
])
def test_every_hyperparameter_is_checked_and_named(make, argument):
    with pytest.raises((ValueError, TypeError), match=argument):
        make()


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_clipping_refuses_non_finite_gradients_by_name(bad):
    g = {"a": np.array([3.0, 0.0]), "b": np.array([[0.0, bad]])}
    with pytest.raises(ValueError, match="gradient b .*NaN or inf"):
        clip_by_global_norm(g, 1.0)


def test_clipping_scales_huge_finite_gradients_instead_of_overflowing():
    g = {"a": np.full(4, 1e200), "b": np.array([-1e200])}          # the sum of squares overflows
    clipped, norm = clip_by_global_norm(g, 1.0)
    assert norm == pytest.approx(np.sqrt(5) * 1e200)
    assert global_norm(clipped) == pytest.approx(1.0)
    np.testing.assert_allclose(clipped["b"], [-1 / np.sqrt(5)])


@pytest.mark.parametrize("max_norm", [0, -1.0, float("nan"), float("inf"), "5"])
def test_clipping_names_a_bad_threshold(max_norm):
    with pytest.raises((ValueError, TypeError), match="max_norm"):
        clip_by_global_norm({"a": np.ones(2)}, max_norm)


@pytest.mark.parametrize("name", ["sgd", "momentum", "rmsprop", "adam"])
def test_an_update_that_overflows_is_refused_and_changes_nothing(name):
    from numrnn._checks import NonFiniteError
    p, opt = _params(), make_optimizer(name, lr=1e-3)
    opt.step(p, _grads(0))
    before, state = {k: v.copy() for k, v in p.items()}, opt.state_dict()
    huge = {k: np.full_like(v, 1e308) for k, v in p.items()}
    opt.lr = 1e308 if name in ("sgd", "momentum") else opt.lr
    p["layer.W1"][0, 0] = 1e308 if name in ("rmsprop", "adam") else p["layer.W1"][0, 0]
    before["layer.W1"][0, 0] = p["layer.W1"][0, 0]
    with pytest.raises(NonFiniteError, match="layer.W1"):
        with np.errstate(over="ignore", invalid="ignore"):
            opt.step(p, huge if name in ("sgd", "momentum") else {k: -v for k, v in huge.items()})
    for k in p:
        np.testing.assert_array_equal(p[k], before[k])
    after = opt.state_dict()
    assert after["t"] == state["t"]
    for slot, table in state["slots"].items():
        for k, v in table.items():
            np.testing.assert_array_equal(after["slots"][slot][k], v)


def test_an_inf_gradient_is_refused_by_the_optimiser_too():
    from numrnn._checks import NonFiniteError
    p, opt = _params(), Adam(lr=0.1)
    with pytest.raises(NonFiniteError, match="gradient of layer.b"):
        opt.step(p, {"layer.W1": np.zeros((2, 2)), "layer.b": np.array([np.inf, 0.0])})
    assert opt.t == 0 and opt.state == {"m": {}, "v": {}}


# ------------------------------------------------------------------------- lazy Adam rows
def test_lazy_adam_rows_equal_dense_adam_on_the_touched_rows():
    rng = np.random.default_rng(0)
    E0, rows = rng.standard_normal((7, 3)), np.array([1, 4, 5])
    g_dense = np.zeros_like(E0)
    lazy, dense = Adam(lr=0.1, lazy=("E",)), Adam(lr=0.1)
    E_lazy, E_dense = E0.copy(), E0.copy()
    for _ in range(3):                          # every step touches the same rows: equal to dense
        g_dense[rows] = rng.standard_normal((3, 3))
        lazy.step({"E": E_lazy}, {"E": g_dense[rows]}, rows={"E": rows})
        dense.step({"E": E_dense}, {"E": g_dense})
    np.testing.assert_allclose(E_lazy, E_dense, rtol=1e-14)
    np.testing.assert_array_equal(E_lazy[[0, 2, 3, 6]], E0[[0, 2, 3, 6]])
    lazy.step({"E": E_lazy}, {"E": np.ones((1, 3))}, rows={"E": np.array([0])})   # other rows stay put
    np.testing.assert_array_equal(E_lazy[rows], E_dense[rows])
    assert not np.array_equal(E_lazy[0], E0[0])


def test_lazy_rows_decay_only_the_touched_rows_and_are_checked():
    E = np.ones((4, 2))
    opt = Adam(lr=0.1, weight_decay=0.5, lazy=("E",))
    opt.step({"E": E}, {"E": np.zeros((2, 2))}, rows={"E": np.array([0, 2])})
    assert np.all(E[[1, 3]] == 1) and np.all(E[[0, 2]] < 1)
    with pytest.raises(ValueError, match="rows"):
        opt.step({"E": E}, {"E": np.zeros((2, 2))})                        # rows not given
    with pytest.raises(ValueError, match="rows of E"):
        opt.step({"E": E}, {"E": np.zeros((2, 2))}, rows={"E": np.array([0, 9])})
    with pytest.raises(ValueError, match="lazy"):
        SGD(lr=0.1).step({"E": E}, {"E": np.zeros((2, 2))}, rows={"E": np.array([0, 1])})
    assert Adam(lazy=("E",)).hyper["lazy"] == ["E"]


def test_step_and_clip_arguments_are_checked_by_name():
    with pytest.raises(TypeError, match=r"grads\['layer.b'\] must be a float ndarray"):
        SGD(lr=0.1).step(_params(), {"layer.W1": np.zeros((2, 2)), "layer.b": [0.0, 0.0]})
    with pytest.raises(TypeError, match="params must be a dict"):
        SGD(lr=0.1).step([np.zeros(2)], {"a": np.zeros(2)})
    with pytest.raises(TypeError, match="grads must be a dict"):
        clip_by_global_norm([np.zeros(2)], 1.0)
    with pytest.raises(ValueError, match="optimiser state must be a dict"):
        Adam().load_state_dict({"name": "adam"})
    with pytest.raises((ValueError, TypeError), match="optimiser state t"):
        Adam().load_state_dict({"name": "adam", "t": -1, "slots": {"m": {}, "v": {}}})
