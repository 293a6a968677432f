"""The RNN family: finite-difference checks of whole sequences, properties, bad input."""
import numpy as np
import pytest
from hypothesis import assume, given, strategies as st

import numrnn
from numrnn.nn import rnn as rnn_module
from numrnn.nn.gradcheck import gradcheck_layer, relative_error
from numrnn.nn.schedule import is_skip_step

from strategies import random_inputs, schedules, seeds, sizes

KINK_MARGIN = 1e-3  # |a| below this and a finite difference of step 1e-6 could cross the ReLU kink
SATURATION = 4.0    # |a| above this, tanh'(a) < 1.4e-3: the gradient sinks towards the rounding
                    # noise of a difference quotient (~1e-16 |L| / 1e-6), so the check would measure noise


def reference_forward(params, x, h0, n_matrices, skip, act=lambda a: np.maximum(a, 0)):
    """The recurrence written as plainly as possible, one sequence at a time."""
    B, T, _ = x.shape
    out = np.zeros((B, T, h0.shape[1]))
    for n in range(B):
        hist = {-1: h0[n]}
        for t in range(T):
            W = params[f"W{t % n_matrices + 1}"]
            h = act(W @ hist[t - 1] + params["Wx"] @ x[n, t] + params["b"])
            if skip >= 2 and (t + 1) % skip == 0:
                h = h + hist[t - skip]
            hist[t] = out[n, t] = h
    return out


def away_from_kink(cell, x, h0, margin=KINK_MARGIN):
    _, cache = cell.forward(x, h0=h0)
    if cell.activation == "tanh":
        return np.max(np.abs(cache.a)) < SATURATION
    return np.min(np.abs(cache.a)) > margin


@given(schedule=schedules, size=sizes, seed=seeds,
       activation=st.sampled_from(["relu", "tanh"]),
       init=st.sampled_from(["normal", "orthogonal", "identity"]))
def test_whole_sequence_gradients_match_finite_differences(schedule, size, seed, activation, init):
    cell = numrnn.RNN(size["input_size"], size["hidden_size"], activation=activation, init=init,
                      seed=seed, **schedule)
    cell.params["b"][:] = np.random.default_rng(seed + 1).standard_normal(size["hidden_size"]) * 0.5
    x, h0 = random_inputs(seed, **size)
    assume(away_from_kink(cell, x, h0))
    report = gradcheck_layer(cell, x, h0, seed=seed)
    assert set(report) == {*cell.params, "x", "h0"}
    assert report.passed(1e-7), str(report)


@given(schedule=schedules, seed=seeds)
def test_directional_check_agrees_on_larger_layers(schedule, seed):
    cell = numrnn.RNN(6, 40, seed=seed, **schedule)
    x, h0 = random_inputs(seed, batch=4, steps=20, input_size=6, hidden_size=40)
    assume(away_from_kink(cell, x, h0, margin=1e-4))  # one unit direction moves each a(t) by ~1e-7
    assert gradcheck_layer(cell, x, h0, seed=seed, directional=True).passed(1e-7)


@given(schedule=schedules, size=sizes, seed=seeds)
def test_forward_matches_plain_reference(schedule, size, seed):
    cell = numrnn.RNN(size["input_size"], size["hidden_size"], seed=seed, **schedule)
    x, h0 = random_inputs(seed, **size)
    hs, _ = cell.forward(x, h0=h0)
    expected = reference_forward(cell.params, x, h0, **schedule)
    np.testing.assert_allclose(hs, expected, rtol=1e-12, atol=1e-12)


