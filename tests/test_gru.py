"""Tests of numrnn.nn.gru: finite-difference checks of whole sequences, properties, bad input.

Shares the finite-difference settings (EPS, TOL, loss_scale for the round-off floor) and the drawn
cases with test_lstm.py.
"""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import numrnn.nn.gru as gru_module
from numrnn.nn.gradcheck import check_gradients, gradcheck_layer
from numrnn.nn.gru import GRU, GRUCache
from numrnn.nn.rnn import RNNState
from test_lstm import EPS, TOL, draw_inputs, loss_scale, settings_cases, sigmoid

correct_cell_backward = gru_module._cell_backward


def reference_gru(params, x, h0, K=1, S=0):
    """The GRU equations written as plainly as possible: batch-first, one step at a time."""
    B, T, _ = x.shape
    H = h0.shape[1]
    h = {-1: h0}
    for t in range(T):
        a = h[t - 1] @ params[f"W{t % K + 1}"].T
        u = x[:, t] @ params["Wx"].T + params["b"]
        r = sigmoid(u[:, :H] + a[:, :H])
        z = sigmoid(u[:, H:2 * H] + a[:, H:2 * H])
        n = np.tanh(u[:, 2 * H:] + r * a[:, 2 * H:])
        h[t] = (1 - z) * n + z * h[t - 1]
        if S >= 2 and (t + 1) % S == 0:
            h[t] = h[t] + h[t - S]
    return np.stack([h[t] for t in range(T)], axis=1)


# ------------------------------------------------------------------ gradient checks
@settings(max_examples=40)
@given(**settings_cases, steps=st.integers(0, 6))
def test_gradients_match_finite_differences(K, S, T, B, D, H, init, seed, steps):
    """Every parameter, x and the carried history, from a state starting at global step `steps`."""
    gru = GRU(D, H, n_matrices=K, skip=S, init=init, seed=seed)
    x, _, _, history, G = draw_inputs(seed, B, T, D, H, gru.n_history)

    def loss():
        return float(np.sum(G * gru.forward(x, state=RNNState(history, steps))[0]))

    hs, cache = gru.forward(x, state=RNNState(history, steps))
    dx, grads, dinit = gru.backward(G, cache, return_dinit=True)
    analytic = dict(grads, x=dx, history=dinit["history"])
    report = check_gradients(loss, dict(gru.params, x=x, history=history), analytic, eps=EPS,
                             loss_scale=loss_scale(G, hs))
    assert report.passed(TOL), str(report)
    np.testing.assert_array_equal(dinit["h0"], dinit["history"][-1])


@pytest.mark.parametrize("name", ["A", "B", "C", "D", "special"])
def test_gradcheck_layer_accepts_the_gru(name):
    gru = GRU.from_version(name, 2, 3, seed=1)
    x, h0, *_ = draw_inputs(1, 2, 9, 2, 3)
    report = gradcheck_layer(gru, x, h0, eps=EPS)
    assert set(report) == set(gru.params) | {"x", "h0"}
    assert report.passed(TOL), str(report)


def wrong_cell_backward_no_update_path(dh, h_prev, gates, a_n, du, da):
    """Forgets the direct path dh(t-1) += dh z (wrong)."""
    correct_cell_backward(dh, h_prev, gates, a_n, du, da)
    return np.zeros_like(dh)


def wrong_cell_backward_reset_outside(dh, h_prev, gates, a_n, du, da):
    """Treats the reset gate as if it multiplied h(t-1) before W_k, not the product (wrong)."""
    dh_prev = correct_cell_backward(dh, h_prev, gates, a_n, du, da)
    H = dh.shape[1]
    da[:, 2 * H:] = du[:, 2 * H:]
    return dh_prev


@pytest.mark.parametrize("bug, patch", [
    ("update path dropped", ("_cell_backward", wrong_cell_backward_no_update_path)),
    ("reset gate misplaced", ("_cell_backward", wrong_cell_backward_reset_outside)),
    ("skip path dropped", ("is_skip_step", lambda t, S: False)),
])
def test_a_wrong_backward_fails_the_check(bug, patch, monkeypatch):
    gru = GRU.from_version("D", 2, 3, seed=3)
    x, h0, _, _, G = draw_inputs(3, 2, 7, 2, 3)

    def loss():
        return float(np.sum(G * gru.forward(x, h0=h0)[0]))

    hs, cache = gru.forward(x, h0=h0)
    with monkeypatch.context() as m:
        m.setattr(gru_module, *patch)                # the bug is in the backward only
        dx, grads, dinit = gru.backward(G, cache, return_dinit=True)
    arrays = dict(gru.params, x=x, h0=h0)
    report = check_gradients(loss, arrays, dict(grads, x=dx, h0=dinit["h0"]), eps=EPS,
                             loss_scale=loss_scale(G, hs))
    assert not report.passed(TOL), f"{bug} went unnoticed:\n{report}"
    assert report.max_error > 1e-3


