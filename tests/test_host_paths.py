"""The gated cells' two forms of sigmoid and tanh (numrnn.nn.activations.GATE_PATH), both tested on
every host: the host picks one at import (numpy's AVX512_SKX loops -> "tanh", else "exp"; override
with $NUMRNN_SIGMOID), and each must compute what the plain reference BPTT computes.

Each path is forced here (monkeypatching GATE_PATH, which the cells read at every forward), so CI
checks both whatever CPU it runs on: LSTM and GRU against numrnn.nn.reference to 1e-12 in float64
and to float32's tolerance, forward and backward, over hypothesis-drawn settings; the elementwise
forms at extreme arguments, with no overflow warning; the choice itself from the feature table and
the environment, in a fresh process too.
"""
import contextlib
import os
import subprocess
import sys
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from numrnn.nn import activations, reference
from numrnn.nn.gradcheck import relative_error
from numrnn.nn.gru import GRU
from numrnn.nn.lstm import LSTM

from strategies import draw_inputs, settings_cases

PATHS = list(activations.GATE_PATHS)
CELLS = {"lstm": LSTM, "gru": GRU}
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@contextlib.contextmanager
def forced(path):
    """The cells compute with ``path`` inside the block, whatever the host chose."""
    with pytest.MonkeyPatch.context() as m:
        m.setattr(activations, "GATE_PATH", path)
        yield


def reference_run(layer, x, G, h0, c0):
    """hs, dx, grads, dh0 (and dc0) of numrnn.nn.reference for ``layer``'s cell and parameters."""
    K, S = layer.n_matrices, layer.skip
    if isinstance(layer, LSTM):
        hs, cache = reference.lstm_forward(layer.params, x, K, S, h0=h0, c0=c0)
        dx, grads, dh, dc = reference.lstm_backward(G, cache)
        return hs, dx, grads, {"h0": dh[-1], "c0": dc[-1]}
    hs, cache = reference.gru_forward(layer.params, x, K, S, h0=h0)
    dx, grads, dh = reference.gru_backward(G, cache)
    return hs, dx, grads, {"h0": dh[-1]}


def fast_run(layer, x, G, h0, c0):
    start = dict(h0=h0, c0=c0) if isinstance(layer, LSTM) else dict(h0=h0)
    hs, cache = layer.forward(x, **start)
    dx, grads, dinit = layer.backward(G, cache, return_dinit=True)
    return hs, dx, grads, {k: dinit[k] for k in start}


def worst_error(got, want):
    """name -> relative error of hs, dx, every gradient and every initial-state gradient."""
    (hs, dx, grads, dinit), (r_hs, r_dx, r_grads, r_dinit) = got, want
    assert set(grads) == set(r_grads) and set(dinit) == set(r_dinit)
    errors = {"hs": relative_error(hs, r_hs), "dx": relative_error(dx, r_dx)}
    errors.update({k: relative_error(grads[k], r_grads[k]) for k in grads})
    errors.update({k: relative_error(dinit[k], r_dinit[k]) for k in dinit})
    return errors


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("name", sorted(CELLS))
@settings(max_examples=30)
@given(**settings_cases, gain=st.sampled_from([0.3, 1.0, 4.0]))
def test_each_path_equals_the_reference_bptt_in_float64(path, name, K, S, T, B, D, H, init, seed, gain):
    """gain scales the weights: 4 drives the gates into saturation, where the forms differ most."""
    layer = CELLS[name](D, H, n_matrices=K, skip=S, init=init, scale=gain, seed=seed)
    x, h0, c0, _, G = draw_inputs(seed, B, T, D, H)
    with forced(path):
        got = fast_run(layer, x, G, h0, c0)
    errors = worst_error(got, reference_run(layer, x, G, h0, c0))
    assert max(errors.values()) <= 1e-12, (path, errors)


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("name", sorted(CELLS))
@settings(max_examples=20)
@given(**settings_cases)
def test_each_path_in_float32_agrees_with_the_float64_reference(path, name, K, S, T, B, D, H, init, seed):
    layer = CELLS[name](D, H, n_matrices=K, skip=S, init=init, seed=seed, dtype=np.float32)
    x, h0, c0, _, G = draw_inputs(seed, B, T, D, H)
    as32 = [a.astype(np.float32) for a in (x, G, h0, c0)]
    with forced(path):
        got = fast_run(layer, *as32)
    assert got[0].dtype == np.float32 and got[1].dtype == np.float32
    params64 = {k: v.astype(np.float64) for k, v in layer.params.items()}
    layer64 = CELLS[name](D, H, n_matrices=K, skip=S, seed=seed)
    layer64.params.update(params64)
    errors = worst_error(got, reference_run(layer64, *(a.astype(np.float64) for a in as32)))
    # float32's own limit, not the forms': at a saturated gate the GRU's 1 - z cancels, and its
    # relative error is about eps32 / (1 - z) on either path (hypothesis found a = 7.7, 1 - z = 4.5e-4:
    # 2.3e-5 on the exp path, 1.1e-4 on the tanh path, whose 1 + tanh(a/2) loses a little more).
    # Equality of the forms is the float64 test above (1e-12); this one checks float32 stays float32.
    assert max(errors.values()) < 1e-3, (path, errors)


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("name", sorted(CELLS))
def test_long_sequences_over_several_chunks_equal_the_reference_on_each_path(path, name):
    layer = CELLS[name].from_version("D", 3, 5, seed=4)
    x, h0, c0, _, G = draw_inputs(4, 30, 150, 3, 5)
    with forced(path):
        got = fast_run(layer, x, G, h0, c0)
    errors = worst_error(got, reference_run(layer, x, G, h0, c0))
    assert max(errors.values()) <= 1e-12, (path, errors)


