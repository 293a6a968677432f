"""The scaled skip h(t) = phi(a(t)) + alpha h(t-S) of numrnn.nn.rnn.RNN(skip_scale=alpha).

Finite differences and the reference BPTT over drawn alphas run in test_cells.py (draw_options);
here: alpha = 1 is the paper's RNN bit for bit, alpha = 0 is the relu path alone (the version
without the skip), configs and models carry alpha, and a bad alpha is refused by name.
"""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from numrnn.nn import reference
from numrnn.nn.gradcheck import gradcheck_layer
from numrnn.nn.rnn import RNN
from numrnn.training.model import SequenceModel

from strategies import draw_inputs


def _run(layer, x, G, h0):
    hs, cache = layer.forward(x, h0=h0)
    dx, grads, dinit = layer.backward(G, cache, return_dinit=True)
    return hs, dx, grads, dinit["h0"]


@settings(max_examples=25, deadline=None)
@given(K=st.integers(1, 3), S=st.integers(2, 4), T=st.integers(1, 12), seed=st.integers(0, 2**16),
       activation=st.sampled_from(["relu", "tanh"]))
def test_alpha_1_is_the_papers_rnn_bit_for_bit(K, S, T, seed, activation):
    plain = RNN(3, 5, K, S, activation=activation, seed=seed)
    scaled = RNN(3, 5, K, S, activation=activation, seed=seed, skip_scale=1.0)
    x, h0, _, _, G = draw_inputs(seed, 2, T, 3, 5)
    for a, b in zip(_run(plain, x, G, h0), _run(scaled, x, G, h0)):
        for k in (a if isinstance(a, dict) else {"": a}):
            np.testing.assert_array_equal(a[k] if k else a, b[k] if k else b)
    assert plain.config == scaled.config                 # no skip_scale key: configs as before


@settings(max_examples=25, deadline=None)
@given(K=st.integers(1, 3), S=st.integers(2, 4), T=st.integers(1, 12), seed=st.integers(0, 2**16))
def test_alpha_0_is_the_relu_path_alone(K, S, T, seed):
    """alpha = 0: the skip adds nothing, so the layer is the same K without a skip (C -> A, D -> B)."""
    skipless = RNN(3, 5, K, 0, seed=seed)
    zero = RNN(3, 5, K, S, seed=seed, skip_scale=0.0)
    zero.params = {k: v.copy() for k, v in skipless.params.items()}
    x, h0, _, _, G = draw_inputs(seed, 2, T, 3, 5)
    a, b = _run(skipless, x, G, h0), _run(zero, x, G, h0)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_allclose(a[1], b[1], rtol=1e-13, atol=1e-15)
    for k in a[2]:
        np.testing.assert_allclose(a[2][k], b[2][k], rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(a[3], b[3], rtol=1e-13, atol=1e-15)


def test_alpha_scales_the_skip_exactly_in_forward():
    """One skip step from h(-S) = 0 ... : h(t) - phi(a(t)) is alpha h(t-S) on skip steps, 0 elsewhere."""
    layer = RNN(2, 3, 1, 2, seed=0, skip_scale=0.3)
    x, h0, _, _, _ = draw_inputs(1, 2, 6, 2, 3)
    hs, cache = layer.forward(x, h0=h0)
    relu = np.maximum(cache.a, 0).transpose(1, 0, 2)                  # (B, T, H)
    extra = hs - relu
    np.testing.assert_allclose(extra[:, 1], 0.3 * h0, rtol=1e-12, atol=1e-15)  # step 1 skips to h(-1) = h0
    np.testing.assert_allclose(extra[:, 3], 0.3 * hs[:, 1], rtol=1e-12, atol=1e-15)
    np.testing.assert_array_equal(extra[:, [0, 2, 4]], 0)


@pytest.mark.parametrize("alpha", [0.25, 0.9, 1.7])
def test_finite_differences_on_the_papers_versions_with_alpha(alpha):
    for version in ("C", "D", "special"):
        layer = RNN.from_version(version, 2, 3, seed=1, skip_scale=alpha)
        layer.params["b"][:] = np.random.default_rng(2).standard_normal(3) * 0.5
        x, h0, *_ = draw_inputs(1, 2, 9, 2, 3)
        assert np.min(np.abs(layer.forward(x, h0=h0)[1].a)) > 1e-3      # away from the kink
        report = gradcheck_layer(layer, x, h0, eps=1e-6)
        assert report.passed(1e-6), str(report)
        hs, cache = layer.forward(x, h0=h0)
        ref_hs, _ = reference.rnn_forward(layer.params, x, layer.n_matrices, layer.skip, h0=h0,
                                          skip_scale=alpha)
        np.testing.assert_allclose(hs, ref_hs, rtol=1e-12)


def test_config_and_model_carry_alpha():
    layer = RNN(3, 4, 2, 2, seed=0, skip_scale=0.5)
    assert layer.config["skip_scale"] == 0.5 and RNN(**layer.config).skip_scale == 0.5
    model = SequenceModel(3, 4, 1, version="D", skip_scale=0.5, seed=0)
    assert model.layer.skip_scale == 0.5
    assert SequenceModel.from_config(model.config, seed=0).layer.skip_scale == 0.5
    assert "skip_scale" not in SequenceModel(3, 4, 1, version="D", seed=0).config


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), "0.5", None, True])
def test_a_bad_alpha_is_refused_by_name(bad):
    with pytest.raises(ValueError, match="skip_scale must be a finite number"):
        RNN(3, 4, 1, 2, skip_scale=bad)
