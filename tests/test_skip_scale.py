"""The scaled skip h(t) = phi(a(t)) + alpha h(t-S) of numrnn.nn.rnn.RNN(skip_scale=alpha).

Finite differences and the reference BPTT over drawn alphas run in test_cells.py (draw_options);
here: alpha = 1 is the paper's RNN bit for bit, alpha = 0 is the relu path alone (the version
without the skip), configs and models carry alpha, and a bad alpha is refused by name.

The learned alpha (``RNN(learn_skip_scale=True)``, ``params["alpha"]``, gradient (8)): finite
differences over whole sequences for every parameter, the fast loop equal to the reference BPTT,
learning off (and learning at the start) equal to the fixed-alpha layer bit for bit, alpha moving
under a few Adam steps, config and checkpoint round trips, and S < 2 refused by name.
"""
import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from numrnn.nn import CELLS, reference
from numrnn.nn.gradcheck import gradcheck_layer, relative_error
from numrnn.nn.rnn import RNN
from numrnn.training.checkpoint import load_checkpoint, save_checkpoint
from numrnn.training.model import SequenceModel
from numrnn.training.optim import make_optimizer
from numrnn.training.trainer import Trainer

from strategies import EPS_RELU, KINK_MARGIN, SATURATION, TOL, draw_inputs, settings_cases


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


# ------------------------------------------------------------------------- the learned alpha
#: alpha drawn as a learned skip scale starts: damping, the paper's 1, growing, and negative.
alphas = st.floats(-1.5, 1.5, allow_nan=False).map(lambda a: round(a, 3))
learned_cases = dict(settings_cases, S=st.integers(2, 5), alpha=alphas,
                     activation=st.sampled_from(["relu", "tanh"]))


def learned(D, H, K, S, seed, alpha, **options):
    """An RNN with a learned alpha starting at ``alpha`` and biases that keep relu units alive."""
    layer = RNN(D, H, K, S, seed=seed, skip_scale=alpha, learn_skip_scale=True, **options)
    layer.params["b"][:] = np.random.default_rng(seed + 1).standard_normal(H) * 0.5
    return layer


def clear_of_the_kink(layer, x, **start):
    """relu: every a(t) at least KINK_MARGIN from 0 (a difference quotient must not cross the kink);
    tanh: not saturated (a gradient sunk below the quotient's rounding would measure noise)."""
    a = layer.forward(x, **start)[1].a
    return np.min(np.abs(a)) > KINK_MARGIN if layer.activation == "relu" else np.max(np.abs(a)) < SATURATION


@settings(max_examples=60, deadline=None)
@given(**learned_cases)
def test_learned_alpha_gradients_match_finite_differences(K, S, T, B, D, H, init, seed, alpha, activation):
    """Centred differences in float64 over the whole sequence: every W_k, Wx, b, alpha, x and h0."""
    layer = learned(D, H, K, S, seed, alpha, init=init, activation=activation)
    x, h0, *_ = draw_inputs(seed, B, T, D, H)
    assume(clear_of_the_kink(layer, x, h0=h0))
    report = gradcheck_layer(layer, x, h0, seed=seed, eps=EPS_RELU)
    assert set(report) == {*(f"W{k + 1}" for k in range(K)), "Wx", "b", "alpha", "x", "h0"}
    assert report.passed(TOL), str(report)


@settings(max_examples=40, deadline=None)
@given(**learned_cases, step0=st.integers(0, 6), carried=st.booleans())
def test_learned_alpha_fast_backward_equals_the_reference_bptt(K, S, T, B, D, H, init, seed, alpha,
                                                               activation, step0, carried):
    """The chunked loop of rnn.py and the plain loop of reference.py, from h0 or a carried state
    (the skip steps shifted by step0): the same outputs and gradients, alpha's included, to 1e-12."""
    layer = learned(D, H, K, S, seed, alpha, init=init, activation=activation)
    x, h0, _, history, G = draw_inputs(seed, B, T, D, H, layer.n_history)
    start = {"state": layer.state_class(history=history, step0=step0)} if carried else {"h0": h0}
    hs, cache = layer.forward(x, **start)
    dx, grads, dinit = layer.backward(G, cache, return_dinit=True)
    ref_hs, ref_dx, ref_grads, ref_dinit = CELLS.entry("rnn").reference(layer, x, G, **start)
    assert set(grads) == set(ref_grads) == set(layer.params)
    for ours, theirs in [(hs, ref_hs), (dx, ref_dx), *((grads[k], ref_grads[k]) for k in grads),
                         *((dinit[k], ref_dinit[k]) for k in ("h0", "history"))]:
        assert relative_error(ours, theirs) <= 1e-12


