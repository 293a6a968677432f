"""numrnn.analysis.gradients: each gradient-flow diagnostic checked against an independent computation.

The independent computations: a plain forward written here (one sequence at a time, with a
perturbation injected into h(t) or a matrix replaced at one step) differentiated by centred finite
differences, and the layer's own backward pass.
"""
import numpy as np
import pytest
from hypothesis import assume, given, strategies as st

from numrnn.analysis import gradients as dg
from numrnn.nn import CELLS
from numrnn.nn.gradcheck import relative_error
from numrnn.nn.rnn import RNN

from strategies import schedules, seeds

EPS = 1e-6
KINK_MARGIN = 1e-3

small = st.fixed_dictionaries({"batch": st.integers(1, 2), "steps": st.integers(1, 9),
                               "input_size": st.integers(1, 3), "hidden_size": st.integers(1, 4)})


def make_case(schedule, size, seed, activation="relu"):
    """A float64 layer with a nonzero bias, inputs x, h0 and a last-step loss gradient u."""
    cell = RNN(size["input_size"], size["hidden_size"], activation=activation, seed=seed, **schedule)
    rng = np.random.default_rng(seed + 1)
    cell.params["b"][:] = 0.5 * rng.standard_normal(size["hidden_size"])
    x = rng.standard_normal((size["batch"], size["steps"], size["input_size"]))
    h0 = rng.standard_normal((size["batch"], size["hidden_size"]))
    u = rng.standard_normal((size["batch"], size["hidden_size"]))
    return cell, x, h0, u


def away_from_kink(cell, x, h0):
    _, cache = cell.forward(x, h0=h0)
    return cell.activation != "relu" or np.min(np.abs(cache.a)) > KINK_MARGIN


def plain_forward(cell, x, h0, inject=None, step_matrices=None):
    """h(0..T-1) of every sequence, (B, T, H), written as plainly as possible.

    inject : (t, delta) adds delta (B, H) to h(t) right after it is computed.
    step_matrices : list of T matrices to use instead of W_{k(t)} at each step.
    """
    p, K, S = cell.params, cell.n_matrices, cell.skip
    act = (lambda a: np.maximum(a, 0)) if cell.activation == "relu" else np.tanh
    B, T, _ = x.shape
    out = np.zeros((B, T, cell.hidden_size))
    for n in range(B):
        hist = {-1: h0[n]}
        for t in range(T):
            W = p[f"W{t % K + 1}"] if step_matrices is None else step_matrices[t]
            h = act(W @ hist[t - 1] + p["Wx"] @ x[n, t] + p["b"])
            if S >= 2 and (t + 1) % S == 0:
                h = h + hist[t - S]
            if inject is not None and inject[0] == t:
                h = h + inject[1][n]
            hist[t] = out[n, t] = h
    return out


def fd_hidden_grad(cell, x, h0, u, t):
    """Centred differences of L = sum(u * h(T-1)) with respect to a perturbation of h(t)."""
    grad = np.zeros_like(h0)
    for idx in np.ndindex(*h0.shape):
        e = np.zeros_like(h0)
        e[idx] = EPS
        plus = np.sum(u * plain_forward(cell, x, h0, inject=(t, e))[:, -1])
        minus = np.sum(u * plain_forward(cell, x, h0, inject=(t, -e))[:, -1])
        grad[idx] = (plus - minus) / (2 * EPS)
    return grad


# ------------------------------------------------------------------ gradient by lag
@given(schedule=schedules, size=small, seed=seeds, activation=st.sampled_from(["relu", "tanh"]))
def test_hidden_grads_match_finite_differences(schedule, size, seed, activation):
    cell, x, h0, u = make_case(schedule, size, seed, activation)
    assume(away_from_kink(cell, x, h0))
    T = size["steps"]
    got = dg.hidden_grads_by_lag(cell, x, dg.last_step_dhs(u, T), h0)
    assert got["lags"].tolist() == list(range(T)) and "c" not in got
    fd = np.stack([fd_hidden_grad(cell, x, h0, u, T - 1 - lag) for lag in range(T)])
    assert relative_error(got["h"], fd) < 1e-7


