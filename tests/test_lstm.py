"""Tests of numrnn.nn.lstm: finite-difference checks of whole sequences, properties, bad input."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import numrnn.nn.lstm as lstm_module
from numrnn.nn.gradcheck import check_gradients, gradcheck_layer
from numrnn.nn.lstm import LSTM, LSTMCache, LSTMState

TOL = 1e-7
correct_cell_backward = lstm_module._cell_backward
# Finite-difference step: truncation error grows as EPS^2, round-off as 1e-16 / EPS; 1e-5 balances
# them (worst relative error 2e-8 over 1000 random settings, against 1.7e-7 with 1e-6). An array
# whose whole gradient has nearly vanished (dL/dh0 ~ 5e-5 with H = B = 1 and small weights) is
# judged against the round-off floor of numrnn.nn.gradcheck instead, via `loss_scale`.
EPS = 1e-5


def loss_scale(G, hs):
    """Sum of the magnitudes of the terms of L = sum G * hs: sets gradcheck's round-off floor."""
    return float(np.sum(np.abs(G * hs)))


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def reference_lstm(params, x, h0, c0, K=1, S=0):
    """The LSTM equations written as plainly as possible: batch-first, one step at a time."""
    B, T, _ = x.shape
    H = h0.shape[1]
    h = {-1: h0}
    c = c0
    for t in range(T):
        z = h[t - 1] @ params[f"W{t % K + 1}"].T + x[:, t] @ params["Wx"].T + params["b"]
        i, f, o = sigmoid(z[:, :H]), sigmoid(z[:, H:2 * H]), sigmoid(z[:, 3 * H:])
        g = np.tanh(z[:, 2 * H:3 * H])
        c = f * c + i * g
        h[t] = o * np.tanh(c)
        if S >= 2 and (t + 1) % S == 0:
            h[t] = h[t] + h[t - S]
    return np.stack([h[t] for t in range(T)], axis=1), c


def draw_inputs(seed, B, T, D, H, P=1):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((B, T, D)), rng.standard_normal((B, H)), rng.standard_normal((B, H)),
            rng.standard_normal((P, B, H)), rng.standard_normal((B, T, H)))


settings_cases = dict(K=st.integers(1, 4), S=st.integers(0, 5), T=st.integers(1, 10),
                      B=st.integers(1, 3), D=st.integers(1, 4), H=st.integers(1, 4),
                      init=st.sampled_from(["normal", "orthogonal", "identity"]),
                      seed=st.integers(0, 2**16))


# ------------------------------------------------------------------ gradient checks
@settings(max_examples=60)
@given(**settings_cases, steps=st.integers(0, 6))
def test_gradients_match_finite_differences(K, S, T, B, D, H, init, seed, steps):
    """Every parameter, x, the carried history and c, from a state starting at global step `steps`."""
    lstm = LSTM(D, H, n_matrices=K, skip=S, init=init, seed=seed)
    x, _, c, history, G = draw_inputs(seed, B, T, D, H, lstm.n_history)

    def loss():
        hs, _ = lstm.forward(x, state=LSTMState(history, c, steps))
        return float(np.sum(G * hs))

    hs, cache = lstm.forward(x, state=LSTMState(history, c, steps))
    dx, grads, dinit = lstm.backward(G, cache, return_dinit=True)
    arrays = dict(lstm.params, x=x, history=history, c=c)
    analytic = dict(grads, x=dx, history=dinit["history"], c=dinit["c0"])
    report = check_gradients(loss, arrays, analytic, eps=EPS, loss_scale=loss_scale(G, hs))
    assert report.passed(TOL), str(report)


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


@pytest.mark.parametrize("name", ["A", "B", "C", "D", "special"])
def test_gradcheck_layer_accepts_the_lstm(name):
    lstm = LSTM.from_version(name, 2, 3, seed=1)
    x, h0, *_ = draw_inputs(1, 2, 9, 2, 3)
    report = gradcheck_layer(lstm, x, h0, eps=EPS)
    assert set(report) == set(lstm.params) | {"x", "h0"}
    assert report.passed(TOL), str(report)


def test_directional_check_on_a_larger_layer():
    lstm = LSTM.from_version("special", 8, 32, seed=2)
    x, h0, *_ = draw_inputs(2, 4, 30, 8, 32)
    report = gradcheck_layer(lstm, x, h0, eps=EPS, directional=True)
    assert report.passed(TOL), str(report)


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


