"""What is particular to the LSTM: the gradient on c0, the cell path and its planted mistakes
(mutation tests), the skip on h only, the forget bias, the gate blocks, c0 and state.c checks.

The contract every cell shares (finite differences from h0 and from a carried state with its c,
fast == reference, chunked == whole, float32, S=0 == S=1, K=1, named errors) is in tests/test_cells.py.
"""
import numpy as np
import pytest
from hypothesis import given, settings

import numrnn.nn.lstm as lstm_module
from numrnn.nn.gradcheck import check_gradients
from numrnn.nn.lstm import LSTM, LSTMCache, LSTMState

from strategies import EPS, TOL, draw_inputs, loss_scale, settings_cases

correct_cell_backward = lstm_module._cell_backward


@settings(max_examples=25)
@given(**settings_cases)
def test_gradients_wrt_h0_and_c0(K, S, T, B, D, H, init, seed):
    lstm = LSTM(D, H, n_matrices=K, skip=S, init=init, seed=seed)
    x, h0, c0, _, G = draw_inputs(seed, B, T, D, H)

    def loss():
        return float(np.sum(G * lstm.forward(x, h0=h0, c0=c0)[0]))

    hs, cache = lstm.forward(x, h0=h0, c0=c0)
    _, _, dinit = lstm.backward(G, cache, return_dinit=True)
    report = check_gradients(loss, {"h0": h0, "c0": c0}, {"h0": dinit["h0"], "c0": dinit["c0"]},
                             eps=EPS, loss_scale=loss_scale(G, hs))
    assert report.passed(TOL), str(report)
    np.testing.assert_array_equal(dinit["history"][-1], dinit["h0"])


# ------------------------------------------------------------------ the check bites
def wrong_cell_backward_no_forget(dh, dc, gates, tanh_c, c_prev, out):
    """The cell path without its forget gate: dc(t-1) = dc(t) (wrong)."""
    correct_cell_backward(dh, dc, gates, tanh_c, c_prev, out)
    return dc + dh * np.split(gates, 4, axis=-1)[3] * (1 - tanh_c ** 2)


def wrong_cell_backward_no_tanh_grad(dh, dc, gates, tanh_c, c_prev, out):
    """tanh'(c) forgotten on the way from h(t) into c(t) (wrong)."""
    o = np.split(gates, 4, axis=-1)[3]
    return correct_cell_backward(dh, dc + dh * o * tanh_c ** 2, gates, tanh_c, c_prev, out)


@pytest.mark.parametrize("bug, patch", [
    ("cell path without f", ("_cell_backward", wrong_cell_backward_no_forget)),
    ("tanh' dropped", ("_cell_backward", wrong_cell_backward_no_tanh_grad)),
    ("skip path dropped", ("is_skip_step", lambda t, S: False)),
    ("skip on the wrong steps", ("is_skip_step", lambda t, S: S >= 2 and t % S == 0)),
])
def test_a_wrong_backward_fails_the_check(bug, patch, monkeypatch):
    lstm = LSTM.from_version("D", 2, 3, seed=3)
    x, h0, c0, _, G = draw_inputs(3, 2, 7, 2, 3)

    def loss():
        return float(np.sum(G * lstm.forward(x, h0=h0, c0=c0)[0]))

    hs, cache = lstm.forward(x, h0=h0, c0=c0)
    with monkeypatch.context() as m:
        m.setattr(lstm_module, *patch)               # the bug is in the backward only
        dx, grads, dinit = lstm.backward(G, cache, return_dinit=True)
    arrays = dict(lstm.params, x=x, h0=h0, c0=c0)
    report = check_gradients(loss, arrays, dict(grads, x=dx, h0=dinit["h0"], c0=dinit["c0"]),
                             eps=EPS, loss_scale=loss_scale(G, hs))
    assert not report.passed(TOL), f"{bug} went unnoticed:\n{report}"
    assert report.max_error > 1e-3