@given(schedule=schedules, size=small, seed=seeds)
def test_hidden_grads_with_a_loss_at_every_step_agree_with_the_path_recursion(schedule, size, seed):
    """A loss on every h(t): the direct part adds to what comes back through later steps."""
    cell, x, h0, _ = make_case(schedule, size, seed)
    dhs = np.random.default_rng(seed).standard_normal((size["batch"], size["steps"], size["hidden_size"]))
    got = dg.hidden_grads_by_lag(cell, x, dhs, h0)["h"]
    parts = dg.path_decomposition_by_lag(cell, x, dhs, h0)
    assert relative_error(got, parts["relu"] + parts["skip"]) < 1e-12


def test_chosen_lags_equal_the_rows_of_all_lags():
    cell, x, h0, u = make_case({"n_matrices": 2, "skip": 3}, {"batch": 2, "steps": 12, "input_size": 3,
                                                            "hidden_size": 4}, seed=5)
    dhs = dg.last_step_dhs(u, 12)
    every = dg.hidden_grads_by_lag(cell, x, dhs, h0)["h"]
    some = dg.hidden_grads_by_lag(cell, x, dhs, h0, lags=[11, 0, 4])
    np.testing.assert_array_equal(some["h"], every[[11, 0, 4]])
    lags, norms = dg.grad_norm_by_lag(cell, x, dhs, h0, lags=[0, 4])
    np.testing.assert_allclose(norms, np.linalg.norm(every[[0, 4]].reshape(2, -1), axis=1), rtol=1e-14)
    assert lags.tolist() == [0, 4]


# ---------------------------------------------------------------------- Jacobians
@given(schedule=schedules, size=small, seed=seeds, activation=st.sampled_from(["relu", "tanh"]))
def test_jacobians_match_finite_differences_and_the_backward(schedule, size, seed, activation):
    cell, x, h0, u = make_case(schedule, size, seed, activation)
    assume(away_from_kink(cell, x, h0))
    B, T, H = size["batch"], size["steps"], size["hidden_size"]
    M = dg.jacobians_by_lag(cell, x, h0)
    assert M.shape == (T, B, H, H)
    fd = np.zeros((T, B, H, H))                # fd[lag, b, :, j] = dh(T-1)/dh_j(T-1-lag), sequence b
    for lag, j in np.ndindex(T, H):
        e = np.zeros((B, H))
        e[:, j] = EPS
        fd[lag, :, :, j] = (plain_forward(cell, x, h0, inject=(T - 1 - lag, e))[:, -1]
                            - plain_forward(cell, x, h0, inject=(T - 1 - lag, -e))[:, -1]) / (2 * EPS)
    assert relative_error(M, fd) < 1e-7
    backward = dg.hidden_grads_by_lag(cell, x, dg.last_step_dhs(u, T), h0)["h"]
    assert relative_error(np.einsum("lbij,bi->lbj", M, u), backward) < 1e-12


def test_step_jacobians_are_diag_act_prime_times_the_matrix_of_the_step():
    cell, x, h0, _ = make_case({"n_matrices": 3, "skip": 0}, {"batch": 2, "steps": 5, "input_size": 2,
                                                            "hidden_size": 3}, seed=2)
    _, cache = cell.forward(x, h0)
    J = dg.step_jacobians(cell, cache)
    for t in range(5):
        for b in range(2):
            expected = np.diag((cache.a[t, b] > 0).astype(float)) @ cell.params[f"W{t % 3 + 1}"]
            np.testing.assert_array_equal(J[t, b], expected)


def test_jacobian_norms_against_svd():
    M = np.random.default_rng(0).standard_normal((4, 2, 3, 3))
    norms = dg.jacobian_norms(M)
    np.testing.assert_allclose(norms["spectral"], np.linalg.svd(M, compute_uv=False)[..., 0], rtol=1e-12)
    np.testing.assert_allclose(norms["frobenius"], np.sqrt(np.sum(M ** 2, axis=(-2, -1))), rtol=1e-12)


