r"""Layers around the recurrent cell, each a forward/backward pair with an explicit cache.

- :func:`linear_forward` — readout :math:`y = h W^\top + b` on any leading shape, so it serves the
  last step (h of shape (B, H)) and every step (h of shape (B, T, H)) alike.
- :func:`last_step_forward` — h(T_i - 1) of each sequence, for right-padded batches of lengths T_i.
- :func:`mean_pool_forward` — the mean of h(0 .. T_i - 1) over each sequence's real steps.
- :func:`reverse_padded` — each sequence's real steps in reverse order, the padding left in place
  (the input of a bidirectional model's second layer).
- :func:`embedding_forward` — rows of an embedding matrix for integer tokens.
- :func:`dropout_forward` — inverted dropout with a seeded Generator.
"""
import numpy as np


def linear_forward(h, W, b):
    """y = h W^T + b.

    Parameters
    ----------
    h : ndarray, shape (..., H)
    W : ndarray, shape (O, H)
    b : ndarray, shape (O,)

    Returns
    -------
    y : ndarray, shape (..., O)
    cache : (h, W)
    """
    if h.shape[-1] != W.shape[1]:
        raise ValueError(f"h has last dimension {h.shape[-1]} but W expects {W.shape[1]}")
    return h @ W.T + b, (h, W)


def linear_backward(dy, cache):
    """dh = dy W,  dW = sum dy^T h,  db = sum dy  (sums over every leading axis).

    Parameters
    ----------
    dy : ndarray, shape (..., O)
    cache : from :func:`linear_forward`

    Returns
    -------
    dh : ndarray, shape (..., H)
    grads : dict with "W" (O, H) and "b" (O,)
    """
    h, W = cache
    dy2, h2 = dy.reshape(-1, W.shape[0]), h.reshape(-1, W.shape[1])
    return dy @ W, {"W": dy2.T @ h2, "b": dy2.sum(axis=0)}


def last_step_forward(hs, lengths=None):
    """The hidden state at each sequence's last real step.

    Parameters
    ----------
    hs : ndarray, shape (B, T, H)
    lengths : int ndarray, shape (B,), optional
        Real lengths 1..T of right-padded sequences; all T by default.

    Returns
    -------
    h_last : ndarray, shape (B, H)
    cache : (shape of hs, lengths)
    """
    B, T, _ = hs.shape
    lengths = _check_lengths(lengths, B, T)
    return hs[np.arange(B), lengths - 1], (hs.shape, lengths)


def last_step_backward(dh_last, cache):
    """Scatter dL/dh_last back to the steps it came from; every other step gets 0."""
    shape, lengths = cache
    dhs = np.zeros(shape, dtype=dh_last.dtype)
    dhs[np.arange(shape[0]), lengths - 1] = dh_last
    return dhs


def _check_lengths(lengths, B, T):
    lengths = np.full(B, T) if lengths is None else np.asarray(lengths)
    if lengths.shape != (B,) or not np.issubdtype(lengths.dtype, np.integer):
        raise ValueError(f"lengths must be {B} integers, got {lengths.dtype} of shape {lengths.shape}")
    if lengths.min() < 1 or lengths.max() > T:
        raise ValueError(f"lengths must lie in 1..{T}, got {lengths.min()}..{lengths.max()}")
    return lengths


def mean_pool_forward(hs, lengths=None):
    r"""The mean of each sequence's states over its real steps (padding excluded).

    .. math::

        r_b = \frac{1}{T_b} \sum_{t=0}^{T_b - 1} h_b(t)

    Parameters
    ----------
    hs : ndarray, shape (B, T, H)
    lengths : int ndarray, shape (B,), optional
        Real lengths 1..T of right-padded sequences; all T by default.

    Returns
    -------
    r : ndarray, shape (B, H)
    cache : weights (B, T): 1/T_b at the real steps, 0 at the padding
    """
    B, T, _ = hs.shape
    lengths = _check_lengths(lengths, B, T)
    weights = (np.arange(T)[None, :] < lengths[:, None]) / lengths[:, None].astype(hs.dtype)
    weights = weights.astype(hs.dtype)
    return np.einsum("bt,bth->bh", weights, hs), weights


def mean_pool_backward(dr, cache):
    r""":math:`\partial L/\partial h_b(t) = \partial L/\partial r_b / T_b` at the real steps, 0 at the padding."""
    weights = cache
    return weights[:, :, None] * dr[:, None, :]


def reverse_padded(x, lengths=None):
    """Reverse each sequence's real steps; the padding stays at the end.

    ``out[b, t] = x[b, T_b - 1 - t]`` for t < T_b and ``x[b, t]`` after. The map is its own
    inverse, so it also takes the reversed layer's states back to reading order, and its backward
    is the same map applied to the gradient: ``dx = reverse_padded(dout, lengths)``.

    Parameters
    ----------
    x : ndarray, shape (B, T, ...)
    lengths : int ndarray, shape (B,), optional (all T by default)

    Returns
    -------
    ndarray, the shape of x
    """
    B, T = x.shape[:2]
    lengths = _check_lengths(lengths, B, T)
    steps = np.arange(T)[None, :]
    source = np.where(steps < lengths[:, None], lengths[:, None] - 1 - steps, steps)
    return x[np.arange(B)[:, None], source]


def embedding_forward(tokens, E):
    """x[b, t] = E[tokens[b, t]].

    Parameters
    ----------
    tokens : int ndarray, shape (B, T), values in 0..V-1
    E : ndarray, shape (V, D)

    Returns
    -------
    x : ndarray, shape (B, T, D)
    cache : (tokens, V)
    """
    tokens = np.asarray(tokens)
    if not np.issubdtype(tokens.dtype, np.integer):
        raise TypeError(f"tokens must be integers, got {tokens.dtype}")
    if tokens.size and (tokens.min() < 0 or tokens.max() >= E.shape[0]):
        raise ValueError(f"tokens must lie in 0..{E.shape[0] - 1}, got {tokens.min()}..{tokens.max()}")
    return E[tokens], (tokens, E.shape[0])


def embedding_backward(dx, cache):
    """dE[v] = sum of dx[b, t] over every (b, t) with tokens[b, t] == v.

    ``np.add.at`` accumulates repeated tokens; ``dE[tokens] += dx`` would keep only one of them.
    """
    tokens, V = cache
    dE = np.zeros((V, dx.shape[-1]), dtype=dx.dtype)
    np.add.at(dE, tokens.reshape(-1), dx.reshape(-1, dx.shape[-1]))
    return {"E": dE}


def dropout_forward(x, p, rng):
    """Inverted dropout: keep each entry with probability 1-p and scale it by 1/(1-p).

    ``p = 0`` is the identity. ``rng`` is a numpy Generator, so masks are reproducible.
    """
    if not 0 <= p < 1:
        raise ValueError(f"dropout p must lie in [0, 1), got {p}")
    if p == 0:
        return x, None
    mask = (rng.random(x.shape) >= p).astype(x.dtype) / (1 - p)
    return x * mask, mask


def dropout_backward(dy, mask):
    return dy if mask is None else dy * mask


__all__ = ["linear_forward", "linear_backward", "last_step_forward", "last_step_backward",
           "mean_pool_forward", "mean_pool_backward", "reverse_padded",
           "embedding_forward", "embedding_backward", "dropout_forward", "dropout_backward"]
