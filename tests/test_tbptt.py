"""Truncated BPTT: chunked forward is exact, the truncated gradient is the gradient of the truncated
objective, k1/k2 mean what Williams & Peng say, and bad windows or carried states are refused."""
import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from numrnn.nn import CELLS as REGISTRY
from numrnn.nn.gradcheck import check_gradients
from numrnn.training.model import SequenceModel
from numrnn.nn.rnn import RNN, RNNState
from numrnn.analysis.truncation import input_grad_norm_by_lag, plot_grad_norm_truncated
from numrnn.training.tbptt import (Window, check_state, state_after, truncated_gradient, truncated_steps,
                                   window_loss_and_grads, windows)

from strategies import schedules, seeds

CELLS = sorted(REGISTRY)                         # rnn, lstm, gru: every cell of the registry


def _layer(cell, D, H, seed, **schedule):
    return REGISTRY[cell](D, H, seed=seed, **schedule)


def _model(cell, seed, vocab=5, D=3, H=4, out=4, **kw):
    return SequenceModel(D, H, out, cell=cell, readout="all", loss="ce", vocab_size=vocab,
                         seed=seed, **kw)


def _tokens(seed, B, T, vocab=5, out=4):
    rng = np.random.default_rng(seed)
    return rng.integers(0, vocab, (B, T)), rng.integers(0, out, (B, T))


# ------------------------------------------------- the state between windows (contract: test_cells.py)
@pytest.mark.parametrize("cell", CELLS)
def test_state_after_reads_the_caches_state_at(cell):
    """Chunks, ``state_at(n)`` and the carried history are the cell contract (tests/test_cells.py);
    here only that tbptt's ``state_after`` is the cache's ``state_at``."""
    layer = _layer(cell, 2, 3, 0, n_matrices=2, skip=3)
    _, cache = layer.forward(np.random.default_rng(0).standard_normal((2, 7, 2)))
    for n in range(8):
        got, want = state_after(cache, n), cache.state_at(n)
        assert type(got) is type(want) and got.step0 == want.step0 == n
        np.testing.assert_array_equal(got.history, want.history)


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("k1,k2", [(1, None), (3, None), (4, 7), (2, 20), (13, None)])
def test_windows_of_truncated_bptt_predict_as_the_whole_stream(cell, k1, k2):
    """The forward of every window, started from the carried state, gives the whole-stream outputs.

    The hidden states are bit-equal (tests above); the readout is one matrix product over the
    window, whose rounding may depend on the window's shape, hence the tolerance of a few ulps."""
    model = _model(cell, 0, n_matrices=2, skip=3)
    x, y = _tokens(1, 2, 13)
    whole = model.predict(x)
    for w, _, _, info in truncated_steps(model, x, y, k1, k2):
        np.testing.assert_allclose(info["pred"], whole[:, w.start:w.end], rtol=1e-13, atol=1e-15)


def test_carrying_only_h_of_t_minus_1_breaks_the_skip():
    """The check bites: with S = 3, a state holding only h(t-1) (older slots zeroed) changes the
    first skip step after the boundary, so the whole history must be carried."""
    layer = RNN(2, 3, skip=3, seed=0)
    x = np.random.default_rng(0).standard_normal((2, 8, 2))
    whole, _ = layer.forward(x)
    _, cache = layer.forward(x[:, :4])
    history = cache.state.history.copy()
    history[:-1] = 0
    rest, _ = layer.forward(x[:, 4:], state=RNNState(history, cache.state.step0))
    assert not np.allclose(rest, whole[:, 4:])


# ------------------------------------------------------------------------- the gradient
@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("version", ["A", "C", "D"])
def test_a_shorter_window_cuts_gradient(cell, version):
    """The check bites: with k < T the truncated gradient differs from full BPTT (the loss does not)."""
    model = _model(cell, 3, version=version)
    x, y = _tokens(4, 3, 9)
    loss, full, _ = model.loss_and_grads(x, y)
    t_loss, trunc = truncated_gradient(model, x, y, 3)
    assert t_loss == pytest.approx(loss, rel=1e-13)
    assert max(np.abs(trunc[k] - full[k]).max() for k in full) > 1e-4


def _window_objective(model, x, y, state, n_context):
    return lambda: window_loss_and_grads(model, x, y, state, n_context)[0]


@pytest.mark.parametrize("cell", CELLS)
@settings(max_examples=15)
@given(schedule=schedules, seed=seeds, before=st.integers(1, 7), length=st.integers(1, 6),
       data=st.data())
