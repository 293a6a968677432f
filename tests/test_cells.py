"""The cell contract, once for every cell of the registry numrnn.nn.CELLS (rnn, lstm, gru).

Each test states one promise of the layer protocol (numrnn.nn.protocol) and checks it on every cell:
finite differences of whole sequences from h0 and from a carried state at a step offset, the fast
chunked code against the plain reference BPTT (numrnn.nn.reference), chunked == whole, the state
after any step, an idempotent backward that changes nothing, float32 ~ float64, S = 0 == S = 1,
K = 1 is the plain cell, errors that name the argument, and the truncated-BPTT round trip. What is
particular to one cell (the mutation tests, the LSTM's cell path, the GRU's reset gate) stays in
test_rnn.py, test_lstm.py and test_gru.py. The last section runs a from-scratch cell
(tests/scratch_cell.py, minimal protocol only) through gradcheck and the diagnostics.
"""
import importlib
import os
from dataclasses import fields

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from numrnn.analysis import gradients, truncation
from numrnn.nn import CELLS
from numrnn.nn.gradcheck import check_gradients, gradcheck_layer, relative_error
from numrnn.nn.rnn import RNN
from numrnn.training.model import SequenceModel
from numrnn.training.optim import SGD
from numrnn.training.tbptt import truncated_gradient, window_loss_and_grads
from numrnn.training.trainer import Trainer

from scratch_cell import ScratchCell
from strategies import EPS_RELU, KINK_MARGIN, SATURATION, TOL, draw_inputs, loss_scale, settings_cases


def register_extra_cells(modules):
    """The hook for a cell that is not numrnn's: ``NUMRNN_TEST_EXTRA_CELLS="toy_cell"`` imports
    tests/toy_cell.py and registers its ``ENTRIES`` ({name: CellEntry}) for this run, so the whole
    contract below runs on it with no edit here (tests/test_toy_cell.py does this)."""
    for module in filter(None, modules.split(",")):
        for name, entry in importlib.import_module(module).ENTRIES.items():
            if name not in CELLS:
                CELLS.register(name, entry)


register_extra_cells(os.environ.get("NUMRNN_TEST_EXTRA_CELLS", ""))
NAMES = sorted(CELLS)
VERSIONS = ["A", "B", "C", "D", "special"]


# ------------------------------------------------------------------------------ helpers
def hints(name_or_layer):
    """The registry's test hints of a cell, by name or by a layer of its class."""
    if isinstance(name_or_layer, str):
        return CELLS.entry(name_or_layer).hints
    return CELLS.entry(next(n for n in CELLS if CELLS[n] is type(name_or_layer))).hints


def make(name, D, H, K=1, S=0, seed=0, **options):
    return CELLS[name](D, H, n_matrices=K, skip=S, seed=seed, **options)


def draw_options(name, data):
    """The cell's own options the registry asks to draw (the RNN's activation; none for the others)."""
    return {option: data.draw(st.sampled_from(values), label=option)
            for option, values in hints(name).draw.items()}


def live_units(layer, seed):
    """Biases drawn to keep units alive (ReLU: so no W_k gradient is ~0 and lost in round-off)."""
    spread = hints(layer).live_bias
    if spread:
        layer.params["b"][:] = np.random.default_rng(seed + 1).standard_normal(layer.params["b"].shape) * spread


def carried_names(layer):
    """The state's carried tensors other than the history (the LSTM's "c")."""
    return [f.name for f in fields(layer.state_class) if f.name not in ("history", "step0")]


def carried_state(layer, history, step0, seed):
    """A state of the layer's own kind: the history, the global index of step 0 and any other
    carried tensor (the LSTM's c), drawn with ``seed``."""
    rng = np.random.default_rng(seed)
    B, H = history.shape[1:]
    other = {name: rng.standard_normal((B, H)) for name in carried_names(layer)}
    return layer.state_class(history=history, step0=step0, **other)


def carried_arrays(state):
    """name -> array of a state ("history", and "c" for the LSTM); its dinit key is name + "0" but history."""
    return {f.name: getattr(state, f.name) for f in fields(state) if f.name != "step0"}


def dinit_key(name):
    return name if name == "history" else f"{name}0"


def first_start(layer, h0, seed):
    """forward's arguments to start from h0, with every other carried tensor drawn (the LSTM's c0)."""
    rng = np.random.default_rng(seed)
    return dict(h0=h0, **{f"{n}0": rng.standard_normal(h0.shape) for n in carried_names(layer)})