def test_pascanu_bound_holds_without_skip_and_fails_to_bind_with_skip():
    """||dh(T-1)/dh(t)||_2 <= prod sigma_max(W_k(u)) for A and B; C keeps a norm of order 1."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1, 40, 3))
    for name, K, S in (("A", 1, 0), ("B", 2, 0)):
        cell = RNN(3, 16, n_matrices=K, skip=S, seed=1, scale=0.5)
        sigma = dg.spectral_norms(cell)
        spectral = dg.jacobian_norms(dg.jacobians_by_lag(cell, x))["spectral"][:, 0]
        bound = np.cumprod([1.0] + [sigma[f"W{(39 - lag) % K + 1}"] for lag in range(39)])
        assert np.all(spectral <= bound * (1 + 1e-12)), name
        assert spectral[-1] < 1e-6, name            # sigma_max < 1: vanished
    cell = RNN(3, 16, skip=2, seed=1, scale=0.5)
    spectral = dg.jacobian_norms(dg.jacobians_by_lag(cell, x))["spectral"][:, 0]
    assert spectral[-1] > 0.5                       # the identity path does not vanish


# ------------------------------------------------------------------ path decomposition
@given(schedule=schedules, size=small, seed=seeds, activation=st.sampled_from(["relu", "tanh"]))
def test_relu_and_skip_paths_add_up_to_the_backward(schedule, size, seed, activation):
    cell, x, h0, u = make_case(schedule, size, seed, activation)
    T = size["steps"]
    dhs = dg.last_step_dhs(u, T)
    parts = dg.path_decomposition_by_lag(cell, x, dhs, h0)
    total = dg.hidden_grads_by_lag(cell, x, dhs, h0)["h"]
    assert relative_error(parts["relu"] + parts["skip"], total) < 1e-12
    has_skip_edge = cell.skip >= 2 and any((t + 1) % cell.skip == 0 for t in range(T))
    if not has_skip_edge:
        assert np.all(parts["skip"] == 0)


@given(schedule=schedules, size=small, seed=seeds)
def test_relu_path_is_the_plain_product_of_step_jacobians(schedule, size, seed):
    cell, x, h0, u = make_case(schedule, size, seed)
    T = size["steps"]
    parts = dg.path_decomposition_by_lag(cell, x, dg.last_step_dhs(u, T), h0)
    _, cache = cell.forward(x, h0)
    J = dg.step_jacobians(cell, cache)
    for lag in range(T):
        g = u.copy()
        for t in range(T - 1, T - 1 - lag, -1):     # u^T J(T-1) J(T-2) ... J(T-lag)
            g = np.einsum("bi,bij->bj", g, J[t])
        assert relative_error(parts["relu"][lag], g) < 1e-12


def test_skip_path_of_version_c_with_a_dead_relu_is_the_identity_chain():
    """With W = 0, Wx = 0, b = -1 only skip edges remain: odd steps get u unchanged, even steps 0."""
    cell = RNN(2, 3, skip=2, seed=0)
    for name in cell.params:
        cell.params[name][...] = 0.0
    cell.params["b"][:] = -1.0
    u = np.array([[1.0, -2.0, 3.0]])
    parts = dg.path_decomposition_by_lag(cell, np.ones((1, 10, 2)), dg.last_step_dhs(u, 10))
    for lag in range(10):
        np.testing.assert_array_equal(parts["skip"][lag], u if lag % 2 == 0 and lag > 0 else 0.0)
        np.testing.assert_array_equal(parts["relu"][lag], u if lag == 0 else 0.0)


# ---------------------------------------------------------------- per-matrix accounting
@given(schedule=schedules, size=small, seed=seeds)
def test_step_contributions_sum_to_the_backward_and_match_finite_differences(schedule, size, seed):
    cell, x, h0, u = make_case(schedule, size, seed)
    assume(away_from_kink(cell, x, h0))
    T, H = size["steps"], size["hidden_size"]
    dhs = dg.last_step_dhs(u, T)
    C, k = dg.weight_grad_contributions(cell, x, dhs, h0)
    assert C.shape == (T, H, H) and k.tolist() == [t % cell.n_matrices + 1 for t in range(T)]
    _, cache = cell.forward(x, h0)
    _, grads = cell.backward(dhs, cache)
    for j in range(1, cell.n_matrices + 1):
        assert relative_error(C[k == j].sum(axis=0), grads[f"W{j}"]) < 1e-12
    mats = [cell.params[f"W{s % cell.n_matrices + 1}"].copy() for s in range(T)]
    fd = np.zeros((T, H, H))                        # perturb the matrix of step t alone

    def loss(t, delta):
        mats_t = list(mats)
        mats_t[t] = mats[t] + delta
        return np.sum(u * plain_forward(cell, x, h0, step_matrices=mats_t)[:, -1])
    for t, i, j in np.ndindex(T, H, H):
        e = np.zeros((H, H))
        e[i, j] = EPS
        fd[t, i, j] = (loss(t, e) - loss(t, -e)) / (2 * EPS)
    assert relative_error(C, fd) < 1e-7


# ------------------------------------------------------------------------ spectral view
def test_spectral_norms_of_each_matrix_and_of_the_period_product():
    cell = RNN(2, 6, n_matrices=3, seed=4)
    sigma = dg.spectral_norms(cell)
    W1, W2, W3 = (cell.params[f"W{k}"] for k in (1, 2, 3))
    for k, W in enumerate((W1, W2, W3), start=1):
        assert sigma[f"W{k}"] == pytest.approx(np.linalg.svd(W, compute_uv=False)[0], rel=1e-12)
    assert sigma["product"] == pytest.approx(np.linalg.svd(W3 @ W2 @ W1, compute_uv=False)[0], rel=1e-12)
    assert sigma["per_step"] == pytest.approx(sigma["product"] ** (1 / 3), rel=1e-12)
    identity = dg.spectral_norms(RNN(2, 5, n_matrices=2, init="identity", scale=0.7))
    assert identity == pytest.approx({"W1": 0.7, "W2": 0.7, "product": 0.49, "per_step": 0.7}, rel=1e-12)


# ------------------------------------------------------------------------------- LSTM
@pytest.mark.parametrize("cell", ["lstm", "gru"])
@pytest.mark.parametrize("n_matrices, skip", [(1, 0), (2, 2), (3, 3)])
def test_gated_hidden_and_cell_grads_match_finite_differences_of_the_forward(cell, n_matrices, skip):
    """hidden_grads_by_lag takes any layer with the richer protocol: the LSTM (with its cell path
    dc) and the GRU."""
    B, T, D, H = 2, 7, 3, 4
    layer = CELLS[cell](D, H, n_matrices=n_matrices, skip=skip, seed=3)
    rng = np.random.default_rng(3)
    x, u = rng.standard_normal((B, T, D)), rng.standard_normal((B, H))
    got = dg.hidden_grads_by_lag(layer, x, dg.last_step_dhs(u, T))
    fields = ("h", "c") if cell == "lstm" else ("h",)
    assert set(got) == {"lags", *fields}
    assert cell != "lstm" or np.all(got["c"][0] == 0)
    state = layer.forward(x[:, :3])[1].state         # state after step t = 2, i.e. lag T-1-2 = 4

    def loss(field, delta):
        moved = dict(vars(state), history=state.history.copy())
        if cell == "lstm":
            moved["c"] = state.c.copy()
        (moved["history"][-1] if field == "h" else moved["c"])[...] += delta
        return np.sum(u * layer.forward(x[:, 3:], state=type(state)(**moved))[0][:, -1])
    for field in fields:
        fd = np.zeros((B, H))
        for idx in np.ndindex(B, H):
            e = np.zeros((B, H))
            e[idx] = EPS
            fd[idx] = (loss(field, e) - loss(field, -e)) / (2 * EPS)
        assert relative_error(got[field][4], fd) < 1e-7, field


@given(schedule=schedules, size=small, seed=seeds)
def test_input_grads_by_lag_match_finite_differences(schedule, size, seed):
    cell, x, h0, u = make_case(schedule, size, seed)
    assume(away_from_kink(cell, x, h0))
    T = size["steps"]
    got = dg.input_grads_by_lag(cell, x, dg.last_step_dhs(u, T), h0)
    fd = np.zeros_like(x)
    for idx in np.ndindex(*x.shape):
        e = np.zeros_like(x)
        e[idx] = EPS
        fd[idx] = (np.sum(u * plain_forward(cell, x + e, h0)[:, -1])
                   - np.sum(u * plain_forward(cell, x - e, h0)[:, -1])) / (2 * EPS)
    assert relative_error(got["x"], fd[:, ::-1].transpose(1, 0, 2)) < 1e-7
    lags, norms = dg.grad_norm_by_lag(cell, x, dg.last_step_dhs(u, T), h0, wrt="x")
    np.testing.assert_allclose(norms, np.linalg.norm(got["x"].reshape(T, -1), axis=1), rtol=1e-12)


def test_jacobian_diagnostics_refuse_an_lstm():
    from numrnn.nn.lstm import LSTM
    cell = LSTM(2, 3, seed=0)
    x = np.zeros((1, 4, 2))
    with pytest.raises(TypeError, match="layer must be a numrnn.nn.rnn.RNN"):
        dg.jacobians_by_lag(cell, x)
    with pytest.raises(TypeError, match="layer"):
        dg.spectral_norms(cell)


# -------------------------------------------------------------------------- bad input
@pytest.fixture
def case():
    cell, x, h0, u = make_case({"n_matrices": 2, "skip": 2}, {"batch": 2, "steps": 6, "input_size": 3,
                                                            "hidden_size": 4}, seed=0)
    return cell, x, h0, dg.last_step_dhs(u, 6)


@pytest.mark.parametrize("lags, message", [([6], r"lags must lie in \[0, 5\]"), ([-1], "lags must lie"),
                                           ([], "non-empty"), ([0.5], "integers"), ([[0]], "1-d")])
def test_bad_lags(case, lags, message):
    cell, x, h0, dhs = case
    with pytest.raises(ValueError, match=message):
        dg.hidden_grads_by_lag(cell, x, dhs, h0, lags=lags)


def test_bad_dhs_and_x(case):
    cell, x, h0, dhs = case
    with pytest.raises(ValueError, match="dhs has shape"):
        dg.hidden_grads_by_lag(cell, x, dhs[:, 1:], h0)
    with pytest.raises(ValueError, match="dhs has shape"):
        dg.path_decomposition_by_lag(cell, x, dhs[:1], h0)
    bad = dhs.copy()
    bad[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="dhs contains NaN"):
        dg.hidden_grads_by_lag(cell, x, bad, h0)
    with pytest.raises(ValueError, match="x must have 3 dimensions"):
        dg.hidden_grads_by_lag(cell, x[0], dhs, h0)
    with pytest.raises(ValueError, match="x has shape"):
        dg.jacobians_by_lag(cell, x[..., :2], h0)
    with pytest.raises(ValueError, match="dlast must have 2 dimensions"):
        dg.last_step_dhs(dhs, 6)
    with pytest.raises(ValueError, match="steps must be >= 1"):
        dg.last_step_dhs(dhs[:, 0], 0)


def test_bad_jacobian_array():
    with pytest.raises(ValueError, match="square"):
        dg.jacobian_norms(np.zeros((3, 2, 4)))
    with pytest.raises(ValueError, match="M contains NaN"):
        dg.jacobian_norms(np.full((2, 2), np.nan))
    with pytest.raises(TypeError, match="M must be a numpy array"):
        dg.jacobian_norms([[1.0]])
