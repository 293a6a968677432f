r"""The paper's RNN family: K recurrent matrices used in turn and a skip over S steps.

Forward, for t = 0 .. T-1 with h(-1) = h0, :math:`k(t) = (t \bmod K) + 1` and
:math:`[\text{skip}(t)] = [(t+1) \bmod S = 0]`:

.. math::

    (1)\quad a(t) &= W_{k(t)}\, h(t-1) + W_x\, x(t) + b \\
    (2)\quad h(t) &= \phi(a(t)) + [\text{skip}(t)]\; \alpha\, h(t-S)

Backward through time, for t = T-1 .. 0, where :math:`\delta h(t)` is the *total* gradient
reaching h(t) (from the loss, from step t+1 and, if step t+S skips to it, from step t+S):

.. math::

    (3)\quad \delta h(t-S) &\mathrel{+}= \alpha\, \delta h(t) \quad \text{on skip steps (no } \phi' \text{)} \\
    (4)\quad \delta a(t) &= \delta h(t) \odot \phi'(a(t)) \\
    (5)\quad \delta h(t-1) &\mathrel{+}= W_{k(t)}^\top \delta a(t) \\
    (6)\quad \frac{\partial L}{\partial W_k} &= \sum_{t:\,k(t)=k} \delta a(t)\, h(t-1)^\top \\
    (7)\quad \frac{\partial L}{\partial W_x} &= \sum_t \delta a(t)\, x(t)^\top, \quad
    \frac{\partial L}{\partial b} = \sum_t \delta a(t), \quad \delta x(t) = W_x^\top \delta a(t) \\
    (8)\quad \frac{\partial L}{\partial \alpha} &= \sum_{t:\,\text{skip}(t)} \langle \delta h(t),\, h(t-S) \rangle
    \quad \text{(summed over batch and units; only when } \alpha \text{ is learned)}

The numbers are cited in the loops below and in :mod:`numrnn.nn.reference`, which computes the same
numbers with one step function and one plain reversed loop (the code to read next to the paper).

Versions of the paper: A (K=1, S=0), B (K=2, S=0), C (K=1, S=2), D (K=2, S=2), special (K=4, S=4).
The paper's skip has :math:`\alpha = 1` (``skip_scale``, the default); a fixed :math:`\alpha < 1`
damps what the skip carries (:math:`\alpha = 0` is the relu path alone, the version without a skip).
With ``learn_skip_scale=True`` :math:`\alpha` is a trained parameter, ``params["alpha"]`` (shape (1,),
starting at ``skip_scale``), and (8) is its gradient.

Layout: the public arrays are batch-first, (B, T, ·). Inside, time comes first so that the slice of
one step, ``a[t]`` of shape (B, H), is contiguous. The hidden states live in one buffer ``h`` of
shape (P + T, B, H) with P = max(1, S) slots of history in front: ``h[P + t]`` holds h(t), and
``h[P - 1]`` holds h(-1) = h0. Reading h(t-1) and h(t-S) is then plain indexing.
"""
from dataclasses import dataclass

import numpy as np

from .._checks import check_choice
from .activations import ACTIVATIONS
from .base import RecurrentCache, RecurrentLayer, RNNState
from .kernels import bptt_chunks, chunk_steps, input_grad, input_part, transposed_matrices
# older lstm.py revisions import _sum_outer from here (benchmarks/compare_revisions.py loads them)
from .kernels import sum_outer as _sum_outer  # noqa: F401
from .schedule import is_skip_step, matrix_index


@dataclass(frozen=True)
class RNNCache(RecurrentCache):
    """Everything the RNN's backward needs: a : (T, B, H), the pre-activations a(t); x, h, step0
    and ``state``/``state_at(n)`` (an :class:`~numrnn.nn.base.RNNState`) as in
    :class:`~numrnn.nn.base.RecurrentCache`."""
    x: np.ndarray
    a: np.ndarray
    h: np.ndarray
    step0: int