def start_kwargs(seed, B, H, carried, layer, step0=0):
    """forward's start arguments: a carried state at global step ``step0``, or h0 (and c0, ...)."""
    _, h0, _, history, _ = draw_inputs(seed + 7, B, 1, 1, H, layer.n_history)
    if carried:
        return {"state": carried_state(layer, history, step0, seed + 8)}
    return first_start(layer, h0, seed + 9)


def away_from_kink(layer, x, margin=KINK_MARGIN, **start):
    """Pre-activations clear of a kink (a difference quotient must not cross it) or, for a smooth
    activation, not saturated; cells whose registry entry names no pre-activations pass."""
    h = hints(layer)
    if h.pre_activations is None:
        return True
    a = h.pre_activations(layer.forward(x, **start)[1])
    if h.kink is not None and h.kink(layer):
        return np.min(np.abs(a)) > margin
    return np.max(np.abs(a)) < SATURATION


def eps_of(layer):
    return hints(layer).eps


def run_reference(layer, x, G, h0=None, state=None, **initial):
    """hs, dx, grads and dinit of the registry's reference for ``layer``'s cell and parameters."""
    name = next(n for n in CELLS if CELLS[n] is type(layer))
    return CELLS.entry(name).reference(layer, x, G, h0=h0, state=state, **initial)


def test_the_registry_holds_numrnns_three_cells_with_their_references():
    from numrnn import GRU, LSTM, reference
    assert {name: CELLS[name] for name in ("rnn", "lstm", "gru")} == {"rnn": RNN, "lstm": LSTM, "gru": GRU}
    assert CELLS.entry("lstm").reference_backward is reference.lstm_backward
    assert all(CELLS.entry(name).layer is CELLS[name] for name in CELLS)


# ------------------------------------------------------------------- finite differences
@pytest.mark.parametrize("name", NAMES)
@settings(max_examples=60)
@given(**settings_cases, step0=st.integers(0, 6), data=st.data())
def test_gradients_from_a_carried_state_match_finite_differences(name, K, S, T, B, D, H, init, seed,
                                                                 step0, data):
    """Every parameter, x, the carried history (the RNN's included) and the LSTM's carried c, from a
    state whose step count starts the schedule at global step ``step0``."""
    layer = make(name, D, H, K, S, seed, init=init, **draw_options(name, data))
    live_units(layer, seed)
    x, _, _, history, G = draw_inputs(seed, B, T, D, H, layer.n_history)
    state = carried_state(layer, history, step0, seed + 1)
    assume(away_from_kink(layer, x, state=state))

    def loss():
        return float(np.sum(G * layer.forward(x, state=state)[0]))

    hs, cache = layer.forward(x, state=state)
    dx, grads, dinit = layer.backward(G, cache, return_dinit=True)
    carried = carried_arrays(state)
    analytic = dict(grads, x=dx, **{k: dinit[dinit_key(k)] for k in carried})
    report = check_gradients(loss, dict(layer.params, x=x, **carried), analytic, eps=eps_of(layer),
                             loss_scale=loss_scale(G, hs))
    assert report.passed(TOL), str(report)
    np.testing.assert_array_equal(dinit["h0"], dinit["history"][-1])


@pytest.mark.parametrize("name", NAMES)
@settings(max_examples=60)
@given(**settings_cases, data=st.data())
def test_whole_sequence_gradients_from_h0_match_finite_differences(name, K, S, T, B, D, H, init, seed,
                                                                   data):
    """numrnn.gradcheck.gradcheck_layer: every parameter, x and h0."""
    layer = make(name, D, H, K, S, seed, init=init, **draw_options(name, data))
    live_units(layer, seed)
    x, h0, *_ = draw_inputs(seed, B, T, D, H)
    assume(away_from_kink(layer, x, h0=h0))
    report = gradcheck_layer(layer, x, h0, seed=seed, eps=eps_of(layer))
    assert set(report) == {*layer.params, "x", "h0"}
    assert report.passed(TOL), str(report)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("version", VERSIONS)
def test_gradcheck_layer_on_every_version(name, version):
    layer = CELLS[name].from_version(version, 2, 3, seed=1)
    live_units(layer, 1)
    x, h0, *_ = draw_inputs(1, 2, 9, 2, 3)
    assert away_from_kink(layer, x, h0=h0)
    report = gradcheck_layer(layer, x, h0, eps=eps_of(layer))
    assert set(report) == set(layer.params) | {"x", "h0"}
    assert report.passed(TOL), str(report)


