r"""Task 5: the backward of one LSTM step, gate by gate.

Shapes: x_t (B, D), h and c (B, H); W (4H, H), Wx (4H, D), b (4H,), gates in the order i, f, g, o
(as in numrnn.LSTM). The forward is given:

.. math::

    z &= W\, h(t-1) + W_x\, x(t) + b, \qquad z = [z_i, z_f, z_g, z_o] \text{ (blocks of H columns)} \\
    i, f, o &= \sigma(z_i), \sigma(z_f), \sigma(z_o), \qquad g = \tanh(z_g) \\
    c(t) &= f \odot c(t-1) + i \odot g \\
    h(t) &= o \odot \tanh(c(t))

The backward (task 5), given dh = dL/dh(t) and dc = dL/dc(t) from the step after (both (B, H)):

.. math::

    \delta c_{\text{total}} &= \delta c + \delta h \odot o \odot (1 - \tanh^2 c(t)) \\
    \delta i &= \delta c_{\text{total}} \odot g, \quad \delta f = \delta c_{\text{total}} \odot c(t-1), \quad
    \delta g = \delta c_{\text{total}} \odot i, \quad \delta o = \delta h \odot \tanh c(t) \\
    \delta z_i &= \delta i\, i(1-i), \quad \delta z_f = \delta f\, f(1-f), \quad
    \delta z_g = \delta g\, (1-g^2), \quad \delta z_o = \delta o\, o(1-o) \\
    \delta c(t-1) &= \delta c_{\text{total}} \odot f \quad\text{(the cell path)}, \qquad
    \delta h(t-1) = W^\top \delta z, \quad \delta x = W_x^\top \delta z \\
    \delta W &= \delta z\, h(t-1)^\top, \quad \delta W_x = \delta z\, x(t)^\top, \quad \delta b = \textstyle\sum_{\text{batch}} \delta z

Check yourself: ``numrnn check --task 5 lstm_step.py``.
"""
import numpy as np


def sigmoid(z):
    return 0.5 * (1 + np.tanh(0.5 * z))


def lstm_step_forward(x_t, h_prev, c_prev, W, Wx, b):
    """One LSTM step forward (given).

    Returns
    -------
    h : ndarray (B, H);  c : ndarray (B, H);  cache : tuple (x_t, h_prev, c_prev, W, Wx, i, f, g, o, c)
    """
    H = h_prev.shape[1]
    z = h_prev @ W.T + x_t @ Wx.T + b
    i, f, o = sigmoid(z[:, :H]), sigmoid(z[:, H:2 * H]), sigmoid(z[:, 3 * H:])
    g = np.tanh(z[:, 2 * H:3 * H])
    c = f * c_prev + i * g
    h = o * np.tanh(c)
    return h, c, (x_t, h_prev, c_prev, W, Wx, i, f, g, o, c)


def lstm_step_backward(dh, dc, cache):
    """One LSTM step backward, task 5.

    Parameters
    ----------
    dh : ndarray (B, H), dL/dh(t);  dc : ndarray (B, H), dL/dc(t) from the step after
    cache : from :func:`lstm_step_forward`

    Returns
    -------
    dx : (B, D);  dh_prev : (B, H);  dc_prev : (B, H);  dW : (4H, H);  dWx : (4H, D);  db : (4H,)
    """
    x_t, h_prev, c_prev, W, Wx, i, f, g, o, c = cache
    ### BEGIN SOLUTION task 5: the gate gradients dz = [dz_i, dz_f, dz_g, dz_o], the cell path, then dx, dh_prev, dW, dWx, db
    tanh_c = np.tanh(c)
    dc_total = dc + dh * o * (1 - tanh_c ** 2)
    dz = np.concatenate([dc_total * g * i * (1 - i),
                         dc_total * c_prev * f * (1 - f),
                         dc_total * i * (1 - g ** 2),
                         dh * tanh_c * o * (1 - o)], axis=1)
    dc_prev = dc_total * f
    dx, dh_prev = dz @ Wx, dz @ W
    dW, dWx, db = dz.T @ h_prev, dz.T @ x_t, dz.sum(axis=0)
    ### END SOLUTION
    return dx, dh_prev, dc_prev, dW, dWx, db