# ------------------------------------------------------------------ properties
@settings(max_examples=30)
@given(**settings_cases)
def test_forward_equals_the_plain_equations(K, S, T, B, D, H, init, seed):
    gru = GRU(D, H, n_matrices=K, skip=S, init=init, seed=seed)
    x, h0, *_ = draw_inputs(seed, B, T, D, H)
    hs, _ = gru.forward(x, h0=h0)
    np.testing.assert_allclose(hs, reference_gru(gru.params, x, h0, K, S), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("K", [1, 2, 3])
def test_skip_zero_equals_skip_one(K):
    x, h0, _, _, G = draw_inputs(5, 2, 8, 3, 4)
    runs = []
    for S in (0, 1):
        gru = GRU(3, 4, n_matrices=K, skip=S, seed=5)
        hs, cache = gru.forward(x, h0=h0)
        runs.append((hs, *gru.backward(G, cache)))
    (hs0, dx0, g0), (hs1, dx1, g1) = runs
    np.testing.assert_array_equal(hs0, hs1)
    np.testing.assert_array_equal(dx0, dx1)
    for name in g0:
        np.testing.assert_array_equal(g0[name], g1[name])


@settings(max_examples=20)
@given(K=st.integers(1, 4), S=st.integers(0, 5), seed=st.integers(0, 2**16),
       chunks=st.lists(st.integers(1, 7), min_size=1, max_size=5))
def test_chunked_forward_with_carried_state_equals_whole(K, S, seed, chunks):
    gru = GRU(2, 3, n_matrices=K, skip=S, seed=seed)
    x, h0, *_ = draw_inputs(seed, 2, sum(chunks), 2, 3)
    whole, cache = gru.forward(x, h0=h0)
    parts, state, start = [], None, 0
    for n in chunks:
        kwargs = dict(h0=h0) if state is None else dict(state=state)
        hs, part_cache = gru.forward(x[:, start:start + n], **kwargs)
        parts.append(hs)
        state, start = part_cache.state, start + n
    np.testing.assert_allclose(np.concatenate(parts, axis=1), whole, rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(state.history, cache.state.history, rtol=1e-13, atol=1e-13)
    assert state.steps == cache.state.steps == sum(chunks)


def test_backward_is_idempotent_and_does_not_mutate_inputs():
    gru = GRU.from_version("special", 3, 4, seed=7)
    x, h0, _, _, G = draw_inputs(7, 2, 11, 3, 4)
    inputs = [x, h0, G] + list(gru.params.values())
    saved = [a.copy() for a in inputs]
    _, cache = gru.forward(x, h0=h0)
    cache_saved = {k: v.copy() for k, v in vars(cache).items() if isinstance(v, np.ndarray)}
    first = gru.backward(G, cache, return_dinit=True)
    second = gru.backward(G, cache, return_dinit=True)
    np.testing.assert_array_equal(first[0], second[0])
    for name in gru.params:
        np.testing.assert_array_equal(first[1][name], second[1][name])
        assert first[1][name] is not second[1][name]
    np.testing.assert_array_equal(first[2]["history"], second[2]["history"])
    for a, b in zip(inputs, saved):
        np.testing.assert_array_equal(a, b)
    for k, v in cache_saved.items():
        np.testing.assert_array_equal(getattr(cache, k), v)


@pytest.mark.parametrize("name", ["A", "D", "special"])
def test_float32_forward_agrees_with_float64(name):
    x, h0, *_ = draw_inputs(9, 3, 50, 4, 8)
    hs64, _ = GRU.from_version(name, 4, 8, seed=9).forward(x, h0=h0)
    gru32 = GRU.from_version(name, 4, 8, seed=9, dtype=np.float32)
    hs32, cache = gru32.forward(x.astype(np.float32), h0=h0.astype(np.float32))
    assert hs32.dtype == np.float32
    np.testing.assert_allclose(hs32, hs64, rtol=1e-4, atol=1e-5)
    dx, grads = gru32.backward(np.ones_like(hs32), cache)
    assert dx.dtype == np.float32 and all(g.dtype == np.float32 for g in grads.values())


def test_construction_and_config():
    gru = GRU.from_version("D", 5, 3, init="orthogonal", scale=0.9, seed=10, dtype=np.float32)
    assert {k: v.shape for k, v in gru.params.items()} == {
        "W1": (9, 3), "W2": (9, 3), "Wx": (9, 5), "b": (9,)}
    rebuilt = GRU(**gru.config, seed=10)
    for name in gru.params:
        np.testing.assert_array_equal(gru.params[name], rebuilt.params[name])
    for block in np.split(GRU(2, 5, init="orthogonal", seed=1).params["W1"], 3):
        np.testing.assert_allclose(block.T @ block, np.eye(5), atol=1e-12)


# ------------------------------------------------------------------ bad input
def test_bad_input_names_the_argument():
    with pytest.raises(ValueError, match=r"^n_matrices "):
        GRU(2, 3, n_matrices=0)
    with pytest.raises(ValueError, match=r"^skip "):
        GRU(2, 3, skip=-1)
    with pytest.raises(ValueError, match="init"):
        GRU(2, 3, init="xavier")
    with pytest.raises(ValueError, match=r"^scale "):
        GRU(2, 3, scale=np.nan)
    with pytest.raises(ValueError, match="version"):
        GRU.from_version("E", 2, 3)
    gru = GRU(2, 3, skip=2, seed=0)
    x = np.zeros((2, 4, 2))
    with pytest.raises(ValueError, match=r"^x "):
        gru.forward(np.zeros((2, 4, 3)))
    with pytest.raises(TypeError, match=r"^x "):
        gru.forward(x.astype(int))
    with pytest.raises(ValueError, match=r"^x "):
        gru.forward(np.full((2, 4, 2), np.inf))
    with pytest.raises(ValueError, match=r"^h0 "):
        gru.forward(x, h0=np.zeros((2, 4)))
    state = gru.forward(x)[1].state
    with pytest.raises(ValueError, match="state"):
        gru.forward(x, h0=np.zeros((2, 3)), state=state)
    with pytest.raises(ValueError, match=r"^state\.history "):
        gru.forward(x, state=RNNState(np.zeros((1, 2, 3)), 0))
    _, cache = gru.forward(x)
    with pytest.raises(ValueError, match=r"^dhs "):
        gru.backward(np.zeros((2, 3, 3)), cache)
    with pytest.raises(TypeError, match=r"^cache "):
        gru.backward(np.zeros((2, 4, 3)), None)
    assert isinstance(cache, GRUCache)