# ------------------------------------------------------------------ the elementwise forms
EXTREME = np.array([-np.inf, -1e4, -800.0, -710.0, -100.0, -30.0, -1.0, -1e-9, 0.0, 1e-9, 1.0, 30.0,
                    100.0, 710.0, 800.0, 1e4, np.inf])


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sigmoid_and_tanh_forms_are_exact_enough_and_never_warn(path, dtype):
    """Even with every floating-point warning raised as an error, and past exp's overflow. Both forms
    are exact to a few ulp of 1 (absolute): the "tanh" form's sigmoid(z) is 0 once tanh(z/2) rounds
    to -1, as the "exp" form's tanh(z) near 0 is 2 s - 1 with s near 1/2."""
    z = EXTREME.astype(dtype)
    with np.errstate(all="raise"), warnings.catch_warnings():
        warnings.simplefilter("error")
        s = activations.sigmoid_(z.copy(), path)
        t = activations.tanh_into(z, np.empty_like(z), path)
    want_s, want_t = activations.sigmoid(z.astype(np.float64)), np.tanh(z.astype(np.float64))
    eps = np.finfo(dtype).eps
    assert s.dtype == t.dtype == dtype
    np.testing.assert_allclose(s, want_s, rtol=4 * eps, atol=eps)
    np.testing.assert_allclose(t, want_t, rtol=4 * eps, atol=2 * eps)
    assert np.all((s >= 0) & (s <= 1)) and np.all((t >= -1) & (t <= 1))
    assert s[0] == 0 and s[-1] == 1 and t[0] == -1 and t[-1] == 1


@pytest.mark.parametrize("path", PATHS)
def test_a_saturated_lstm_warns_nothing_and_still_equals_the_reference(path):
    """Pre-activations of several hundred (weights x 300): exp overflows on the "exp" path. Agreement
    here is to 1e-9, not 1e-12, on both paths: deep in saturation sigmoid'(z) = s (1 - s) is a
    product of a rounded 1 and a ~1e-14 whose rounding differs between any two forms (the reference
    included), and the W1 gradient is made of such terms (measured: 7e-11 on the "tanh" path, 3e-11 on
    the "exp" path; at weights x 30 and x 100 both are within 2e-12)."""
    layer = LSTM(3, 4, n_matrices=2, skip=2, scale=300.0, seed=5)
    x, h0, c0, _, G = draw_inputs(5, 2, 9, 3, 4)
    with forced(path), np.errstate(all="raise"), warnings.catch_warnings():
        warnings.simplefilter("error")
        got = fast_run(layer, x * 3, G, h0, c0)
        assert np.max(np.abs(layer.forward(x * 3)[1].gates)) == 1.0    # some gates saturated
    assert all(np.all(np.isfinite(a)) for a in (got[0], got[1], *got[2].values(), *got[3].values()))
    errors = worst_error(got, reference_run(layer, x * 3, G, h0, c0))
    assert max(errors.values()) <= 1e-9, errors


# ------------------------------------------------------------------ the choice
def test_the_feature_table_and_the_environment_choose_the_path():
    assert activations.choose_gate_path({"AVX512_SKX": True}, {})[0] == "tanh"
    assert activations.choose_gate_path({"AVX512_SKX": False, "AVX2": True}, {})[0] == "exp"
    assert activations.choose_gate_path({}, {})[0] == "exp"
    for forced in PATHS:
        for features in ({"AVX512_SKX": True}, {}):
            chosen, why = activations.choose_gate_path(features, {"NUMRNN_SIGMOID": forced})
            assert chosen == forced and "NUMRNN_SIGMOID" in why
    with pytest.raises(ValueError, match=r"^NUMRNN_SIGMOID must be one of tanh, exp, got 'fast'"):
        activations.choose_gate_path({}, {"NUMRNN_SIGMOID": "fast"})


def _in_fresh_process(code, **env):
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                          env={**os.environ, "PYTHONPATH": ROOT, **env}, timeout=120)


@pytest.mark.parametrize("forced", PATHS)
def test_the_override_reaches_a_fresh_process_and_the_host_default_follows_numpy(forced):
    code = ("import numrnn.nn.activations as a, numpy._core._multiarray_umath as m; "
            "print(a.GATE_PATH, bool(m.__cpu_features__.get('AVX512_SKX')))")
    run = _in_fresh_process(code, NUMRNN_SIGMOID=forced)
    assert run.returncode == 0, run.stderr
    assert run.stdout.split()[0] == forced
    env = {k: v for k, v in os.environ.items() if k != "NUMRNN_SIGMOID"}
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                         env={**env, "PYTHONPATH": ROOT}, timeout=120)
    chosen, has_avx512 = run.stdout.split()
    assert chosen == ("tanh" if has_avx512 == "True" else "exp")


def test_a_bad_override_is_named_in_the_error():
    run = _in_fresh_process("import numrnn", NUMRNN_SIGMOID="avx")
    assert run.returncode != 0
    assert "NUMRNN_SIGMOID must be one of tanh, exp, got 'avx'" in run.stderr