@pytest.mark.parametrize("name", NAMES)
@settings(max_examples=30)
@given(K=st.integers(1, 4), S=st.integers(0, 5), seed=st.integers(0, 2**16))
def test_directional_check_agrees_on_larger_layers(name, K, S, seed):
    layer = make(name, 6, 40, K, S, seed)
    x, h0, *_ = draw_inputs(seed, 4, 20, 6, 40)
    assume(away_from_kink(layer, x, margin=1e-4, h0=h0))  # one unit direction moves a(t) ~1e-7
    # eps 1e-6 for every cell here: over 20 steps of a skip chain the gated cells' outputs grow and
    # curve, and the truncation error (~eps^2) of 1e-5 reached 2e-6 (GRU, K=2, S=2, seed 2)
    report = gradcheck_layer(layer, x, h0, seed=seed, eps=1e-6, directional=True)
    assert report.passed(TOL), str(report)


# ---------------------------------------------------------------------- fast == reference
@pytest.mark.parametrize("name", NAMES)
@settings(max_examples=40)
@given(**settings_cases, step0=st.integers(0, 6), carried=st.booleans(), data=st.data())
def test_fast_backward_equals_the_reference_bptt(name, K, S, T, B, D, H, init, seed, step0, carried,
                                                 data):
    """The chunked fast cell and the plain loop of numrnn.nn.reference: the same outputs, input,
    parameter and initial-state gradients, to 1e-12 relative, from h0 or a carried state."""
    layer = make(name, D, H, K, S, seed, init=init, **draw_options(name, data))
    x, _, _, _, G = draw_inputs(seed, B, T, D, H)
    start = start_kwargs(seed, B, H, carried, layer, step0)
    hs, cache = layer.forward(x, **start)
    dx, grads, dinit = layer.backward(G, cache, return_dinit=True)
    ref_hs, ref_dx, ref_grads, ref_dinit = run_reference(layer, x, G, **start)
    assert relative_error(hs, ref_hs) <= 1e-12
    assert relative_error(dx, ref_dx) <= 1e-12
    assert set(grads) == set(ref_grads)
    for k in grads:
        assert relative_error(grads[k], ref_grads[k]) <= 1e-12, k
    assert set(dinit) == set(ref_dinit)
    for k in dinit:
        assert relative_error(dinit[k], ref_dinit[k]) <= 1e-12, k


@pytest.mark.parametrize("name", NAMES)
def test_long_sequences_over_several_chunks_equal_the_reference(name):
    """T x B above the fast backward's chunk of 2048 rows: the gradient carried between chunks."""
    layer = CELLS[name].from_version("special", 3, 4, seed=2)
    x, h0, _, _, G = draw_inputs(2, 40, 130, 3, 4)
    hs, cache = layer.forward(x, h0=h0)
    dx, grads, dinit = layer.backward(G, cache, return_dinit=True)
    ref_hs, ref_dx, ref_grads, ref_dinit = run_reference(layer, x, G, h0=h0)
    for got, want in [(hs, ref_hs), (dx, ref_dx), *((grads[k], ref_grads[k]) for k in grads),
                      (dinit["history"], ref_dinit["history"])]:
        assert relative_error(got, want) <= 1e-12


# ------------------------------------------------------------------------- carried state
@pytest.mark.parametrize("name", NAMES)
@settings(max_examples=25)
@given(K=st.integers(1, 4), S=st.integers(0, 5), seed=st.integers(0, 2**16),
       chunks=st.lists(st.integers(1, 7), min_size=1, max_size=5))
def test_chunks_with_carried_state_equal_the_whole_sequence(name, K, S, seed, chunks):
    """Chunks of any length, also shorter than S, continue the schedule and the skips bit for bit."""
    layer = make(name, 2, 3, K, S, seed)
    x, h0, _, _, _ = draw_inputs(seed, 2, sum(chunks), 2, 3)
    first = first_start(layer, h0, seed)
    whole, cache = layer.forward(x, **first)
    parts, state, start = [], None, 0
    for n in chunks:
        hs, part_cache = layer.forward(x[:, start:start + n], **(first if state is None else {"state": state}))
        parts.append(hs)
        state, start = part_cache.state, start + n
    np.testing.assert_array_equal(np.concatenate(parts, axis=1), whole)
    for key, value in carried_arrays(state).items():
        np.testing.assert_array_equal(value, getattr(cache.state, key))
    assert state.step0 == cache.state.step0 == sum(chunks)


@pytest.mark.parametrize("name", NAMES)
@settings(max_examples=25)
@given(K=st.integers(1, 4), S=st.integers(0, 5), seed=st.integers(0, 2**16),
       T=st.integers(1, 12), data=st.data())