def test_alpha_gradient_is_the_sum_over_skip_steps_of_dh_dot_h_skip():
    """(8) on known numbers: W = 0 and a(t) = x(t) > 0, so h(t) = x(t) + alpha h(t-2) on the skip
    steps t = 1, 3; the loss reads h(3) alone, so dalpha = <dh(3), h(1)> + <dh(1), h(-1) = 0>."""
    layer = RNN(1, 2, 1, 2, seed=0, learn_skip_scale=True, skip_scale=0.5)
    layer.params["W1"][:] = 0
    layer.params["Wx"][:] = 1.0
    x = np.array([[[1.0], [2.0], [3.0], [4.0]]])          # a(t) = x(t) > 0: h = x + 0.5 h(t-2) on t = 1, 3
    G = np.zeros((1, 4, 2))
    G[0, 3] = [1.0, -2.0]                                  # only h(3) is in the loss
    hs, cache = layer.forward(x)
    np.testing.assert_allclose(hs[0, :, 0], [1.0, 2.0, 3.0, 4.0 + 0.5 * 2.0])  # h(1) = 2 + 0.5 h(-1) = 2
    _, grads = layer.backward(G, cache)
    # dh(3) = G(3); dh(1) = 0.5 G(3) through (3); step 1 skips to h(-1) = 0, so dalpha = <G(3), h(1)>
    assert grads["alpha"].shape == (1,)
    np.testing.assert_allclose(grads["alpha"], [1.0 * 2.0 - 2.0 * 2.0])


def test_alpha_gradient_is_zero_without_a_skip_step_and_the_relative_error_is_defined():
    """T < S: no step skips, so dalpha = 0 exactly and the finite difference is 0 too: the relative
    error of two zeros is 0, not 0/0."""
    layer = learned(2, 3, 1, 4, 0, 0.7)
    x, h0, *_ = draw_inputs(0, 2, 3, 2, 3)
    report = gradcheck_layer(layer, x, h0, eps=EPS_RELU)
    assert report["alpha"] == 0.0 and report.abs_errors["alpha"] == 0.0
    assert report.passed(TOL), str(report)


@settings(max_examples=30, deadline=None)
@given(K=st.integers(1, 3), S=st.integers(2, 4), T=st.integers(1, 12), seed=st.integers(0, 2**16),
       alpha=alphas, activation=st.sampled_from(["relu", "tanh"]))
def test_learning_off_is_the_fixed_alpha_layer_bit_for_bit(K, S, T, seed, alpha, activation):
    """learn_skip_scale=False is the fixed-alpha layer (config included); learning on draws the same
    weights and, at its start, computes the same bits: only the gradient of alpha is added."""
    fixed = RNN(3, 5, K, S, activation=activation, seed=seed, skip_scale=alpha)
    off = RNN(3, 5, K, S, activation=activation, seed=seed, skip_scale=alpha, learn_skip_scale=False)
    on = RNN(3, 5, K, S, activation=activation, seed=seed, skip_scale=alpha, learn_skip_scale=True)
    x, h0, _, _, G = draw_inputs(seed, 2, T, 3, 5)
    assert off.config == fixed.config and "learn_skip_scale" not in fixed.config
    assert set(off.params) == set(fixed.params) == set(on.params) - {"alpha"}
    reference_run = _run(fixed, x, G, h0)
    for other in (off, on):
        hs, dx, grads, dh0 = _run(other, x, G, h0)
        np.testing.assert_array_equal(hs, reference_run[0])
        np.testing.assert_array_equal(dx, reference_run[1])
        np.testing.assert_array_equal(dh0, reference_run[3])
        for k in fixed.params:
            np.testing.assert_array_equal(other.params[k], fixed.params[k])
            np.testing.assert_array_equal(grads[k], reference_run[2][k])


def _first_element_data(seed, n=64, T=8, D=2):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, T, D))
    return x, x[:, 0, :1].copy()


