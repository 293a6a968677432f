"""Readout, last-step selection, embedding, dropout and the losses, against finite differences."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

from numrnn.nn import layers
from numrnn.nn import losses
from numrnn.nn.gradcheck import check_gradients

from strategies import seeds


def _fd_check(loss_of, arrays, grads):
    report = check_gradients(loss_of, arrays, grads)
    assert report.passed(1e-7), str(report)


@given(seed=seeds, lead=st.sampled_from([(3,), (2, 5)]), H=st.integers(1, 4), O=st.integers(1, 3))
def test_linear_readout_last_step_and_every_step(seed, lead, H, O):
    rng = np.random.default_rng(seed)
    h, W, b = rng.standard_normal((*lead, H)), rng.standard_normal((O, H)), rng.standard_normal(O)
    G = rng.standard_normal((*lead, O))
    loss = lambda: float(np.sum(G * layers.linear_forward(h, W, b)[0]))
    y, cache = layers.linear_forward(h, W, b)
    assert y.shape == (*lead, O)
    dh, grads = layers.linear_backward(G, cache)
    _fd_check(loss, {"h": h, "W": W, "b": b}, {"h": dh, **grads})


@given(seed=seeds, B=st.integers(1, 4), T=st.integers(1, 6))
def test_last_step_with_lengths(seed, B, T):
    rng = np.random.default_rng(seed)
    hs = rng.standard_normal((B, T, 3))
    lengths = rng.integers(1, T + 1, size=B)
    last, cache = layers.last_step_forward(hs, lengths)
    np.testing.assert_array_equal(last, [hs[i, n - 1] for i, n in enumerate(lengths)])
    G = rng.standard_normal(last.shape)
    loss = lambda: float(np.sum(G * layers.last_step_forward(hs, lengths)[0]))
    _fd_check(loss, {"hs": hs}, {"hs": layers.last_step_backward(G, cache)})


def test_last_step_rejects_bad_lengths():
    hs = np.zeros((2, 4, 3))
    for bad in ([0, 2], [1, 5], [1.0, 2.0], [1, 2, 3]):
        with pytest.raises(ValueError, match="lengths"):
            layers.last_step_forward(hs, np.array(bad))


def test_embedding_gradient_accumulates_repeated_tokens():
    rng = np.random.default_rng(0)
    E = rng.standard_normal((5, 3))
    tokens = np.array([[1, 1, 4], [1, 0, 4]])          # token 1 three times, 4 twice, 2 and 3 never
    x, cache = layers.embedding_forward(tokens, E)
    G = rng.standard_normal(x.shape)
    grads = layers.embedding_backward(G, cache)
    np.testing.assert_allclose(grads["E"][1], G[0, 0] + G[0, 1] + G[1, 0])
    np.testing.assert_array_equal(grads["E"][[2, 3]], 0.0)
    loss = lambda: float(np.sum(G * layers.embedding_forward(tokens, E)[0]))
    _fd_check(loss, {"E": E}, grads)


@pytest.mark.parametrize("tokens,error", [(np.array([[0, 5]]), ValueError),
                                          (np.array([[-1, 0]]), ValueError),
                                          (np.array([[0.0, 1.0]]), TypeError)])
def test_embedding_rejects_bad_tokens(tokens, error):
    with pytest.raises(error, match="tokens"):
        layers.embedding_forward(tokens, np.zeros((5, 2)))


def test_dropout_is_seeded_scaled_and_differentiable():
    x = np.ones((200, 50))
    y1, mask = layers.dropout_forward(x, 0.3, np.random.default_rng(1))
    y2, _ = layers.dropout_forward(x, 0.3, np.random.default_rng(1))
    np.testing.assert_array_equal(y1, y2)
    assert set(np.unique(y1)) == {0.0, 1 / 0.7}
    assert abs(y1.mean() - 1) < 0.02
    G = np.random.default_rng(2).standard_normal(x.shape)
    np.testing.assert_array_equal(layers.dropout_backward(G, mask), G * mask)
    assert layers.dropout_forward(x, 0.0, None)[0] is x
    with pytest.raises(ValueError, match="dropout"):
        layers.dropout_forward(x, 1.0, np.random.default_rng(0))


@given(seed=seeds, shape=st.sampled_from([(4,), (3, 2), (2, 3, 1)]))
def test_mse_gradient(seed, shape):
    rng = np.random.default_rng(seed)
    pred, target = rng.standard_normal(shape), rng.standard_normal(shape)
    loss, dpred = losses.mse_loss(pred, target)
    assert loss == pytest.approx(np.mean((pred - target) ** 2))
    _fd_check(lambda: losses.mse_loss(pred, target)[0], {"pred": pred}, {"pred": dpred})


@given(seed=seeds, lead=st.sampled_from([(4,), (2, 3)]), C=st.integers(2, 6), masked=st.booleans())
def test_cross_entropy_gradient_with_and_without_mask(seed, lead, C, masked):
    rng = np.random.default_rng(seed)
    logits, labels = rng.standard_normal((*lead, C)) * 3, rng.integers(0, C, size=lead)
    mask = None
    if masked:
        mask = (rng.random(lead) < 0.6).astype(float)
        mask.reshape(-1)[0] = 1.0
    loss, dlogits = losses.softmax_cross_entropy(logits, labels, mask)
    _fd_check(lambda: losses.softmax_cross_entropy(logits, labels, mask)[0],
              {"logits": logits}, {"logits": dlogits})


def test_cross_entropy_is_stable_for_huge_logits_and_ignores_masked_positions():
    logits = np.array([[1000.0, -1000.0, 0.0], [0.0, 1e4, 0.0]])
    loss, d = losses.softmax_cross_entropy(logits, np.array([0, 0]))
    assert np.isfinite(loss) and np.all(np.isfinite(d))
    assert loss == pytest.approx(1e4 / 2)
    masked, _ = losses.softmax_cross_entropy(logits, np.array([0, 0]), mask=np.array([1.0, 0.0]))
    assert masked == pytest.approx(0.0, abs=1e-12)


def test_losses_reject_mismatched_or_bad_labels():
    with pytest.raises(ValueError, match="target"):
        losses.mse_loss(np.zeros(3), np.zeros(4))
    with pytest.raises(ValueError, match="labels"):
        losses.softmax_cross_entropy(np.zeros((2, 3)), np.array([0, 3]))
    with pytest.raises(TypeError, match="labels"):
        losses.softmax_cross_entropy(np.zeros((2, 3)), np.array([0.0, 1.0]))
    with pytest.raises(ValueError, match="mask"):
        losses.softmax_cross_entropy(np.zeros((2, 3)), np.array([0, 1]), mask=np.zeros(2))
