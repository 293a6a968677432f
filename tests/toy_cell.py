r"""A cell that is not numrnn's, added the way the README says: one module and one registry entry.

A leaky tanh RNN with K matrices and a skip every S steps, for t = 0 .. T-1:

.. math::

    a(t) &= W_{k(t)}\, h(t-1) + W_x\, x(t) + b \\
    h(t) &= (1 - \alpha)\, h(t-1) + \alpha \tanh(a(t)) + [(t+1) \bmod S = 0]\; h(t-S)

Backward, for t = T-1 .. 0 with :math:`\delta h(t)` complete:
:math:`\delta h(t-S) \mathrel{+}= \delta h(t)` on skip steps,
:math:`\delta a(t) = \alpha\, \delta h(t) (1 - \tanh^2 a(t))`,
:math:`\delta h(t-1) \mathrel{+}= (1 - \alpha)\, \delta h(t) + W_{k(t)}^\top \delta a(t)`.

:class:`LeakyRNN` is the fast cell on :class:`numrnn.nn.base.RecurrentLayer` and
:mod:`numrnn.nn.kernels`; :func:`leaky_forward` / :func:`leaky_backward` the plain reference loop.
:data:`ENTRIES` is what ``NUMRNN_TEST_EXTRA_CELLS=toy_cell`` registers for ``tests/test_cells.py``
(tests/test_toy_cell.py runs the whole contract on it). A helper module, not a test module.
"""
from dataclasses import dataclass

import numpy as np

from numrnn._checks import check_real
from numrnn.nn.base import RecurrentCache, RecurrentLayer
from numrnn.nn.kernels import bptt_chunks, chunk_steps, input_grad, input_part, transposed_matrices
from numrnn.nn.reference import loss_part, start_history, zero_grads
from numrnn.nn.registry import CellEntry, TestHints
from numrnn.nn.schedule import is_skip_step, matrix_index


@dataclass(frozen=True)
class LeakyCache(RecurrentCache):
    """x (T, B, D), a (T, B, H) the pre-activations, h (P + T, B, H), step0."""
    x: np.ndarray
    a: np.ndarray
    h: np.ndarray
    step0: int


class LeakyRNN(RecurrentLayer):
    """Leaky tanh RNN: h(t) = (1 - alpha) h(t-1) + alpha tanh(a(t)) (+ h(t-S) on skip steps)."""
    n_gates = 1
    cache_class = LeakyCache
    config_names = ("input_size", "hidden_size", "n_matrices", "skip", "alpha", "init", "scale")
    repr_names = ("input_size", "hidden_size", "n_matrices", "skip", "alpha")

    def __init__(self, input_size, hidden_size, n_matrices=1, skip=0, alpha=0.5, init="normal",
                 scale=1.0, seed=None, dtype=np.float64):
        self.alpha = check_real("alpha", alpha, low=0, high=1, low_open=True)
        super().__init__(input_size, hidden_size, n_matrices, skip, init=init, scale=scale, seed=seed,
                         dtype=dtype)

    def forward(self, x, h0=None, state=None):
        x, h, start = self._begin_forward(x, h0, state)
        T, B, _ = x.shape
        P, K, S, step0 = self.n_history, self.n_matrices, self.skip, start.step0
        alpha = self.dtype.type(self.alpha)
        W_T = transposed_matrices(self.params, K)
        a = input_part(x, self.params["Wx"], self.params["b"], out=np.empty((T, B, self.hidden_size), self.dtype))
        for t in range(T):
            a[t] += h[P + t - 1] @ W_T[matrix_index(step0 + t, K)]
            h[P + t] = (1 - alpha) * h[P + t - 1] + alpha * np.tanh(a[t])
            if is_skip_step(step0 + t, S):
                h[P + t] += h[P + t - S]
        return self._outputs(h), LeakyCache(x=x, a=a, h=h, step0=step0)

    def backward(self, dhs, cache, return_dinit=False):
        dhs, dx, grads = self._begin_backward(dhs, cache)
        T, B, H = dhs.shape
        P, K, S, step0 = self.n_history, self.n_matrices, self.skip, cache.step0
        alpha = self.dtype.type(self.alpha)
        W = [self.params[f"W{k + 1}"] for k in range(K)]
        da_buffer = np.empty((chunk_steps(T, B, P), B, H), dtype=self.dtype)
        for s, e, dh_window in bptt_chunks(dhs, P, self.dtype):
            da_window = da_buffer[:e - s]
            for t in reversed(range(s, e)):
                dh_t = dh_window[P + t - s]
                if is_skip_step(step0 + t, S):
                    dh_window[P + t - s - S] += dh_t
                da_window[t - s] = alpha * dh_t * (1 - np.tanh(cache.a[t]) ** 2)
                W_k = W[matrix_index(step0 + t, K)]
                dh_window[P + t - s - 1] += (1 - alpha) * dh_t + da_window[t - s] @ W_k
            self._add_param_grads(grads, da_window, cache, s)
            input_grad(da_window, self.params["Wx"], out=dx[s:e])
        return self._end_backward(dx, grads, dh_window[:P], return_dinit)


def leaky_forward(params, x, n_matrices=1, skip=0, h0=None, history=None, step0=0, alpha=0.5):
    """The equations above, one step at a time; ``step0`` the global index of step 0."""
    K, S, P, T = n_matrices, skip, max(1, skip), x.shape[1]
    h = start_history(x, params["b"].shape[0], P, h0, history)
    a = {}
    for t in range(T):
        W = params[f"W{matrix_index(step0 + t, K) + 1}"]
        a[t] = h[t - 1] @ W.T + x[:, t] @ params["Wx"].T + params["b"]
        h[t] = (1 - alpha) * h[t - 1] + alpha * np.tanh(a[t])
        if is_skip_step(step0 + t, S):
            h[t] = h[t] + h[t - S]
    cache = dict(x=x, h=h, a=a, params=params, K=K, S=S, P=P, step0=step0, alpha=alpha)
    return np.stack([h[t] for t in range(T)], axis=1), cache


def leaky_backward(dhs, cache):
    """BPTT for :func:`leaky_forward`: dx, grads, dh (dict t -> dL/dh(t), t = -P .. T-1)."""
    x, h, a, params = cache["x"], cache["h"], cache["a"], cache["params"]
    K, S, P, step0, alpha = cache["K"], cache["S"], cache["P"], cache["step0"], cache["alpha"]
    T = dhs.shape[1]
    dh = loss_part(dhs, P)
    grads = zero_grads(K, params["W1"], params["Wx"])
    dx = {}
    for t in reversed(range(T)):
        if is_skip_step(step0 + t, S):
            dh[t - S] += dh[t]
        da = alpha * dh[t] * (1 - np.tanh(a[t]) ** 2)
        name = f"W{matrix_index(step0 + t, K) + 1}"
        dh[t - 1] = dh[t - 1] + (1 - alpha) * dh[t] + da @ params[name]
        grads[name] += da.T @ h[t - 1]
        grads["Wx"] += da.T @ x[:, t]
        grads["b"] += da.sum(axis=0)
        dx[t] = da @ params["Wx"]
    return np.stack([dx[t] for t in range(T)], axis=1), grads, dh


#: The registry entry: the class, its reference and its hints (smooth, no kink; eps 1e-6).
ENTRIES = {"leaky": CellEntry(LeakyRNN, leaky_forward, leaky_backward, ("alpha",),
                              TestHints(eps=1e-6))}
