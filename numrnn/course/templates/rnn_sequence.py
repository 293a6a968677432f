r"""Tasks 3 and 4: a whole sequence with K recurrent matrices and a skip every S steps.

Shapes: x (B, T, D), h (B, H). The hidden states and their gradients are dictionaries keyed by the
time step t, so ``h[t - S]`` reads like the equations; ``h[-1]`` is h0 and with P = max(1, S) the
keys run from -P to T-1 (h(-P) .. h(-2) are zeros unless ``history`` gives them).

Forward (task 3), for t = 0 .. T-1, with k(t) = (t mod K) + 1 and a skip step when (t+1) mod S == 0
(never when S is 0 or 1):

.. math::

    a(t) &= W_{k(t)}\, h(t-1) + W_x\, x(t) + b \\
    h(t) &= \mathrm{relu}(a(t)) + [\,(t+1) \bmod S = 0\,]\; h(t-S)

The skip is added *after* the ReLU, and the step still has its recurrent term W_k h(t-1).
Versions: A (K=1, S=0), B (K=2, S=0), C (K=1, S=2), D (K=2, S=2), special (K=4, S=4).
Use ``rnn_step_forward`` of task 1 with W = W_{k(t)}, then add the skip.

Backward (task 4), BPTT: start with dh[t] = dhs[:, t] (the loss's part) for every t, then for
t = T-1 down to 0 (dh[t] is complete when step t is reached):

.. math::

    \delta h(t-S) &\mathrel{+}= \delta h(t) \quad\text{on skip steps: the skip line, no relu' on it} \\
    \delta a(t) &= \delta h(t) \odot \mathrm{relu}'(a(t)) \\
    \delta h(t-1) &\mathrel{+}= W_{k(t)}^\top\, \delta a(t) \\
    \delta W_{k(t)} &\mathrel{+}= \delta a(t)\, h(t-1)^\top \quad\text{(each } W_k \text{ sums over its own steps only)} \\
    \delta W_x &\mathrel{+}= \delta a(t)\, x(t)^\top, \quad \delta b \mathrel{+}= \delta a(t), \quad
        \delta x(t) = W_x^\top \delta a(t)

Use ``rnn_step_backward`` of task 2 for the step (it returns a dict: d["x"], d["h_prev"], d["W"],
d["Wx"], d["b"]). Keep the dtype you are given: make new arrays with ``dtype=x.dtype`` (forward) and
``dtype=dhs.dtype`` (backward), since ``numrnn check`` runs the cell in float32 too. Check yourself:
``numrnn check --task 3 rnn_sequence.py``, ``numrnn check --task 4 rnn_sequence.py`` and the whole
cell ``numrnn check rnn_sequence.py:SkipRNN``.
"""
import numpy as np

from rnn_step import rnn_step_backward, rnn_step_forward


def rnn_forward(x, params, n_matrices=1, skip=0, h0=None, history=None, start=0):
    """The sequence forward, task 3.

    Parameters
    ----------
    x : ndarray, shape (B, T, D)
    params : dict with "W1" .. "WK" (H, H), "Wx" (H, D), "b" (H,)
    n_matrices : int, K;  skip : int, S
    h0 : ndarray, shape (B, H), optional, h(-1); zeros when None
    history : ndarray, shape (P, B, H), optional, h(-P) .. h(-1) when this sequence continues an
        earlier one (task 7); it replaces h0
    start : int, the time step of x[:, 0] in the whole sequence (task 7), so the matrix schedule
        and the skip steps continue: step t uses W_{((start + t) mod K) + 1}, and is a skip step
        when (start + t + 1) mod S == 0

    Returns
    -------
    hs : ndarray, shape (B, T, H), h(0) .. h(T-1)
    cache : whatever your backward needs
    """
    B, T, _ = x.shape
    H = params["b"].shape[0]
    P = max(1, skip)
    h = {t: np.zeros((B, H), dtype=x.dtype) for t in range(-P, 0)}
    if history is not None:
        h.update({t: history[P + t] for t in range(-P, 0)})
    elif h0 is not None:
        h[-1] = h0
    ### BEGIN SOLUTION task 3: the loop over t: h[t] from rnn_step_forward with W_{k(t)}, plus h[t - S] on skip steps
    steps = {}
    for t in range(T):
        W = params[f"W{(start + t) % n_matrices + 1}"]
        h[t], steps[t] = rnn_step_forward(x[:, t], h[t - 1], W, params["Wx"], params["b"])
        if skip >= 2 and (start + t + 1) % skip == 0:
            h[t] = h[t] + h[t - skip]
    hs = np.stack([h[t] for t in range(T)], axis=1)
    cache = (steps, n_matrices, skip, start, P, params)
    ### END SOLUTION
    return hs, cache