def test_state_at_n_is_the_state_after_running_n_steps(name, K, S, seed, T, data):
    layer = make(name, 2, 3, K, S, seed)
    x = np.random.default_rng(seed).standard_normal((2, T, 2))
    start = carried_state(layer, np.random.default_rng(seed + 1).standard_normal((layer.n_history, 2, 3)),
                          data.draw(st.integers(0, 6)), seed + 2)
    hs, cache = layer.forward(x, state=start)
    n = data.draw(st.integers(0, T))
    at_n = cache.state_at(n)
    want = start if n == 0 else layer.forward(x[:, :n], state=start)[1].state
    for key, value in carried_arrays(want).items():
        np.testing.assert_array_equal(getattr(at_n, key), value)
    assert at_n.step0 == want.step0 == start.step0 + n
    if n < T:
        np.testing.assert_array_equal(layer.forward(x[:, n:], state=at_n)[0], hs[:, n:])
    for key, value in carried_arrays(cache.state).items():
        np.testing.assert_array_equal(value, getattr(cache.state_at(T), key))


@pytest.mark.parametrize("name", NAMES)
def test_state_at_refuses_a_step_outside_the_chunk(name):
    _, cache = make(name, 2, 3).forward(np.zeros((1, 4, 2)))
    with pytest.raises(ValueError, match="n must lie in 0..4"):
        cache.state_at(5)
    with pytest.raises(ValueError, match="^n "):
        cache.state_at(-1)


# ------------------------------------------------------------------------- backward hygiene
@pytest.mark.parametrize("name", NAMES)
@settings(max_examples=20)
@given(**settings_cases, carried=st.booleans())
def test_backward_is_idempotent_and_does_not_mutate(name, K, S, T, B, D, H, init, seed, carried):
    layer = make(name, D, H, K, S, seed, init=init)
    x, _, _, _, G = draw_inputs(seed, B, T, D, H)
    start = start_kwargs(seed, B, H, carried, layer, step0=3)
    start_arrays = carried_arrays(start["state"]) if carried else start
    inputs = [x, G, *start_arrays.values(), *layer.params.values()]
    saved = [a.copy() for a in inputs]
    _, cache = layer.forward(x, **start)
    cache_saved = {k: v.copy() for k, v in vars(cache).items() if isinstance(v, np.ndarray)}
    first = layer.backward(G, cache, return_dinit=True)
    second = layer.backward(G, cache, return_dinit=True)
    np.testing.assert_array_equal(first[0], second[0])
    for k in layer.params:
        np.testing.assert_array_equal(first[1][k], second[1][k])
        assert first[1][k] is not second[1][k]
        assert not np.shares_memory(first[1][k], layer.params[k])
    assert set(first[2]) == set(second[2])
    for k in first[2]:
        np.testing.assert_array_equal(first[2][k], second[2][k])
    for a, b in zip(inputs, saved):
        np.testing.assert_array_equal(a, b)
    for k, v in cache_saved.items():
        np.testing.assert_array_equal(getattr(cache, k), v)


@pytest.mark.parametrize("name", NAMES)
def test_outputs_are_read_only_views(name):
    hs, _ = make(name, 2, 3).forward(np.ones((1, 4, 2)))
    with pytest.raises(ValueError):
        hs[0, 0, 0] = 1.0


# ---------------------------------------------------------------------------- float32
@pytest.mark.parametrize("name", NAMES)
@settings(max_examples=20)
@given(**settings_cases)
def test_float32_agrees_with_float64(name, K, S, T, B, D, H, init, seed):
    x, h0, *_ = draw_inputs(seed, B, T, D, H)
    hs64, _ = make(name, D, H, K, S, seed, init=init).forward(x, h0=h0)
    layer32 = make(name, D, H, K, S, seed, init=init, dtype=np.float32)
    hs32, cache = layer32.forward(x.astype(np.float32), h0=h0.astype(np.float32))
    assert hs32.dtype == np.float32
    assert relative_error(hs32, hs64) < 1e-4


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("version", VERSIONS)
def test_float32_long_sequences_agree_and_stay_float32(name, version):
    x, h0, *_ = draw_inputs(9, 3, 50, 4, 8)
    kwargs = hints(name).bounded  # options keeping the state bounded (relu C/D grow with T)
    hs64, _ = CELLS[name].from_version(version, 4, 8, seed=9, **kwargs).forward(x, h0=h0)
    layer32 = CELLS[name].from_version(version, 4, 8, seed=9, dtype=np.float32, **kwargs)
    hs32, cache = layer32.forward(x.astype(np.float32), h0=h0.astype(np.float32))
    assert all(p.dtype == np.float32 for p in layer32.params.values())
    assert all(v.dtype == np.float32 for v in vars(cache).values() if isinstance(v, np.ndarray))
    np.testing.assert_allclose(hs32, hs64, rtol=1e-4, atol=1e-5)
    dx, grads, dinit = layer32.backward(np.ones_like(hs32), cache, return_dinit=True)
    assert dx.dtype == np.float32 and all(g.dtype == np.float32 for g in grads.values())
    assert all(d.dtype == np.float32 for d in dinit.values())