@given(size=sizes, seed=seeds)
def test_k1_equals_plain_rnn_and_k2_with_equal_matrices_equals_k1(size, seed):
    plain = numrnn.RNN(size["input_size"], size["hidden_size"], seed=seed)
    two = numrnn.RNN(size["input_size"], size["hidden_size"], n_matrices=2, seed=seed)
    two.params.update(plain.params, W2=plain.params["W1"].copy())
    x, h0 = random_inputs(seed, **size)
    expected = reference_forward(plain.params, x, h0, n_matrices=1, skip=0)
    np.testing.assert_allclose(plain.forward(x, h0)[0], expected, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(two.forward(x, h0)[0], plain.forward(x, h0)[0])


@given(size=sizes, seed=seeds, n_matrices=st.integers(1, 4))
def test_skip_0_and_1_mean_no_skip(size, seed, n_matrices):
    x, h0 = random_inputs(seed, **size)
    outs = []
    for skip in (0, 1):
        cell = numrnn.RNN(size["input_size"], size["hidden_size"], n_matrices, skip, seed=seed)
        hs, cache = cell.forward(x, h0)
        outs.append((hs, cell.backward(np.ones_like(hs), cache)))
    np.testing.assert_array_equal(outs[0][0], outs[1][0])
    for name, grad in outs[0][1][1].items():
        np.testing.assert_array_equal(grad, outs[1][1][1][name])


@pytest.mark.parametrize("skip", [2, 3, 4])
def test_dead_relu_branch_carries_state_and_gradient_exactly_through_skips(skip):
    """With W_k = 0, Wx = 0, b = -1 the ReLU branch is 0: only the skip path is left."""
    B, T, H = 2, 11, 3
    cell = numrnn.RNN(2, H, n_matrices=2, skip=skip, seed=0)
    for name in cell.params:
        cell.params[name][...] = 0.0
    cell.params["b"][:] = -1.0
    rng = np.random.default_rng(0)
    x, h0 = rng.standard_normal((B, T, 2)), rng.standard_normal((B, H))
    hs, cache = cell.forward(x, h0)
    skip_steps = [t for t in range(T) if is_skip_step(t, skip)]
    for t in range(T):
        np.testing.assert_array_equal(hs[:, t], h0 if t in skip_steps else 0.0)
    dhs = rng.integers(-5, 5, size=(B, T, H)).astype(float)  # integers: sums are exact
    _, grads, dinit = cell.backward(dhs, cache, return_dinit=True)
    np.testing.assert_array_equal(dinit["h0"], dhs[:, skip_steps].sum(axis=1))
    assert all(np.all(g == 0) for g in grads.values())   # no gradient through a dead ReLU


def test_each_matrix_gets_gradient_only_from_its_own_steps():
    cell = numrnn.RNN(3, 4, n_matrices=3, skip=2, seed=1)
    x, h0 = random_inputs(1, 2, 7, 3, 4)
    hs, cache = cell.forward(x, h0)
    for step in range(7):
        dhs = np.zeros_like(hs)
        dhs[:, step] = 1.0                  # a loss on h(step) reaches only steps 0..step
        _, grads = cell.backward(dhs, cache)
        used = {t % 3 + 1 for t in range(step + 1)}
        for k in range(1, 4):
            assert np.any(grads[f"W{k}"] != 0) == (k in used), (step, k)


@given(schedule=schedules, size=sizes, seed=seeds)
def test_float32_forward_agrees_with_float64(schedule, size, seed):
    x, h0 = random_inputs(seed, **size)
    hs64, _ = numrnn.RNN(size["input_size"], size["hidden_size"], seed=seed, **schedule).forward(x, h0)
    cell32 = numrnn.RNN(size["input_size"], size["hidden_size"], seed=seed, dtype=np.float32, **schedule)
    hs32, _ = cell32.forward(x.astype(np.float32), h0.astype(np.float32))
    assert hs32.dtype == np.float32
    assert relative_error(hs32, hs64) < 1e-4


@given(schedule=schedules, size=sizes, seed=seeds)
def test_backward_is_idempotent_and_does_not_mutate(schedule, size, seed):
    cell = numrnn.RNN(size["input_size"], size["hidden_size"], seed=seed, **schedule)
    x, h0 = random_inputs(seed, **size)
    hs, cache = cell.forward(x, h0)
    dhs = np.random.default_rng(seed).standard_normal(hs.shape)
    before = [a.copy() for a in (x, h0, dhs, cache.a, cache.h, cache.x, *cell.params.values())]
    first = cell.backward(dhs, cache, return_dinit=True)
    second = cell.backward(dhs, cache, return_dinit=True)
    after = [x, h0, dhs, cache.a, cache.h, cache.x, *cell.params.values()]
    for old, new in zip(before, after):
        np.testing.assert_array_equal(old, new)
    np.testing.assert_array_equal(first[0], second[0])
    for name in first[1]:
        np.testing.assert_array_equal(first[1][name], second[1][name])
        assert first[1][name] is not second[1][name]
    np.testing.assert_array_equal(first[2]["h0"], second[2]["h0"])


@given(schedule=schedules, seed=seeds, steps=st.integers(1, 12), data=st.data())
def test_chunks_with_carried_state_equal_the_whole_sequence(schedule, seed, steps, data):
    cell = numrnn.RNN(2, 3, seed=seed, **schedule)
    x, h0 = random_inputs(seed, 2, steps, 2, 3)
    whole, _ = cell.forward(x, h0)
    cuts = sorted(data.draw(st.sets(st.integers(1, steps - 1), max_size=4)) if steps > 1 else [])
    parts, state = [], None
    for chunk in np.split(x, cuts, axis=1):
        hs, cache = cell.forward(chunk, h0=h0 if state is None else None, state=state)
        parts.append(hs)
        state = cache.state
    np.testing.assert_array_equal(np.concatenate(parts, axis=1), whole)


# ------------------------------------------------------------- the check bites
def _broken_check(monkeypatch, schedule, patch):
    cell = numrnn.RNN(2, 4, seed=3, **schedule)
    x, h0 = random_inputs(3, 2, 8, 2, 4)
    assert away_from_kink(cell, x, h0)
    with monkeypatch.context() as m:
        patch(m, cell)
        return gradcheck_layer(cell, x, h0)


def test_check_fails_when_the_skip_path_is_forgotten(monkeypatch):
    def drop_skip_in_backward(m, cell):
        original = cell.backward
        def backward(*args, **kwargs):
            m.setattr(rnn_module, "is_skip_step", lambda t, s: False)
            try:
                return original(*args, **kwargs)
            finally:
                m.setattr(rnn_module, "is_skip_step", is_skip_step)
        m.setattr(cell, "backward", backward)
    report = _broken_check(monkeypatch, {"n_matrices": 1, "skip": 2}, drop_skip_in_backward)
    assert not report.passed(1e-3), str(report)


def test_check_fails_when_the_relu_derivative_is_wrong(monkeypatch):
    def wrong_derivative(m, cell):
        m.setitem(rnn_module.ACTIVATIONS, "relu", (numrnn.nn.activations.relu, np.ones_like))
    report = _broken_check(monkeypatch, {"n_matrices": 2, "skip": 0}, wrong_derivative)
    assert not report.passed(1e-3), str(report)


class ReluOnSkipPath(numrnn.RNN):
    """The classic mistake: multiplying the skip path's gradient by relu'(a(t))."""

    def backward(self, dhs, cache, return_dinit=False):
        P, S = self.n_history, self.skip
        dh = np.zeros_like(cache.h)
        dh[P:] = dhs.transpose(1, 0, 2)
        da = np.empty_like(cache.a)
        for t in reversed(range(dhs.shape[1])):
            da[t] = dh[P + t] * (cache.a[t] > 0)
            if is_skip_step(t, S):
                dh[P + t - S] += da[t]                # wrong: should be dh[P + t]
            dh[P + t - 1] += da[t] @ self.params[f"W{t % self.n_matrices + 1}"]
        dx = (da @ self.params["Wx"]).transpose(1, 0, 2)
        grads = {name: np.zeros_like(value) for name, value in self.params.items()}
        self._add_param_grads(grads, da, cache, 0)    # the per-matrix sums of the base
        out = (dx, grads)
        return out + ({"h0": dh[P - 1], "history": dh[:P]},) if return_dinit else out


def test_check_fails_when_relu_derivative_is_applied_on_the_skip_path():
    cell = ReluOnSkipPath(2, 4, n_matrices=1, skip=2, seed=3)
    x, h0 = random_inputs(3, 2, 8, 2, 4)
    assert away_from_kink(cell, x, h0)
    report = gradcheck_layer(cell, x, h0)
    assert not report.passed(1e-3), str(report)
    assert report["h0"] > 1e-3


# ------------------------------------------------------------------ versions, inits
@pytest.mark.parametrize("name,expected", [("A", (1, 0)), ("b", (2, 0)), ("C", (1, 2)),
                                           ("d", (2, 2)), ("Special", (4, 4))])
def test_versions_by_name(name, expected):
    cell = numrnn.RNN.from_version(name, 3, 4, seed=0)
    assert (cell.n_matrices, cell.skip) == expected
    assert sorted(k for k in cell.params if k.startswith("W") and k != "Wx") == \
        [f"W{k + 1}" for k in range(expected[0])]


def test_same_seed_same_bits_and_different_seed_different_weights():
    a, b, c = (numrnn.RNN(3, 5, n_matrices=2, seed=s) for s in (7, 7, 8))
    for name in a.params:
        np.testing.assert_array_equal(a.params[name], b.params[name])
    assert not np.array_equal(a.params["W1"], c.params["W1"])


def test_initialisations():
    H = 16
    orth = numrnn.RNN(3, H, init="orthogonal", scale=0.9, seed=0).params["W1"]
    np.testing.assert_allclose(orth @ orth.T, 0.81 * np.eye(H), atol=1e-12)
    ident = numrnn.RNN(3, H, init="identity", seed=0).params["W1"]
    np.testing.assert_array_equal(ident, np.eye(H))
    normal = numrnn.RNN(3, 400, seed=0).params["W1"]
    assert abs(normal.std() * np.sqrt(400) - 1) < 0.01
    assert numrnn.RNN(3, H, dtype=np.float32, seed=0).params["W1"].dtype == np.float32


def test_outputs_are_read_only_views():
    cell = numrnn.RNN(2, 3, seed=0)
    hs, _ = cell.forward(np.ones((1, 4, 2)))
    with pytest.raises(ValueError):
        hs[0, 0, 0] = 1.0


# ------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("kwargs,error,word", [
    (dict(n_matrices=0), ValueError, "n_matrices"),
    (dict(skip=-1), ValueError, "skip"),
    (dict(n_matrices=1.5), TypeError, "n_matrices"),
    (dict(activation="sigmoid"), ValueError, "activation"),
    (dict(init="xavier"), ValueError, "init"),
    (dict(dtype=np.int32), TypeError, "dtype"),
    (dict(seed="zero"), TypeError, "seed"),
    (dict(scale=float("nan")), ValueError, "scale"),
])
def test_bad_constructor_arguments(kwargs, error, word):
    with pytest.raises(error, match=word):
        numrnn.RNN(3, 4, **kwargs)


