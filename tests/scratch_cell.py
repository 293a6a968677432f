r"""A ReLU skip cell written from scratch, the way a student would: plain NumPy, no numrnn import.

It follows only the *minimal* layer protocol (:class:`numrnn.nn.protocol.Layer`; README, "Write
your own cell"):

- ``params`` (a dict of float arrays);
- ``forward(x, h0=None) -> (hs, cache)`` with x (B, T, D), hs (B, T, H);
- ``backward(dhs, cache) -> (dx, grads)`` with grads keyed like ``params``.

No ``input_size``, ``hidden_size`` or ``dtype`` (numrnn reads them from ``params``), no carried
state, no ``return_dinit``, no ``config``: the tests use it to show what numrnn does with such a
cell (trains it, gradchecks it, runs the diagnostics that need only this) and what it refuses with
a clear message (truncated BPTT needs the richer part, a checkpoint needs ``config``).
:class:`SavableScratchCell` adds ``config``, so a model with it can be checkpointed.

The recurrence is the paper's, for t = 0 .. T-1 with h(-1) = h0 and h(t) = 0 for t < -1:

.. math::

    a(t) = W_{(t \bmod K)+1}\, h(t-1) + W_x x(t) + b, \qquad
    h(t) = \mathrm{relu}(a(t)) + [(t+1) \bmod S = 0]\; h(t-S)

This is a helper module for the tests (like ``strategies.py``), not a test module.
"""
import numpy as np


class ScratchCell:
    """ReLU RNN with K alternating recurrent matrices and a skip every S steps."""

    def __init__(self, input_size, hidden_size, n_matrices=1, skip=0, seed=None, dtype=np.float64):
        self.n_matrices, self.skip = n_matrices, skip
        rng = np.random.default_rng(seed)
        H, D = hidden_size, input_size
        self.params = {f"W{k + 1}": rng.standard_normal((H, H)) / np.sqrt(H) for k in range(n_matrices)}
        self.params["Wx"] = rng.standard_normal((H, D)) / np.sqrt(D)
        self.params["b"] = np.zeros(H)
        self.params = {name: value.astype(dtype) for name, value in self.params.items()}

    def forward(self, x, h0=None):
        """x (B, T, D) -> hs (B, T, H) and the cache (x, h0, a, hs)."""
        B, T, _ = x.shape
        K, S = self.n_matrices, self.skip
        b = self.params["b"]
        h = {-1: np.zeros((B, b.shape[0]), b.dtype) if h0 is None else h0}  # h[t] is h(t)
        a = {}
        for t in range(T):
            a[t] = h[t - 1] @ self.params[f"W{t % K + 1}"].T + x[:, t] @ self.params["Wx"].T + self.params["b"]
            h[t] = np.maximum(a[t], 0)
            if S > 1 and (t + 1) % S == 0:
                h[t] = h[t] + h[t - S]                    # the skip: + h(t-S) (t-S >= -1 here)
        hs = np.stack([h[t] for t in range(T)], axis=1)
        return hs, (x, h, a)

    def backward(self, dhs, cache):
        """dL/dhs (B, T, H) -> dL/dx (B, T, D) and dL/dparams."""
        x, h, a = cache
        B, T, H = dhs.shape
        K, S = self.n_matrices, self.skip
        grads = {name: np.zeros_like(value) for name, value in self.params.items()}
        dx = np.zeros_like(x)
        dh = {t: dhs[:, t].copy() for t in range(T)}     # dh[t]: total gradient reaching h(t)
        dh[-1] = np.zeros((B, H), dhs.dtype)
        for t in reversed(range(T)):
            if S > 1 and (t + 1) % S == 0:
                dh[t - S] += dh[t]                        # the skip line: dh(t-S) += dh(t)
            da = dh[t] * (a[t] > 0)                       # through the relu
            W = self.params[f"W{t % K + 1}"]
            grads[f"W{t % K + 1}"] += da.T @ h[t - 1]
            grads["Wx"] += da.T @ x[:, t]
            grads["b"] += da.sum(axis=0)
            dx[:, t] = da @ self.params["Wx"]
            dh[t - 1] += da @ W
        return dx, grads


class SavableScratchCell(ScratchCell):
    """:class:`ScratchCell` with ``config``: its constructor's arguments, so a checkpoint rebuilds it."""

    def __init__(self, input_size, hidden_size, n_matrices=1, skip=0, seed=None, dtype="float64"):
        super().__init__(input_size, hidden_size, n_matrices, skip, seed, dtype)
        self.config = dict(input_size=input_size, hidden_size=hidden_size, n_matrices=n_matrices,
                           skip=skip, dtype=str(np.dtype(dtype)))