# -------------------------------------------------------------------- the schedule's edges
@pytest.mark.parametrize("name", NAMES)
@settings(max_examples=20)
@given(K=st.integers(1, 4), B=st.integers(1, 3), T=st.integers(1, 12), D=st.integers(1, 4),
       H=st.integers(1, 5), seed=st.integers(0, 2**16))
def test_skip_0_and_1_mean_no_skip(name, K, B, T, D, H, seed):
    x, h0, _, _, G = draw_inputs(seed, B, T, D, H)
    runs = []
    for S in (0, 1):
        layer = make(name, D, H, K, S, seed)
        hs, cache = layer.forward(x, h0=h0)
        runs.append((hs, *layer.backward(G, cache, return_dinit=True)))
    (hs0, dx0, g0, d0), (hs1, dx1, g1, d1) = runs
    np.testing.assert_array_equal(hs0, hs1)
    np.testing.assert_array_equal(dx0, dx1)
    for k in g0:
        np.testing.assert_array_equal(g0[k], g1[k])
    for k in d0:
        np.testing.assert_array_equal(d0[k], d1[k])


@pytest.mark.parametrize("name", NAMES)
@settings(max_examples=20)
@given(S=st.integers(0, 5), B=st.integers(1, 3), T=st.integers(1, 12), D=st.integers(1, 4),
       H=st.integers(1, 5), seed=st.integers(0, 2**16))
