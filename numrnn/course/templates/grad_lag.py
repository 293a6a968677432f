r"""Task 6: how far back does the gradient reach? The norm of dL/dh(t) against the lag.

With a loss on the last step only, :math:`L = \sum \text{dlast} \odot h(T-1)`, the gradient that
reaches h(T-1-lag) is

.. math:: \|\delta h(T-1-\text{lag})\| = \Big\| \frac{\partial L}{\partial h(T-1-\text{lag})} \Big\|_F ,
          \qquad \text{lag} = 0 .. T-1

(the Frobenius norm over the batch). Compute it with *your* ``rnn_forward`` and ``rnn_backward``
(tasks 3 and 4): dhs is zero except at the last step. In version A it vanishes geometrically with
the lag; with a skip (C, D) it reaches back along the skip path. Check yourself:
``numrnn check --task 6 grad_lag.py``.
"""
import numpy as np

from rnn_sequence import rnn_backward, rnn_forward


def grad_norm_by_lag(params, x, dlast, n_matrices=1, skip=0, h0=None):
    """Task 6.

    Parameters
    ----------
    params : dict "W1".."WK" (H, H), "Wx" (H, D), "b" (H,)
    x : ndarray (B, T, D);  dlast : ndarray (B, H), dL/dh(T-1)
    n_matrices, skip : K and S;  h0 : ndarray (B, H) or None

    Returns
    -------
    norms : ndarray, shape (T,), norms[lag] = ||dL/dh(T-1-lag)||
    """
    B, T, _ = x.shape
    ### BEGIN SOLUTION task 6: dhs zero except dhs[:, -1] = dlast; your forward and backward; the norm of dh[T-1-lag]
    hs, cache = rnn_forward(x, params, n_matrices, skip, h0=h0)
    dhs = np.zeros_like(hs)
    dhs[:, -1] = dlast
    _, _, dh = rnn_backward(dhs, cache)
    norms = np.array([np.linalg.norm(dh[T - 1 - lag]) for lag in range(T)])
    ### END SOLUTION
    return norms
