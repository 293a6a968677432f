r"""Losses, each returning the loss and its gradient with respect to the prediction.

.. math::

    \text{MSE} = \frac{1}{N} \sum_i (\hat y_i - y_i)^2, \qquad
    \frac{\partial\, \text{MSE}}{\partial \hat y_i} = \frac{2}{N} (\hat y_i - y_i)

    \text{CE} = -\frac{1}{N} \sum_n \log \operatorname{softmax}(z_n)_{y_n}, \qquad
    \frac{\partial\, \text{CE}}{\partial z_n} = \frac{1}{N} (\operatorname{softmax}(z_n) - e_{y_n})

No clipping happens here: a loss returns its exact gradient, so gradient checks stay meaningful.
"""
import numpy as np


def mse_loss(pred, target):
    """Mean squared error over every entry.

    Parameters
    ----------
    pred, target : ndarray, same shape

    Returns
    -------
    loss : float
    dpred : ndarray, shape of pred
    """
    if pred.shape != target.shape:
        raise ValueError(f"pred has shape {pred.shape} but target has shape {target.shape}")
    diff = pred - target
    return float(np.mean(diff * diff)), (2.0 / diff.size) * diff


def log_softmax(z):
    """log softmax along the last axis, stable: shift by the max before exponentiating."""
    shifted = z - z.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def softmax_cross_entropy(logits, labels, mask=None):
    """Mean cross-entropy of integer labels under softmax(logits).

    Parameters
    ----------
    logits : ndarray, shape (..., C)
    labels : int ndarray, shape (...), values in 0..C-1
    mask : ndarray of 0/1, shape (...), optional
        Positions with mask 0 (padding) do not count; the mean is over positions with mask 1.

    Returns
    -------
    loss : float
    dlogits : ndarray, shape of logits
    """
    labels = np.asarray(labels)
    if labels.shape != logits.shape[:-1]:
        raise ValueError(f"labels have shape {labels.shape}; expected {logits.shape[:-1]}")
    if not np.issubdtype(labels.dtype, np.integer):
        raise TypeError(f"labels must be integers, got {labels.dtype}")
    C = logits.shape[-1]
    if labels.size and (labels.min() < 0 or labels.max() >= C):
        raise ValueError(f"labels must lie in 0..{C - 1}")
    weight = np.ones(labels.shape) if mask is None else np.asarray(mask, dtype=float)
    count = weight.sum()
    if count == 0:
        raise ValueError("mask selects no position")
    logp = log_softmax(logits)
    picked = np.take_along_axis(logp, labels[..., None], axis=-1)[..., 0]
    loss = -float((picked * weight).sum() / count)
    dlogits = np.exp(logp)
    np.put_along_axis(dlogits, labels[..., None],
                      np.take_along_axis(dlogits, labels[..., None], axis=-1) - 1, axis=-1)
    dlogits *= (weight / count)[..., None].astype(logits.dtype)
    return loss, dlogits.astype(logits.dtype, copy=False)
