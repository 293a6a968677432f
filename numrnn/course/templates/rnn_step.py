r"""Tasks 1 and 2: one step of the plain ReLU RNN (version A), forward and backward.

Shapes: B examples in a batch, D inputs, H hidden units.

Forward of one step (task 1):

.. math::

    a(t) = W\, h(t-1) + W_x\, x(t) + b, \qquad h(t) = \mathrm{relu}(a(t)) = \max(a(t), 0)

With a batch, rows are examples, so :math:`W h(t-1)` is ``h_prev @ W.T`` for h_prev of shape (B, H).

Backward of one step (task 2), given dh = dL/dh(t) of shape (B, H):

.. math::

    \delta a &= \delta h \odot \mathrm{relu}'(a), \qquad \mathrm{relu}'(a) = [a > 0]
        \quad\text{(from a, not from h)} \\
    \delta h(t-1) &= W^\top \delta a, \quad \delta x(t) = W_x^\top \delta a \\
    \delta W &= \delta a\, h(t-1)^\top, \quad \delta W_x = \delta a\, x(t)^\top, \quad
        \delta b = \textstyle\sum_{\text{batch}} \delta a

(again with rows as examples: dW = da.T @ h_prev, shape (H, H)). Check yourself: ``numrnn check --task 1 rnn_step.py``.
"""
import numpy as np


def rnn_step_forward(x_t, h_prev, W, Wx, b):
    """One step forward, task 1.

    Parameters
    ----------
    x_t : ndarray, shape (B, D), the input x(t)
    h_prev : ndarray, shape (B, H), the previous state h(t-1)
    W : ndarray, shape (H, H), the recurrent matrix
    Wx : ndarray, shape (H, D), the input matrix
    b : ndarray, shape (H,), the bias

    Returns
    -------
    h : ndarray, shape (B, H), h(t) = relu(a(t))
    cache : whatever your backward needs (a tuple is fine); do not change it in the backward
    """
    ### BEGIN SOLUTION task 1: compute a(t) = W h(t-1) + Wx x(t) + b and h(t) = relu(a(t))
    a = h_prev @ W.T + x_t @ Wx.T + b
    h = np.maximum(a, 0)
    cache = (x_t, h_prev, W, Wx, a)
    ### END SOLUTION
    return h, cache


def rnn_step_backward(dh, cache):
    """One step backward, task 2.

    Parameters
    ----------
    dh : ndarray, shape (B, H), dL/dh(t)
    cache : from :func:`rnn_step_forward`

    Returns
    -------
    d : dict of the gradients, named after what they are gradients of (the same contract as
        ``numrnn.nn.reference.rnn_step_backward`` and notebook 02's ``step_backward``):
        "x" (B, D) dL/dx(t); "h_prev" (B, H) dL/dh(t-1) through this step; "W" (H, H);
        "Wx" (H, D); "b" (H,)
    """
    ### BEGIN SOLUTION task 2: da = dh * relu'(a); then dx, dh_prev, dW, dWx, db from da
    x_t, h_prev, W, Wx, a = cache
    da = dh * (a > 0)
    dx = da @ Wx
    dh_prev = da @ W
    dW = da.T @ h_prev
    dWx = da.T @ x_t
    db = da.sum(axis=0)
    ### END SOLUTION
    return {"x": dx, "h_prev": dh_prev, "W": dW, "Wx": dWx, "b": db}