@pytest.mark.parametrize("size", [0, -2])
def test_bad_sizes(size):
    with pytest.raises(ValueError, match="hidden_size"):
        numrnn.RNN(3, size)
    with pytest.raises(ValueError, match="input_size"):
        numrnn.RNN(size, 3)


def test_unknown_version():
    with pytest.raises(ValueError, match="version"):
        numrnn.RNN.from_version("E", 3, 4)


@pytest.mark.parametrize("x,error,word", [
    (np.ones((4, 3)), ValueError, "x"),
    (np.ones((2, 4, 5)), ValueError, "x"),
    (np.ones((2, 4, 3), dtype=int), TypeError, "x"),
    (np.full((2, 4, 3), np.nan), ValueError, "x"),
    (np.full((2, 4, 3), np.inf), ValueError, "x"),
    (np.ones((2, 0, 3)), ValueError, "x"),
    ([[[1.0, 2.0, 3.0]]], TypeError, "x"),
])
def test_bad_x(x, error, word):
    with pytest.raises(error, match=word):
        numrnn.RNN(3, 4, seed=0).forward(x)


def test_bad_h0_dhs_cache_and_state():
    cell = numrnn.RNN(3, 4, skip=2, seed=0)
    x = np.ones((2, 5, 3))
    with pytest.raises(ValueError, match="h0"):
        cell.forward(x, h0=np.ones((2, 5)))
    with pytest.raises(ValueError, match="h0"):
        cell.forward(x, h0=np.full((2, 4), np.nan))
    hs, cache = cell.forward(x)
    with pytest.raises(ValueError, match="dhs"):
        cell.backward(np.ones((2, 4, 4)), cache)
    with pytest.raises(TypeError, match="dhs"):
        cell.backward(np.ones((2, 5, 4), dtype=int), cache)
    with pytest.raises(TypeError, match="cache"):
        cell.backward(np.ones((2, 5, 4)), {"a": 1})
    with pytest.raises(ValueError, match="h0 or state"):
        cell.forward(x, h0=np.ones((2, 4)), state=cache.state)
    with pytest.raises(ValueError, match="state.history"):
        numrnn.RNN(3, 4, skip=3, seed=0).forward(x, state=cache.state)