# ------------------------------------------------------------------ the LSTM's own properties
def test_skip_is_added_to_h_only_not_to_the_cell():
    """With S=2, h(1) = o tanh(c(1)) + h(-1), and c(1) follows the plain cell equation."""
    lstm = LSTM(2, 3, skip=2, seed=6)
    x, h0, c0, _, _ = draw_inputs(6, 1, 2, 2, 3)
    hs, cache = lstm.forward(x, h0=h0, c0=c0)
    i, f, g, o = np.split(cache.gates[1], 4, axis=-1)
    np.testing.assert_allclose(cache.c[2], f * cache.c[1] + i * g, rtol=1e-14)
    np.testing.assert_allclose(hs[:, 1], o * np.tanh(cache.c[2]) + h0, rtol=1e-14)


def test_construction_shapes_forget_bias_and_seed():
    lstm = LSTM(5, 3, n_matrices=2, skip=2, seed=10)
    assert {k: v.shape for k, v in lstm.params.items()} == {
        "W1": (12, 3), "W2": (12, 3), "Wx": (12, 5), "b": (12,)}
    np.testing.assert_array_equal(lstm.params["b"], [0] * 3 + [1] * 3 + [0] * 6)
    np.testing.assert_array_equal(LSTM(5, 3, forget_bias=0.0, seed=1).params["b"], np.zeros(12))
    again = LSTM(5, 3, n_matrices=2, skip=2, seed=10)
    for name in lstm.params:
        np.testing.assert_array_equal(lstm.params[name], again.params[name])
    assert not np.array_equal(LSTM(5, 3, seed=11).params["W1"], LSTM(5, 3, seed=12).params["W1"])
    assert (lstm.n_matrices, lstm.skip, lstm.n_history) == (2, 2, 2)
    assert LSTM.from_version("special", 5, 3).n_history == 4


def test_config_rebuilds_the_layer():
    lstm = LSTM.from_version("D", 4, 6, init="orthogonal", scale=0.9, forget_bias=2.0, seed=13,
                             dtype=np.float32)
    rebuilt = LSTM(**lstm.config, seed=13)
    assert rebuilt.config == lstm.config
    for name in lstm.params:
        np.testing.assert_array_equal(lstm.params[name], rebuilt.params[name])


def test_orthogonal_init_gives_orthogonal_gate_blocks():
    W = LSTM(2, 5, init="orthogonal", scale=1.0, seed=14).params["W1"]
    for block in np.split(W, 4):
        np.testing.assert_allclose(block.T @ block, np.eye(5), atol=1e-12)


# ------------------------------------------------------------------ bad input (the LSTM's own)
def test_bad_forget_bias_c0_and_state_c_name_the_argument():
    with pytest.raises(ValueError, match=r"^forget_bias "):
        LSTM(2, 3, forget_bias=np.nan)
    with pytest.raises(TypeError, match=r"^forget_bias "):
        LSTM(2, 3, forget_bias="one")
    lstm = LSTM.from_version("C", 2, 3, seed=0)
    x = np.zeros((2, 4, 2))
    with pytest.raises(ValueError, match=r"^c0 "):
        lstm.forward(x, c0=np.zeros((2, 4)))
    with pytest.raises(ValueError, match=r"^c0 "):
        lstm.forward(x, c0=np.array([[np.inf] * 3] * 2))
    state = lstm.forward(x)[1].state
    with pytest.raises(ValueError, match="give either h0/c0 or state, not both"):
        lstm.forward(x, c0=np.zeros((2, 3)), state=state)
    with pytest.raises(ValueError, match=r"^state\.c "):
        lstm.forward(x, state=LSTMState(state.history, np.zeros((2, 2)), 4))
    with pytest.raises(TypeError, match="state must be an LSTMState"):
        lstm.forward(x, state=numrnn_state(state))
    assert isinstance(lstm.forward(x)[1], LSTMCache)


def numrnn_state(state):
    """The RNN's kind of state, holding the same history: not enough for an LSTM."""
    from numrnn.nn.base import RNNState
    return RNNState(state.history, state.step0)