def rnn_backward(dhs, cache):
    """BPTT, task 4.

    Parameters
    ----------
    dhs : ndarray, shape (B, T, H), dL/dh(t) from the loss alone, at every step
    cache : from :func:`rnn_forward`; do not change it

    Returns
    -------
    dx : ndarray, shape (B, T, D)
    grads : dict "W1" .. "WK", "Wx", "b", each the shape of its parameter
    dh : dict t -> ndarray (B, H), the complete dL/dh(t) for t = -P .. T-1 (dh[-1] is dL/dh0)
    """
    ### BEGIN SOLUTION task 4: the reversed loop: the skip line, the step backward, and dW_{k(t)} summed per matrix
    steps, K, S, start, P, params = cache
    B, T, H = dhs.shape
    dh = {t: np.zeros((B, H), dtype=dhs.dtype) for t in range(-P, T)}
    for t in range(T):
        dh[t] = dh[t] + dhs[:, t]
    grads = {name: np.zeros_like(value) for name, value in params.items()}
    dx = np.zeros((B, T, params["Wx"].shape[1]), dtype=dhs.dtype)
    for t in reversed(range(T)):
        if S >= 2 and (start + t + 1) % S == 0:
            dh[t - S] = dh[t - S] + dh[t]
        d = rnn_step_backward(dh[t], steps[t])
        dx[:, t] = d["x"]
        dh[t - 1] = dh[t - 1] + d["h_prev"]
        grads[f"W{(start + t) % K + 1}"] += d["W"]
        grads["Wx"] += d["Wx"]
        grads["b"] += d["b"]
    ### END SOLUTION
    return dx, grads, dh


class SkipRNN:
    """Your cell in the form ``numrnn check FILE.py:SkipRNN`` grades (nothing to fill in here).

    numrnn's minimal layer protocol (``numrnn.nn.protocol.Layer``): ``.params`` with W1..WK, Wx, b,
    ``forward(x, h0=None) -> (hs, cache)`` and ``backward(dhs, cache) -> (dx, grads)``; numrnn reads
    the sizes and the dtype from ``params``. So your finished cell trains in the library:
    ``SequenceModel(output_size=1, layer=SkipRNN(6, 32, skip=2))`` with ``Trainer``, and
    ``gradcheck_layer`` checks it (notebook 08). The grader builds it as ``SkipRNN(input_size,
    hidden_size, n_matrices=1, skip=0, seed=None, dtype=np.float64)``.
    """

    def __init__(self, input_size, hidden_size, n_matrices=1, skip=0, seed=None, dtype=np.float64):
        rng = np.random.default_rng(seed)
        H, D = hidden_size, input_size
        self.n_matrices, self.skip = n_matrices, skip
        self.params = {f"W{k + 1}": ((0.25 / np.sqrt(H)) * rng.standard_normal((H, H))).astype(dtype)
                       for k in range(n_matrices)}
        self.params["Wx"] = ((1 / np.sqrt(D)) * rng.standard_normal((H, D))).astype(dtype)
        self.params["b"] = np.zeros(H, dtype=dtype)

    def forward(self, x, h0=None):
        return rnn_forward(x, self.params, self.n_matrices, self.skip, h0=h0)

    def backward(self, dhs, cache):
        dx, grads, _ = rnn_backward(dhs, cache)
        return dx, grads