def test_k2_with_equal_matrices_is_k1_and_k1_is_the_plain_cell(name, S, B, T, D, H, seed):
    """K = 1 is the plain cell (the reference with K = 1); K = 2 with W2 = W1 computes the same,
    and its two gradients sum to the one of K = 1."""
    plain = make(name, D, H, 1, S, seed)
    two = make(name, D, H, 2, S, seed)
    two.params.update({k: v.copy() for k, v in plain.params.items()}, W2=plain.params["W1"].copy())
    x, h0, _, _, G = draw_inputs(seed, B, T, D, H)
    hs, cache = plain.forward(x, h0=h0)
    hs2, cache2 = two.forward(x, h0=h0)
    np.testing.assert_array_equal(hs2, hs)
    assert relative_error(hs, run_reference(plain, x, G, h0=h0)[0]) <= 1e-12
    _, g1 = plain.backward(G, cache)
    _, g2 = two.backward(G, cache2)
    np.testing.assert_allclose(g2["W1"] + g2["W2"], g1["W1"], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", NAMES)
def test_each_matrix_gets_gradient_only_from_its_own_steps(name):
    layer = make(name, 3, 4, K=3, S=2, seed=1)
    live_units(layer, 1)
    x, h0, *_ = draw_inputs(1, 2, 7, 3, 4)
    hs, cache = layer.forward(x, h0=h0)
    for step in range(7):
        dhs = np.zeros_like(hs)
        dhs[:, step] = 1.0                  # a loss on h(step) reaches only steps 0..step
        _, grads = layer.backward(dhs, cache)
        used = {t % 3 + 1 for t in range(step + 1)}
        for k in range(1, 4):
            assert np.any(grads[f"W{k}"] != 0) == (k in used), (step, k)


# ---------------------------------------------------------------- construction and config
@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("version,expected", [("A", (1, 0)), ("b", (2, 0)), ("C", (1, 2)),
                                              ("d", (2, 2)), ("Special", (4, 4))])
def test_versions_by_name(name, version, expected):
    layer = CELLS[name].from_version(version, 3, 4, seed=0)
    assert (layer.n_matrices, layer.skip, layer.n_history) == (*expected, max(1, expected[1]))
    assert sorted(k for k in layer.params if k.startswith("W") and k != "Wx") == \
        [f"W{k + 1}" for k in range(expected[0])]


@pytest.mark.parametrize("name", NAMES)
def test_from_version_refuses_its_own_settings_and_says_what_to_write(name):
    cls = CELLS[name]
    with pytest.raises(ValueError, match=rf"sets n_matrices=2 and skip=2 .* use {cls.__name__}\(.*skip=3\)"):
        cls.from_version("D", 3, 4, skip=3)
    with pytest.raises(ValueError, match="n_matrices"):
        cls.from_version("A", 3, 4, n_matrices=2)


@pytest.mark.parametrize("name", NAMES)
def test_same_seed_same_bits_and_different_seed_different_weights(name):
    a, b, c = (make(name, 3, 5, K=2, seed=s) for s in (7, 7, 8))
    for k in a.params:
        np.testing.assert_array_equal(a.params[k], b.params[k])
    assert not np.array_equal(a.params["W1"], c.params["W1"])


@pytest.mark.parametrize("name", NAMES)
def test_config_rebuilds_the_layer_and_repr_names_it(name):
    layer = CELLS[name].from_version("D", 4, 6, init="orthogonal", scale=0.9, seed=13, dtype=np.float32)
    rebuilt = CELLS[name](**layer.config, seed=13)
    assert rebuilt.config == layer.config
    for k in layer.params:
        np.testing.assert_array_equal(layer.params[k], rebuilt.params[k])
    assert repr(layer).startswith(f"{type(layer).__name__}(input_size=4, hidden_size=6, n_matrices=2, skip=2")
    gates = CELLS[name].n_gates
    assert {k: v.shape for k, v in layer.params.items()} == {
        "W1": (6 * gates, 6), "W2": (6 * gates, 6), "Wx": (6 * gates, 4), "b": (6 * gates,)}


# ------------------------------------------------------------------------------ bad input
@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("kwargs,error,word", [
    (dict(n_matrices=0), ValueError, "^n_matrices "),
    (dict(skip=-1), ValueError, "^skip "),
    (dict(n_matrices=1.5), TypeError, "^n_matrices "),
    (dict(init="xavier"), ValueError, "^unknown init 'xavier'"),
    (dict(dtype=np.int32), TypeError, "^dtype "),
    (dict(seed="zero"), TypeError, "^seed "),
    (dict(scale=float("nan")), ValueError, "^scale "),
    (dict(scale=np.inf), ValueError, "^scale "),
    (dict(scale="big"), TypeError, "^scale "),
])
def test_bad_constructor_arguments_name_the_argument(name, kwargs, error, word):
    with pytest.raises(error, match=word):
        CELLS[name](3, 4, **kwargs)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("size", [0, -2])
def test_bad_sizes(name, size):
    with pytest.raises(ValueError, match="^hidden_size "):
        CELLS[name](3, size)
    with pytest.raises(ValueError, match="^input_size "):
        CELLS[name](size, 3)
    with pytest.raises(ValueError, match="^unknown version 'E'"):
        CELLS[name].from_version("E", 3, 4)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("x,error", [
    (np.ones((4, 3)), ValueError),
    (np.ones((2, 4, 5)), ValueError),
    (np.ones((2, 4, 3), dtype=int), TypeError),
    (np.full((2, 4, 3), np.nan), ValueError),
    (np.full((2, 4, 3), np.inf), ValueError),
    (np.ones((2, 0, 3)), ValueError),
    (np.ones((0, 4, 3)), ValueError),
    ([[[1.0, 2.0, 3.0]]], TypeError),
])
def test_bad_x_names_x(name, x, error):
    with pytest.raises(error, match="^x "):
        CELLS[name](3, 4, seed=0).forward(x)


@pytest.mark.parametrize("name", NAMES)
def test_bad_h0_state_dhs_and_cache_name_the_argument(name):
    layer = CELLS[name](3, 4, skip=2, seed=0)
    x = np.ones((2, 5, 3))
    with pytest.raises(ValueError, match="^h0 "):
        layer.forward(x, h0=np.ones((2, 5)))
    with pytest.raises(ValueError, match="^h0 "):
        layer.forward(x, h0=np.full((2, 4), np.nan))
    with pytest.raises(TypeError, match="^h0 "):
        layer.forward(x, h0=np.zeros((2, 4), dtype=np.int64))
    _, cache = layer.forward(x)
    state = cache.state
    with pytest.raises(ValueError, match="h0.* or state, not both"):
        layer.forward(x, h0=np.ones((2, 4)), state=state)
    with pytest.raises(TypeError, match=rf"^state must be an {type(state).__name__}"):
        layer.forward(x, state=(state.history, state.step0))
    with pytest.raises(ValueError, match=r"^state\.history has shape \(2, 2, 4\).*needs \(3, 2, 4\)"):
        CELLS[name](3, 4, skip=3, seed=0).forward(x, state=state)
    import dataclasses
    with pytest.raises(ValueError, match=r"^state\.step0 "):
        layer.forward(x, state=dataclasses.replace(state, step0=-1))
    with pytest.raises(ValueError, match=r"^state\.history contains NaN"):
        layer.forward(x, state=dataclasses.replace(state, history=np.full((2, 2, 4), np.nan)))
    with pytest.raises(ValueError, match="^dhs "):
        layer.backward(np.ones((2, 4, 4)), cache)
    with pytest.raises(ValueError, match="^dhs "):
        layer.backward(np.ones((2, 5)), cache)
    with pytest.raises(TypeError, match="^dhs "):
        layer.backward(np.ones((2, 5, 4), dtype=int), cache)
    with pytest.raises(ValueError, match="^dhs "):
        layer.backward(np.full((2, 5, 4), np.nan), cache)
    with pytest.raises(TypeError, match=rf"^cache must be the {type(cache).__name__}"):
        layer.backward(np.ones((2, 5, 4)), {"a": 1})


# --------------------------------------------------------------- the truncated-BPTT round trip
@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("version", ["A", "B", "C", "D"])
def test_a_window_as_long_as_the_sequence_is_full_bptt(name, version):
    """k2 >= T: every window of BPTT(k2; k1) reaches back to step 0, so the summed gradient is the
    full one, whatever k1 (that a shorter window cuts gradient: tests/test_tbptt.py)."""
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((3, 9, 2)), rng.standard_normal((3, 9, 1))
    model = SequenceModel(2, 3, 1, cell=name, version=version, readout="all", loss="mse", seed=3)
    loss, full, _ = model.loss_and_grads(x, y)
    for k1, k2 in [(9, None), (2, 9), (9, 30), (4, 12)]:
        one_loss, one = truncated_gradient(model, x, y, k1, k2)
        assert one_loss == pytest.approx(loss, rel=1e-13)
        for k in full:
            np.testing.assert_allclose(one[k], full[k], rtol=1e-11, atol=1e-14, err_msg=f"{k1, k2} {k}")


@pytest.mark.parametrize("name", NAMES)
def test_truncated_bptt_in_the_trainer(name):
    """Trainer(tbptt=T) trains exactly as plain BPTT (the GRU once failed with "cache must be an
    RNNCache or LSTMCache"); a shorter window makes one update per window."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((8, 12, 3))
    y = np.cumsum(x[..., :1], axis=1) / 4                  # a target at every step
    full, windowed = (SequenceModel(3, 5, 1, cell=name, version="D", readout="all", seed=1) for _ in "ab")
    Trainer(full, SGD(0.05), batch_size=4, seed=0, progress=False).fit(x, y, epochs=2)
    Trainer(windowed, SGD(0.05), batch_size=4, seed=0, progress=False, tbptt=12).fit(x, y, epochs=2)
    for k in full.params:
        np.testing.assert_allclose(windowed.params[k], full.params[k], rtol=1e-12, atol=1e-14, err_msg=k)
    before = {k: v.copy() for k, v in windowed.params.items()}
    trainer = Trainer(windowed, SGD(0.05), batch_size=4, seed=0, progress=False, tbptt=4)
    trainer.fit(x, y, epochs=1)
    assert trainer.step == 2 * 3                           # 2 batches x 3 windows of 4 steps
    assert any(not np.array_equal(before[k], windowed.params[k]) for k in before)


# ----------------------------------------------------------------- a from-scratch cell plugs in
def test_the_scratch_cell_computes_the_papers_recurrence():
    """The student's plain loop and numrnn's RNN with the same parameters agree (so the checks below
    test a correct cell, and the checks of numrnn's RNN test the same recurrence)."""
    cell = ScratchCell(3, 4, n_matrices=2, skip=3, seed=0)
    rnn = RNN(3, 4, n_matrices=2, skip=3)
    rnn.params = {k: v.copy() for k, v in cell.params.items()}
    x, h0, _, _, G = draw_inputs(0, 2, 10, 3, 4)
    hs, cache = cell.forward(x, h0)
    rhs, rcache = rnn.forward(x, h0=h0)
    assert relative_error(hs, rhs) <= 1e-12
    (dx, grads), (rdx, rgrads) = cell.backward(G, cache), rnn.backward(G, rcache)
    assert relative_error(dx, rdx) <= 1e-12
    assert all(relative_error(grads[k], rgrads[k]) <= 1e-12 for k in rgrads)


@settings(max_examples=20)
@given(**settings_cases)
def test_a_scratch_cell_passes_numrnn_gradcheck(K, S, T, B, D, H, init, seed):
    cell = ScratchCell(D, H, n_matrices=K, skip=S, seed=seed)
    cell.params["b"][:] = np.random.default_rng(seed + 1).standard_normal(H) * 0.5
    x, h0, *_ = draw_inputs(seed, B, T, D, H)
    _, (_, _, a) = cell.forward(x, h0)
    assume(min(np.min(np.abs(a_t)) for a_t in a.values()) > KINK_MARGIN)
    report = gradcheck_layer(cell, x, h0, seed=seed, eps=EPS_RELU)
    assert set(report) == {*cell.params, "x"}               # no return_dinit: h0 is not checked
    assert report.passed(TOL), str(report)


def test_gradcheck_catches_a_wrong_scratch_cell():
    """The check bites on a student's cell too: the skip line forgotten in its backward."""
    class Forgetful(ScratchCell):
        def backward(self, dhs, cache):
            skip, self.skip = self.skip, 0             # the backward runs as if there were no skip
            try:
                return super().backward(dhs, cache)
            finally:
                self.skip = skip
    cell = Forgetful(2, 3, n_matrices=1, skip=2, seed=3)
    x, h0, *_ = draw_inputs(3, 2, 8, 2, 3)
    assert not gradcheck_layer(cell, x, h0).passed(1e-3)


def test_a_scratch_cell_runs_in_the_diagnostics_that_need_only_the_minimal_protocol():
    cell = ScratchCell(3, 4, n_matrices=2, skip=2, seed=1)
    rnn = RNN(3, 4, n_matrices=2, skip=2)
    rnn.params = {k: v.copy() for k, v in cell.params.items()}
    x, _, _, _, _ = draw_inputs(1, 2, 9, 3, 4)
    dlast = np.random.default_rng(2).standard_normal((2, 4))
    dhs = gradients.last_step_dhs(dlast, 9)
    lags, norms = gradients.grad_norm_by_lag(cell, x, dhs, wrt="x")
    rnn_lags, rnn_norms = gradients.grad_norm_by_lag(rnn, x, dhs, wrt="x")
    np.testing.assert_array_equal(lags, np.arange(9))
    np.testing.assert_allclose(norms, rnn_norms, rtol=1e-12)
    assert np.all(norms[:3] > 0)
    picked = gradients.input_grads_by_lag(cell, x, dhs, lags=[0, 4])
    np.testing.assert_allclose(picked["x"], cell.backward(dhs, cell.forward(x)[1])[0][:, [8, 4]]
                               .transpose(1, 0, 2), rtol=1e-15)
    np.testing.assert_allclose(truncation.input_grad_norm_by_lag(cell, x, dlast),
                               truncation.input_grad_norm_by_lag(rnn, x, dlast), rtol=1e-12)


def test_what_a_scratch_cell_lacks_is_named():
    cell = ScratchCell(3, 4, skip=2, seed=1)
    x = np.zeros((2, 6, 3))
    dhs = gradients.last_step_dhs(np.ones((2, 4)), 6)
    richer = r"needs the richer layer protocol; ScratchCell lacks forward\(x, h0=None, state=None\)"
    with pytest.raises(TypeError, match=richer + r", backward\(dhs, cache, return_dinit=False\)"):
        gradients.hidden_grads_by_lag(cell, x, dhs)
    with pytest.raises(TypeError, match=richer):
        gradients.grad_norm_by_lag(cell, x, dhs)           # wrt="h", the default
    with pytest.raises(TypeError, match="input_grad_norm_by_lag with a window " + richer):
        truncation.input_grad_norm_by_lag(cell, x, np.ones((2, 4)), window=3)
    model = SequenceModel(output_size=1, layer=cell, readout="all", seed=0)
    with pytest.raises(TypeError, match="^truncated BPTT " + richer):
        window_loss_and_grads(model, x, np.zeros((2, 6, 1)))
    cell.forward = lambda x: ScratchCell.forward(cell, x)          # no h0 keyword
    with pytest.raises(TypeError, match=r"^numrnn.gradcheck_layer needs the layer protocol; "
                                        r"ScratchCell lacks forward\(x, h0=None\) \(see numrnn.nn.protocol"):
        gradcheck_layer(cell, x)
    del cell.forward, cell.params["Wx"]
    with pytest.raises(TypeError, match=r"ScratchCell lacks input_size \(or params\['Wx'\] of shape"):
        gradcheck_layer(cell, x)


def test_a_scratch_cell_trains_with_a_gradient_record_during_training():
    """The record during training takes the minimal protocol with wrt="x"; with wrt="h" it names
    what the cell lacks."""
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((8, 6, 3)), rng.standard_normal((8, 1))
    model = SequenceModel(output_size=1, layer=ScratchCell(3, 4, n_matrices=2, skip=2, seed=0), seed=0)
    record = gradients.LagNormRecorder(x[:2], y[:2], wrt="x")
    Trainer(model, SGD(0.01), batch_size=4, seed=0, progress=False, callback=record).fit(x, y, epochs=1)
    steps, lags, norms = record.as_arrays()
    assert len(steps) == 2 and norms.shape == (2, 6) and np.all(np.isfinite(norms)) and np.all(norms > 0)
    with pytest.raises(TypeError, match="^hidden_grads_by_lag .*ScratchCell lacks forward"):
        gradients.LagNormRecorder(x[:2], y[:2])(0, model)