def test_truncated_gradient_is_the_gradient_with_the_entering_state_held_constant(
        cell, schedule, seed, before, length, data):
    """Finite differences of the window's loss, the carried state fixed, in float64, bound 1e-7.

    Mean squared error on float inputs, so that no gradient vanishes in a saturated softmax (the
    cross-entropy path is the same code and is checked in tests/test_model.py); for the RNN, biases
    around 0.5 keep units alive, so no W_k gradient is ~0 and lost in the rounding of the
    difference quotients."""
    rng = np.random.default_rng(seed)
    model = SequenceModel(2, 3, 2, cell=cell, readout="all", loss="mse", seed=seed, **schedule)
    if cell == "rnn":
        model.layer.params["b"][:] = 0.5 + 0.5 * rng.standard_normal(3)
    x, y = rng.standard_normal((2, before + length, 2)), rng.standard_normal((2, before + length, 2))
    _, cache = model.forward(x[:, :before])
    state = cache["layer"].state                 # computed once, then a constant
    n_context = data.draw(st.integers(0, length - 1))
    xw, yw = x[:, before:], y[:, before:]
    if cell == "rnn":                             # keep ReLU pre-activations off the kink
        _, wcache = model.forward(xw, state=state)
        assume(np.min(np.abs(wcache["layer"].a)) > 1e-3)
    loss, grads, _ = window_loss_and_grads(model, xw, yw, state, n_context)
    report = check_gradients(_window_objective(model, xw, yw, state, n_context), model.params, grads,
                             eps=1e-5, loss_scale=loss)   # mean of squares: its terms sum to loss
    # (the round-off floor: a W_k gradient of ~5e-6, reached through one relu path, was off by 8e-12)
    assert report.passed(1e-7), str(report)


def test_the_truncated_gradient_is_not_the_gradient_through_the_boundary():
    """The check bites: if the prefix is recomputed under the perturbation (no truncation), finite
    differences no longer match the truncated gradient."""
    model = _model("rnn", 1, H=3, skip=2, activation="tanh")
    x, y = _tokens(1, 2, 8)

    def untruncated():
        _, cache = model.forward(x[:, :4])
        return window_loss_and_grads(model, x[:, 4:], y[:, 4:], cache["layer"].state)[0]

    state = model.forward(x[:, :4])[1]["layer"].state
    _, grads, _ = window_loss_and_grads(model, x[:, 4:], y[:, 4:], state)
    assert not check_gradients(untruncated, model.params, grads).passed(1e-3)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")   # the overflow is the point
def test_an_overflowing_window_returns_its_loss_and_nan_gradients():
    model = _model("rnn", 0)
    model.layer.params["W1"][...] = 1e200
    x, y = _tokens(0, 2, 6)
    loss, grads, _ = window_loss_and_grads(model, x, y)
    assert not np.isfinite(loss)
    assert set(grads) == set(model.params) and all(np.all(np.isnan(g)) for g in grads.values())


# ---------------------------------------------------------------------- k1 / k2 semantics
def test_windows_update_every_k1_and_reach_back_k2():
    assert windows(10, 3, 5) == [Window(0, 0, 3), Window(1, 3, 6), Window(4, 6, 9), Window(5, 9, 10)]
    assert windows(9, 3) == [Window(0, 0, 3), Window(3, 3, 6), Window(6, 6, 9)]    # chunks
    assert windows(7, 3) == [Window(0, 0, 3), Window(3, 3, 6), Window(4, 6, 7)]    # last: k2 back
    assert windows(4, 10) == [Window(0, 0, 4)]


@given(T=st.integers(1, 40), k1=st.integers(1, 12), extra=st.integers(0, 12))
def test_windows_partition_the_losses(T, k1, extra):
    wins = windows(T, k1, k1 + extra)
    assert [w.first_loss for w in wins] == list(range(0, T, k1))
    assert all(w.end - w.first_loss == min(k1, T - w.first_loss) for w in wins)
    assert all(w.start == max(0, w.end - k1 - extra) for w in wins)


