"""What is particular to the RNN: the exact skip path through a dead ReLU, the check biting on
planted mistakes (mutation tests), the initialisations and the activation argument.

The contract every cell shares (finite differences from h0 and from a carried state, fast ==
reference, chunked == whole, float32, S=0 == S=1, K=1, named errors) is in tests/test_cells.py.
"""
import numpy as np
import pytest

import numrnn
from numrnn.nn import rnn as rnn_module
from numrnn.nn.gradcheck import gradcheck_layer
from numrnn.nn.schedule import is_skip_step

from strategies import KINK_MARGIN, random_inputs


def away_from_kink(cell, x, h0, margin=KINK_MARGIN):
    _, cache = cell.forward(x, h0=h0)
    return np.min(np.abs(cache.a)) > margin


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
    def ones(a, out=None):                            # relu' taken as 1 everywhere (wrong)
        out = np.empty_like(a) if out is None else out
        out[...] = 1
        return out

    def wrong_derivative(m, cell):
        m.setitem(rnn_module.ACTIVATIONS, "relu", (numrnn.nn.activations.relu, ones))
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


# ------------------------------------------------------------------ inits, activation
def test_initialisations():
    H = 16
    orth = numrnn.RNN(3, H, init="orthogonal", scale=0.9, seed=0).params["W1"]
    np.testing.assert_allclose(orth @ orth.T, 0.81 * np.eye(H), atol=1e-12)
    ident = numrnn.RNN(3, H, init="identity", seed=0).params["W1"]
    np.testing.assert_array_equal(ident, np.eye(H))
    normal = numrnn.RNN(3, 400, seed=0).params["W1"]
    assert abs(normal.std() * np.sqrt(400) - 1) < 0.01
    assert numrnn.RNN(3, H, dtype=np.float32, seed=0).params["W1"].dtype == np.float32


def test_the_activation_is_checked_and_kept_in_config_and_repr():
    with pytest.raises(ValueError, match="activation"):
        numrnn.RNN(3, 4, activation="sigmoid")
    cell = numrnn.RNN(3, 4, activation="tanh", seed=0)
    assert cell.config["activation"] == "tanh"
    assert repr(cell) == "RNN(input_size=3, hidden_size=4, n_matrices=1, skip=0, activation='tanh')"