@pytest.mark.parametrize("clip", [None, 1.0])
def test_alpha_changes_under_a_few_adam_steps(clip):
    """Through the model, the trainer (clipping included) and Adam: alpha moves from its start, stays
    a (1,) array of the model's dtype, and its gradient norm is recorded like every parameter's."""
    x, y = _first_element_data(0)
    model = SequenceModel(2, 6, 1, version="C", learn_skip_scale=True, seed=0)
    assert model.params["layer.alpha"].tolist() == [1.0] and model.n_params() == \
        SequenceModel(2, 6, 1, version="C", seed=0).n_params() + 1
    trainer = Trainer(model, make_optimizer("adam", lr=1e-2), batch_size=16, clip=clip, seed=0, progress=False)
    history = trainer.fit(x, y, epochs=1)                  # 4 Adam steps
    alpha = model.params["layer.alpha"]
    assert trainer.step == 4 and not history["diverged"]
    assert alpha.shape == (1,) and alpha.dtype == np.float64
    assert abs(alpha[0] - 1.0) > 1e-3                      # Adam moves it by ~lr a step
    assert all(n > 0 for n in history["grad_norms"]["layer.alpha"])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_config_and_checkpoint_keep_alpha_learned_and_its_value(tmp_path, dtype):
    layer = RNN(3, 4, 2, 2, seed=0, skip_scale=0.5, learn_skip_scale=True, dtype=dtype)
    assert layer.config["learn_skip_scale"] is True and layer.config["skip_scale"] == 0.5
    rebuilt = RNN(**layer.config)
    assert rebuilt.learn_skip_scale and rebuilt.params["alpha"].tolist() == [0.5]
    assert rebuilt.params["alpha"].dtype == dtype
    model = SequenceModel(3, 4, 1, version="D", learn_skip_scale=True, seed=0, dtype=dtype)
    model.layer.params["alpha"][...] = 0.734                # as if trained
    assert SequenceModel.from_config(model.config, seed=0).layer.learn_skip_scale
    save_checkpoint(str(tmp_path / "model"), model)
    back = load_checkpoint(str(tmp_path / "model")).model
    assert back.layer.learn_skip_scale and back.config == model.config
    np.testing.assert_array_equal(back.layer.params["alpha"], model.layer.params["alpha"])
    assert back.layer.params["alpha"].dtype == dtype
    x = np.random.default_rng(0).standard_normal((2, 6, 3)).astype(dtype)
    np.testing.assert_array_equal(back.layer.forward(x)[0], model.layer.forward(x)[0])


def test_the_papers_config_has_no_learning_key():
    assert "learn_skip_scale" not in RNN(3, 4, 2, 2, seed=0).config
    assert "learn_skip_scale" not in SequenceModel(3, 4, 1, version="D", seed=0).config


@pytest.mark.parametrize("make", [lambda: RNN(3, 4, 1, 0, learn_skip_scale=True),
                                  lambda: RNN(3, 4, 2, 1, learn_skip_scale=True),
                                  lambda: RNN.from_version("B", 3, 4, learn_skip_scale=True),
                                  lambda: SequenceModel(3, 4, 1, version="A", learn_skip_scale=True)])
def test_learning_alpha_without_a_skip_is_refused_by_name(make):
    with pytest.raises(ValueError, match=r"learn_skip_scale=True needs a skip \(skip S >= 2\), got skip=[01]"):
        make()


@pytest.mark.parametrize("bad", ["yes", 1, None, 0.5])
def test_a_bad_learn_skip_scale_is_refused_by_name(bad):
    with pytest.raises(ValueError, match="learn_skip_scale must be True or False"):
        RNN(3, 4, 1, 2, learn_skip_scale=bad)


# ------------------------------------------------------------------------------ command line
TINY_TRAIN = ["--steps", "6", "--input-size", "2", "--n-train", "64", "--n-test", "16", "--hidden-size", "8",
              "--batch-size", "16", "--epochs", "1", "--quiet"]


def test_train_learns_alpha_with_the_flag_and_the_saved_model_keeps_it(tmp_path, capsys):
    from numrnn import cli
    assert cli.main(["train", "--version", "C", "--learn-skip-scale", "--out", str(tmp_path), *TINY_TRAIN]) == 0
    model = load_checkpoint(str(tmp_path / "models" / "train")).model
    assert model.layer.learn_skip_scale and model.config["learn_skip_scale"] is True
    assert model.layer.params["alpha"][0] != 1.0                     # 4 Adam steps moved it
    assert cli.main(["train", "--version", "C", "--out", str(tmp_path / "plain"), *TINY_TRAIN]) == 0
    assert "learn_skip_scale" not in load_checkpoint(str(tmp_path / "plain" / "models" / "train")).model.config


@pytest.mark.parametrize("argv, message", [
    (["--version", "A"], "learn_skip_scale=True needs a skip (skip S >= 2), got skip=0"),
    (["--cell", "lstm", "--version", "C"], "--learn-skip-scale does not apply to the lstm cell")])
def test_train_refuses_the_flag_where_alpha_cannot_act_by_name(argv, message, tmp_path, capsys):
    from numrnn import cli
    assert cli.main(["train", *argv, "--learn-skip-scale", "--out", str(tmp_path), *TINY_TRAIN]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