@pytest.mark.parametrize("k1,k2", [(3, 3), (3, 5), (2, 7)])
def test_each_update_backpropagates_exactly_to_its_window_start(k1, k2):
    """One token per position: row v of dE is the gradient reaching position v. It is non-zero
    exactly for positions in [start, end) of the window (context steps included), zero elsewhere."""
    T = 12
    model = SequenceModel(3, 4, 4, readout="all", loss="ce", vocab_size=T, activation="tanh", seed=0)
    x, y = np.arange(T)[None], np.random.default_rng(0).integers(0, 4, (1, T))
    count = 0
    for w, _, grads, _ in truncated_steps(model, x, y, k1, k2):
        reached = np.abs(grads["embed.E"]).sum(axis=1) > 0
        assert list(np.flatnonzero(reached)) == list(range(w.start, w.end)), w
        count += 1
    assert count == -(-T // k1)


def test_losses_before_first_loss_do_not_count():
    """Changing the labels of context steps changes nothing; changing a counted label does."""
    model = _model("rnn", 0)
    x, y = _tokens(0, 2, 6)
    loss, _, _ = window_loss_and_grads(model, x, y, n_context=3)
    y2 = y.copy()
    y2[:, :3] = (y2[:, :3] + 1) % 4
    assert window_loss_and_grads(model, x, y2, n_context=3)[0] == loss
    y2[:, 3] = (y2[:, 3] + 1) % 4
    assert window_loss_and_grads(model, x, y2, n_context=3)[0] != loss


# ------------------------------------------------------------------------------ bad input
@pytest.mark.parametrize("k1,k2,match", [(0, None, "k1"), (-2, None, "k1"), (5, 3, "k2 must be >= k1"),
                                         (2.5, None, "k1"), (3, 0, "k2")])
def test_bad_windows_are_refused(k1, k2, match):
    with pytest.raises((ValueError, TypeError), match=match):
        windows(10, k1, k2)
    model = _model("rnn", 0)
    x, y = _tokens(0, 2, 6)
    with pytest.raises((ValueError, TypeError), match=match):
        next(truncated_steps(model, x, y, k1, k2))


@pytest.mark.parametrize("cell", CELLS)
def test_a_state_from_a_model_with_another_skip_is_refused_with_the_reason(cell):
    model = _model(cell, 0, skip=2)
    other = _model(cell, 0, skip=0)
    x, y = _tokens(0, 2, 6)
    state = other.forward(x)[1]["layer"].state
    with pytest.raises(ValueError, match=r"state.history has shape \(1, 2, 4\).*needs \(2, 2, 4\).*max\(1, S\)"):
        window_loss_and_grads(model, x, y, state)


@pytest.mark.parametrize("history_shape,match", [((1, 2, 5), "hidden size"), ((1, 3, 4), "batch size"),
                                                 ((1, 4), "state.history")])
def test_a_state_of_the_wrong_shape_is_refused(history_shape, match):
    model = _model("rnn", 0)
    x, y = _tokens(0, 2, 6)
    with pytest.raises(ValueError, match=match):
        window_loss_and_grads(model, x, y, RNNState(np.zeros(history_shape), 0))


def test_a_state_of_the_other_family_is_refused():
    from numrnn.nn.lstm import LSTMState
    x, y = _tokens(0, 2, 6)
    rnn, lstm = _model("rnn", 0), _model("lstm", 0)
    with pytest.raises(TypeError, match="state must be an RNNState.*got LSTMState"):
        window_loss_and_grads(rnn, x, y, LSTMState(np.zeros((1, 2, 4)), np.zeros((2, 4)), 0))
    with pytest.raises(TypeError, match="state must be an LSTMState.*got RNNState"):
        window_loss_and_grads(lstm, x, y, RNNState(np.zeros((1, 2, 4)), 0))
    with pytest.raises(ValueError, match="state.c"):
        window_loss_and_grads(lstm, x, y, LSTMState(np.zeros((1, 2, 4)), np.zeros((2, 5)), 0))


def test_bad_state_values_and_window_arguments_are_refused():
    model = _model("rnn", 0)
    x, y = _tokens(0, 2, 6)
    with pytest.raises(ValueError, match="state.history contains NaN"):
        window_loss_and_grads(model, x, y, RNNState(np.full((1, 2, 4), np.nan), 0))
    with pytest.raises(ValueError, match="state.step0"):
        window_loss_and_grads(model, x, y, RNNState(np.zeros((1, 2, 4)), -1))
    with pytest.raises(ValueError, match="n_context"):
        window_loss_and_grads(model, x, y, n_context=6)
    with pytest.raises(ValueError, match='readout="all"'):
        window_loss_and_grads(SequenceModel(3, 4, 4, loss="ce", vocab_size=5), x, y[:, 0])
    with pytest.raises(ValueError, match="n must lie"):
        state_after(model.forward(x)[1]["layer"], 7)
    with pytest.raises(TypeError, match="cache"):
        state_after({}, 1)
    assert check_state(model.layer, None, 2) is None


# ------------------------------------------------------------------------------ diagnostics
@pytest.mark.parametrize("version", ["A", "B", "C", "D"])
def test_truncation_keeps_lags_inside_the_window_and_cuts_the_rest(version):
    layer = RNN.from_version(version, 3, 8, activation="tanh", seed=0)
    rng = np.random.default_rng(0)
    x, dlast = rng.standard_normal((4, 30, 3)), rng.standard_normal((4, 8))
    full = input_grad_norm_by_lag(layer, x, dlast)
    trunc = input_grad_norm_by_lag(layer, x, dlast, window=10)
    np.testing.assert_allclose(trunc[:10], full[:10], rtol=1e-12)
    assert np.all(trunc[10:] == 0) and np.all(full[10:] > 0)


def test_the_figure_is_written(tmp_path):
    path = tmp_path / "fig" / "grad.png"
    study = plot_grad_norm_truncated(path, window=5, steps=12, seeds=[0], hidden_size=4, batch_size=2)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert set(study) == {"A", "B", "C", "D"}
    assert all(0 <= v["cut_fraction"] <= 1 for v in study.values())
    assert list(path.parent.iterdir()) == [path]         # no temporary file left behind
