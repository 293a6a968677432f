r"""Task 7: truncated BPTT with a carried state.

A long sequence is cut into windows of ``window`` steps. Each window runs forward from the state the
previous window left, and backward *within the window only*: no gradient flows into an earlier
window. The carried state must hold everything the next step reads:

- the last P = max(1, S) hidden states h(t-P) .. h(t-1), because a skip step reads h(t-S); this is
  the ``history`` argument of your ``rnn_forward``, shape (P, B, H), oldest first;
- the step counter, the ``start`` argument, so that the matrix schedule and the skip steps go on
  where they stopped (window 2 of version B does not restart at W1 unless its start is even).

The gradients of the windows add up:
:math:`\tilde\nabla_\theta = \sum_{\text{windows } w} \nabla_\theta L_w` where each window's backward sees
its own dhs only. With window >= T this is full BPTT. Check yourself:
``numrnn check --task 7 truncated.py``.
"""
import numpy as np

from rnn_sequence import rnn_backward, rnn_forward


def truncated_bptt(x, dhs, params, n_matrices=1, skip=0, window=10, h0=None):
    """Task 7.

    Parameters
    ----------
    x : ndarray (B, T, D);  dhs : ndarray (B, T, H), dL/dh(t) from the loss at every step
    params : dict "W1".."WK", "Wx", "b";  n_matrices, skip : K and S
    window : int >= 1, steps per window (the last window may be shorter)
    h0 : ndarray (B, H) or None, the state before the first step

    Returns
    -------
    hs : ndarray (B, T, H), the hidden states of all windows (equal to the full forward's)
    grads : dict "W1".."WK", "Wx", "b", summed over the windows
    """
    B, T, _ = x.shape
    H = params["b"].shape[0]
    P = max(1, skip)
    history = np.zeros((P, B, H))
    if h0 is not None:
        history[-1] = h0
    grads = {name: np.zeros_like(value) for name, value in params.items()}
    outputs = []
    ### BEGIN SOLUTION task 7: for each window: forward from (history, start), backward with its dhs, add the grads, carry the last P states
    for start in range(0, T, window):
        stop = min(start + window, T)
        hs_w, cache = rnn_forward(x[:, start:stop], params, n_matrices, skip, history=history, start=start)
        _, grads_w, _ = rnn_backward(dhs[:, start:stop], cache)
        for name in grads:
            grads[name] += grads_w[name]
        outputs.append(hs_w)
        history = np.concatenate([history, hs_w.transpose(1, 0, 2)])[-P:]
    ### END SOLUTION
    return np.concatenate(outputs, axis=1), grads