# ------------------------------------------------------------------ properties
@settings(max_examples=30)
@given(**settings_cases)
def test_forward_equals_the_plain_equations(K, S, T, B, D, H, init, seed):
    lstm = LSTM(D, H, n_matrices=K, skip=S, init=init, seed=seed)
    x, h0, c0, _, _ = draw_inputs(seed, B, T, D, H)
    hs, cache = lstm.forward(x, h0=h0, c0=c0)
    want_hs, want_c = reference_lstm(lstm.params, x, h0, c0, K, S)
    np.testing.assert_allclose(hs, want_hs, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(cache.state.c, want_c, rtol=1e-12, atol=1e-12)


def test_one_matrix_no_skip_is_the_plain_lstm():
    lstm = LSTM(3, 4, seed=4)
    x, h0, c0, _, _ = draw_inputs(4, 2, 12, 3, 4)
    hs, _ = lstm.forward(x, h0=h0, c0=c0)
    np.testing.assert_allclose(hs, reference_lstm(lstm.params, x, h0, c0)[0], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("K", [1, 2, 3])
def test_skip_zero_equals_skip_one(K):
    x, h0, c0, _, G = draw_inputs(5, 2, 8, 3, 4)
    outs = []
    for S in (0, 1):
        lstm = LSTM(3, 4, n_matrices=K, skip=S, seed=5)
        hs, cache = lstm.forward(x, h0=h0, c0=c0)
        outs.append((hs, lstm.backward(G, cache, return_dinit=True)))
    (hs0, (dx0, g0, d0)), (hs1, (dx1, g1, d1)) = outs
    np.testing.assert_array_equal(hs0, hs1)
    np.testing.assert_array_equal(dx0, dx1)
    for name in g0:
        np.testing.assert_array_equal(g0[name], g1[name])
    np.testing.assert_array_equal(d0["c0"], d1["c0"])


def test_skip_is_added_to_h_only_not_to_the_cell():
    """With S=2, h(1) = o tanh(c(1)) + h(-1), and c(1) follows the plain cell equation."""
    lstm = LSTM(2, 3, skip=2, seed=6)
    x, h0, c0, _, _ = draw_inputs(6, 1, 2, 2, 3)
    hs, cache = lstm.forward(x, h0=h0, c0=c0)
    i, f, g, o = np.split(cache.gates[1], 4, axis=-1)
    np.testing.assert_allclose(cache.c[2], f * cache.c[1] + i * g, rtol=1e-14)
    np.testing.assert_allclose(hs[:, 1], o * np.tanh(cache.c[2]) + h0, rtol=1e-14)


@settings(max_examples=30)
@given(K=st.integers(1, 4), S=st.integers(0, 5), seed=st.integers(0, 2**16),
       chunks=st.lists(st.integers(1, 7), min_size=1, max_size=5))
def test_chunked_forward_with_carried_state_equals_whole(K, S, seed, chunks):
    lstm = LSTM(2, 3, n_matrices=K, skip=S, seed=seed)
    x, h0, c0, _, _ = draw_inputs(seed, 2, sum(chunks), 2, 3)
    whole, cache = lstm.forward(x, h0=h0, c0=c0)
    parts, state, start = [], None, 0
    for n in chunks:
        kwargs = dict(h0=h0, c0=c0) if state is None else dict(state=state)
        hs, part_cache = lstm.forward(x[:, start:start + n], **kwargs)
        parts.append(hs)
        state, start = part_cache.state, start + n
    np.testing.assert_allclose(np.concatenate(parts, axis=1), whole, rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(state.c, cache.state.c, rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(state.history, cache.state.history, rtol=1e-13, atol=1e-13)
    assert state.steps == cache.state.steps == sum(chunks)


def test_backward_is_idempotent_and_does_not_mutate_inputs():
    lstm = LSTM.from_version("special", 3, 4, seed=7)
    x, h0, c0, _, G = draw_inputs(7, 2, 11, 3, 4)
    inputs = [x, h0, c0, G] + list(lstm.params.values())
    saved = [a.copy() for a in inputs]
    hs, cache = lstm.forward(x, h0=h0, c0=c0)
    cache_saved = {k: v.copy() for k, v in vars(cache).items() if isinstance(v, np.ndarray)}
    first = lstm.backward(G, cache, return_dinit=True)
    second = lstm.backward(G, cache, return_dinit=True)
    np.testing.assert_array_equal(first[0], second[0])
    for name in lstm.params:
        np.testing.assert_array_equal(first[1][name], second[1][name])
        assert first[1][name] is not second[1][name]
        assert not np.shares_memory(first[1][name], lstm.params[name])
    for name in ("h0", "c0", "history"):
        np.testing.assert_array_equal(first[2][name], second[2][name])
    for a, b in zip(inputs, saved):
        np.testing.assert_array_equal(a, b)
    for k, v in cache_saved.items():
        np.testing.assert_array_equal(getattr(cache, k), v)


def test_outputs_are_read_only():
    lstm = LSTM(2, 3, seed=8)
    hs, _ = lstm.forward(np.ones((1, 4, 2)))
    with pytest.raises(ValueError):
        hs[0, 0, 0] = 1.0


@pytest.mark.parametrize("name", ["A", "B", "C", "D", "special"])
def test_float32_forward_agrees_with_float64(name):
    x, h0, c0, _, _ = draw_inputs(9, 3, 50, 4, 8)
    hs64, _ = LSTM.from_version(name, 4, 8, seed=9).forward(x, h0=h0, c0=c0)
    lstm32 = LSTM.from_version(name, 4, 8, seed=9, dtype=np.float32)
    hs32, cache = lstm32.forward(x.astype(np.float32), h0=h0.astype(np.float32), c0=c0.astype(np.float32))
    assert hs32.dtype == np.float32 and cache.c.dtype == np.float32
    assert all(p.dtype == np.float32 for p in lstm32.params.values())
    np.testing.assert_allclose(hs32, hs64, rtol=1e-4, atol=1e-5)
    dx, grads = lstm32.backward(np.ones_like(hs32), cache)
    assert dx.dtype == np.float32 and all(g.dtype == np.float32 for g in grads.values())


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


# ------------------------------------------------------------------ bad input
def test_bad_construction_names_the_argument():
    with pytest.raises(ValueError, match=r"^n_matrices "):
        LSTM(2, 3, n_matrices=0)
    with pytest.raises(ValueError, match=r"^skip "):
        LSTM(2, 3, skip=-1)
    with pytest.raises(TypeError, match=r"^n_matrices "):
        LSTM(2, 3, n_matrices=1.5)
    with pytest.raises(ValueError, match=r"^hidden_size "):
        LSTM(2, 0)
    with pytest.raises(ValueError, match=r"^input_size "):
        LSTM(0, 3)
    with pytest.raises(ValueError, match="init"):
        LSTM(2, 3, init="xavier")
    with pytest.raises(TypeError, match=r"^dtype "):
        LSTM(2, 3, dtype=np.int32)
    with pytest.raises(ValueError, match=r"^forget_bias "):
        LSTM(2, 3, forget_bias=np.nan)
    with pytest.raises(ValueError, match=r"^scale "):
        LSTM(2, 3, scale=np.inf)
    with pytest.raises(ValueError, match="version"):
        LSTM.from_version("E", 2, 3)
    with pytest.raises(TypeError, match=r"^seed "):
        LSTM(2, 3, seed="zero")


def test_bad_forward_input_names_the_argument():
    lstm = LSTM.from_version("C", 2, 3, seed=0)
    x = np.zeros((2, 4, 2))
    with pytest.raises(ValueError, match=r"^x "):
        lstm.forward(np.zeros((4, 2)))
    with pytest.raises(ValueError, match=r"^x "):
        lstm.forward(np.zeros((2, 4, 5)))
    with pytest.raises(TypeError, match=r"^x "):
        lstm.forward(np.zeros((2, 4, 2), dtype=int))
    with pytest.raises(TypeError, match=r"^x "):
        lstm.forward([[[0.0, 0.0]]])
    with pytest.raises(ValueError, match=r"^x "):
        lstm.forward(np.full((2, 4, 2), np.nan))
    with pytest.raises(ValueError, match=r"^x "):
        lstm.forward(np.zeros((2, 0, 2)))
    with pytest.raises(ValueError, match=r"^h0 "):
        lstm.forward(x, h0=np.zeros((3, 3)))
    with pytest.raises(ValueError, match=r"^c0 "):
        lstm.forward(x, c0=np.zeros((2, 4)))
    with pytest.raises(ValueError, match=r"^c0 "):
        lstm.forward(x, c0=np.array([[np.inf] * 3] * 2))
    with pytest.raises(TypeError, match=r"^h0 "):
        lstm.forward(x, h0=np.zeros((2, 3), dtype=np.int64))
    state = lstm.forward(x)[1].state
    with pytest.raises(ValueError, match="state"):
        lstm.forward(x, c0=np.zeros((2, 3)), state=state)
    with pytest.raises(TypeError, match="state"):
        lstm.forward(x, state=(state.history, state.c))
    with pytest.raises(ValueError, match=r"^state\.history "):
        lstm.forward(x, state=LSTMState(np.zeros((1, 2, 3)), state.c, 4))
    with pytest.raises(ValueError, match=r"^state\.c "):
        lstm.forward(x, state=LSTMState(state.history, np.zeros((2, 2)), 4))
    with pytest.raises(ValueError, match=r"^state\.steps "):
        lstm.forward(x, state=LSTMState(state.history, state.c, -1))


def test_bad_backward_input_names_the_argument():
    lstm = LSTM(2, 3, seed=0)
    hs, cache = lstm.forward(np.zeros((2, 4, 2)))
    with pytest.raises(ValueError, match=r"^dhs "):
        lstm.backward(np.zeros((2, 5, 3)), cache)
    with pytest.raises(ValueError, match=r"^dhs "):
        lstm.backward(np.zeros((2, 4)), cache)
    with pytest.raises(TypeError, match=r"^dhs "):
        lstm.backward(np.zeros((2, 4, 3), dtype=np.int32), cache)
    with pytest.raises(ValueError, match=r"^dhs "):
        lstm.backward(np.full((2, 4, 3), np.nan), cache)
    with pytest.raises(TypeError, match=r"^cache "):
        lstm.backward(np.zeros((2, 4, 3)), {"x": None})
    assert isinstance(cache, LSTMCache)