class RNN(RecurrentLayer):
    r"""Recurrent layer with K alternating matrices and a skip connection every S steps.

    Parameters
    ----------
    input_size, hidden_size, n_matrices, skip, init, scale, seed, dtype
        As :class:`~numrnn.nn.base.RecurrentLayer`: D, H, K, S, the recurrent initialisation
        ("normal" N(0, scale^2/H), "orthogonal", or "identity", the IRNN of Le et al. 2015) and its
        gain, the seed and float32/float64.
    activation : {"relu", "tanh"}, default "relu"
        :math:`\phi`; the paper uses relu.
    skip_scale : float, default 1.0
        :math:`\alpha` of (2): the skip adds :math:`\alpha\, h(t-S)`; 1 is the paper's skip
        (bit for bit). Fixed, unless ``learn_skip_scale``; then its starting value.
    learn_skip_scale : bool, default False
        Train :math:`\alpha`: a one-entry parameter ``params["alpha"]`` (shape (1,), the layer's
        dtype; not shape (): numpy arithmetic turns a 0-d array into a scalar, and the optimisers,
        clipping and checkpoints work on arrays) with gradient (8). Needs a skip (S >= 2). False:
        the paper's layer, bit for bit, and its config and checkpoints as before.

    Attributes
    ----------
    params : dict
        "W1".."WK" (H, H), "Wx" (H, D), "b" (H,), and "alpha" (1,) when ``learn_skip_scale``.
    """
    n_gates = 1
    cache_class = RNNCache
    config_names = ("input_size", "hidden_size", "n_matrices", "skip", "activation", "init", "scale")
    repr_names = ("input_size", "hidden_size", "n_matrices", "skip", "activation")

    def __init__(self, input_size, hidden_size, n_matrices=1, skip=0, activation="relu",
                 init="normal", scale=1.0, seed=None, dtype=np.float64, skip_scale=1.0,
                 learn_skip_scale=False):
        self.activation = check_choice("activation", activation, ACTIVATIONS)
        if isinstance(skip_scale, bool) or not isinstance(skip_scale, (int, float, np.floating, np.integer)) \
                or not np.isfinite(skip_scale):
            raise ValueError(f"skip_scale must be a finite number (alpha of h(t) = phi(a(t)) + alpha "
                             f"h(t-S)), got {skip_scale!r}")
        self.skip_scale = float(skip_scale)
        if not isinstance(learn_skip_scale, (bool, np.bool_)):
            raise ValueError(f"learn_skip_scale must be True or False, got {learn_skip_scale!r}")
        self.learn_skip_scale = bool(learn_skip_scale)
        super().__init__(input_size, hidden_size, n_matrices, skip, init=init, scale=scale,
                         seed=seed, dtype=dtype)
        if self.learn_skip_scale and self.skip < 2:
            raise ValueError(f"learn_skip_scale=True needs a skip (skip S >= 2), got skip={self.skip}: "
                             f"alpha scales h(t-S) on the skip steps, and with S < 2 there are none, "
                             f"so alpha would never act nor learn")

    def _initial_params(self, rng):
        """As :meth:`RecurrentLayer._initial_params` (the same draws), plus "alpha" = skip_scale
        when it is learned."""
        params = super()._initial_params(rng)
        if self.learn_skip_scale:
            params["alpha"] = np.array([self.skip_scale], dtype=self.dtype)   # (1,): see learn_skip_scale
        return params

    @property
    def alpha(self):
        """The skip scale in use: ``params["alpha"]`` when learned, else ``skip_scale``."""
        return self.params["alpha"][0] if self.learn_skip_scale else self.skip_scale

    @property
    def config(self):
        """As :attr:`RecurrentLayer.config`, with ``skip_scale`` only when it is not 1 (the paper's
        skip) and ``learn_skip_scale`` only when True, so configs and checkpoints of the paper's RNN
        stay as they were. A learned alpha's config holds its start; its value is a parameter."""
        config = super().config
        if self.skip_scale != 1.0:
            config["skip_scale"] = self.skip_scale
        if self.learn_skip_scale:
            config["learn_skip_scale"] = True
        return config

    def forward(self, x, h0=None, state=None):
        """Equations (1)-(2) for t = 0 .. T-1: x (B, T, D), h0 (B, H) or a carried
        :class:`~numrnn.nn.base.RNNState` -> hs (B, T, H), :class:`RNNCache`. See
        :meth:`RecurrentLayer.forward <numrnn.nn.base.RecurrentLayer.forward>`."""
        x, h, start = self._begin_forward(x, h0, state)   # x (T, B, D); h[P + t] will be h(t)
        T, B, _ = x.shape
        P, K, S, step0 = self.n_history, self.n_matrices, self.skip, start.step0
        act, _ = ACTIVATIONS[self.activation]
        alpha = self.alpha
        W_T = transposed_matrices(self.params, K)
        a = np.empty((T, B, self.hidden_size), dtype=self.dtype)
        C = chunk_steps(T, B, P)
        for s in range(0, T, C):                      # chunks of steps (see input_part)
            e = min(s + C, T)
            input_part(x[s:e], self.params["Wx"], self.params["b"], out=a[s:e])  # Wx x(t) + b
            for t in range(s, e):
                a[t] += h[P + t - 1] @ W_T[matrix_index(step0 + t, K)]  # (1) a(t) = W_k h(t-1) + ...
                act(a[t], out=h[P + t])               # (2) h(t) = act(a(t))
                if is_skip_step(step0 + t, S):           # (2)        + alpha h(t-S) on skip steps
                    h[P + t] += h[P + t - S] if alpha == 1.0 else alpha * h[P + t - S]
        return self._outputs(h), RNNCache(x=x, a=a, h=h, step0=step0)

    def backward(self, dhs, cache, return_dinit=False):
        """Equations (3)-(8) for t = T-1 .. 0: dhs (B, T, H) -> dx (B, T, D), grads (and dinit
        "h0", "history"). See :meth:`RecurrentLayer.backward <numrnn.nn.base.RecurrentLayer.backward>`.

        Performance: act'(a(t)) of (4) is taken for a whole chunk of steps at once, written into
        the chunk's da buffer that (4) then overwrites with da(t) (one pass over the chunk instead of
        a comparison and a cast per step, and no extra memory; the same numbers).
        """
        dhs, dx, grads = self._begin_backward(dhs, cache)  # dhs (T, B, H) time-major
        T, B, H = dhs.shape
        P, K, S, step0 = self.n_history, self.n_matrices, self.skip, cache.step0
        _, act_grad = ACTIVATIONS[self.activation]
        alpha, learned = self.alpha, self.learn_skip_scale
        W = [self.params[f"W{k + 1}"] for k in range(K)]
        da_buffer = np.empty((chunk_steps(T, B, P), B, H), dtype=self.dtype)
        for s, e, dh_window in bptt_chunks(dhs, P, self.dtype):  # dh_window[P + t - s] is dh(t)
            da_window = da_buffer[:e - s]                         # da_window[t - s] is da(t)
            act_grad(cache.a[s:e], out=da_window)                 # act'(a(t)) until (4) makes it da(t)
            for t in reversed(range(s, e)):           # dh(t) is complete: steps t+1, t+S came first
                dh_t, da_t = dh_window[P + t - s], da_window[t - s]
                if is_skip_step(step0 + t, S):           # (3) skip path: dh(t-S) += alpha dh(t), no act'
                    dh_window[P + t - s - S] += dh_t if alpha == 1.0 else alpha * dh_t
                    if learned:                          # (8) dalpha += <dh(t), h(t-S)>
                        grads["alpha"] += np.vdot(dh_t, cache.h[P + t - S])
                np.multiply(dh_t, da_t, out=da_t)    # (4) da(t) = dh(t) act'(a(t))
                dh_window[P + t - s - 1] += da_t @ W[matrix_index(step0 + t, K)]  # (5) dh(t-1) += W_k^T da(t)
            self._add_param_grads(grads, da_window, cache, s)     # (6), (7) dW_k, dWx, db
            input_grad(da_window, self.params["Wx"], out=dx[s:e])  # (7) dx(t) = Wx^T da(t)
        return self._end_backward(dx, grads, dh_window[:P], return_dinit)  # dh(-P) .. dh(-1)


__all__ = ["RNN", "RNNCache", "RNNState"]
