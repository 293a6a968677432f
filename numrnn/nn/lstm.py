r"""The paper's LSTM family: K recurrent matrices used in turn and a skip over S steps.

Forward, for t = 0 .. T-1 with h(-1) = h0 and c(-1) = c0, gates in the order i, f, g, o, and
:math:`k(t) = (t \bmod K) + 1`:

.. math::

    (L1)\quad z(t) &= W_{k(t)}\, h(t-1) + W_x\, x(t) + b \\
    (L2)\quad i, f, o &= \sigma(z_i), \sigma(z_f), \sigma(z_o), \qquad g = \tanh(z_g) \\
    (L3)\quad c(t) &= f \odot c(t-1) + i \odot g \\
    (L4)\quad h(t) &= o \odot \tanh(c(t)) + [\,(t+1) \bmod S = 0\,]\; h(t-S)

The skip is added to the output h only; the cell state has no skip.

Backward through time, for t = T-1 .. 0, where :math:`\delta h(t)` and :math:`\delta c(t)` are the
*total* gradients reaching h(t) and c(t) from everything after them:

.. math::

    (L5)\quad \delta h(t-S) &\mathrel{+}= \delta h(t) \quad \text{on skip steps (identity: no gate on it)} \\
    (L6)\quad \delta c(t) &\mathrel{+}= \delta h(t) \odot o \odot (1 - \tanh^2 c(t)) \\
    (L7)\quad \delta z_i, \delta z_f, \delta z_g, \delta z_o &= \delta c\, g\, i(1-i),\;
        \delta c\, c(t-1)\, f(1-f),\; \delta c\, i\, (1-g^2),\; \delta h\, \tanh c(t)\, o(1-o) \\
    (L8)\quad \delta c(t-1) &= \delta c(t) \odot f \quad \text{(the cell path)} \\
    (L9)\quad \delta h(t-1) &\mathrel{+}= W_{k(t)}^\top \delta z(t) \\
    (L10)\quad \frac{\partial L}{\partial W_k} &= \sum_{t:\,k(t)=k} \delta z(t)\, h(t-1)^\top \\
    (L11)\quad \frac{\partial L}{\partial W_x} &= \sum_t \delta z(t)\, x(t)^\top, \quad
    \frac{\partial L}{\partial b} = \sum_t \delta z(t), \quad \delta x(t) = W_x^\top \delta z(t)

The numbers are cited in the loops below and in :mod:`numrnn.nn.reference` (one step function
pair and one plain reversed loop: the same numbers, to 1e-12).

Versions of the paper: A (K=1, S=0), B (K=2, S=0), C (K=1, S=2), D (K=2, S=2), special (K=4, S=4).

Layout as in :mod:`numrnn.nn.rnn`: public arrays are batch-first, inside time comes first. Hidden
states live in ``h`` of shape (P + T, B, H) with P = max(1, S) slots of history in front
(``h[P + t]`` is h(t)); cell states in ``c`` of shape (1 + T, B, H) (``c[t + 1]`` is c(t), ``c[0]``
is c0). The gates of step t are ``gates[t]`` of shape (B, 4H), already through their nonlinearity.
"""
import functools
from dataclasses import dataclass

import numpy as np

from .._checks import check_finite
from . import activations
from .base import RecurrentCache, RecurrentLayer
from .kernels import bptt_chunks, chunk_steps, input_grad, input_part, transposed_matrices
from .schedule import is_skip_step, matrix_index


@dataclass(frozen=True)
class LSTMState:
    """What one chunk hands to the next so that chunked processing equals whole processing.

    history : (P, B, H) the last P = max(1, S) hidden states, oldest first; history[-1] is h(t-1).
    c : (B, H) the last cell state c(t-1).
    step0 : int, the global index of the next chunk's step 0 (how many steps came before).
    """
    history: np.ndarray
    c: np.ndarray
    step0: int = 0


@dataclass(frozen=True)
class LSTMCache(RecurrentCache):
    """Everything the LSTM's backward needs: gates : (T, B, 4H), i, f, g, o after their
    nonlinearity; c : (1 + T, B, H), the cell states (c[t + 1] is c(t)); tanh_c : (T, B, H),
    tanh(c(t)); x, h, step0 as in :class:`~numrnn.nn.base.RecurrentCache`. ``state`` and
    ``state_at(n)`` are :class:`LSTMState` (the history and c)."""
    x: np.ndarray
    gates: np.ndarray
    h: np.ndarray
    c: np.ndarray
    tanh_c: np.ndarray
    step0: int

    state_class = LSTMState

    def _carried_at(self, n):
        return {"c": self.c[n].copy()}                # c(n-1)


class LSTM(RecurrentLayer):
    """LSTM layer with K alternating matrices and a skip connection every S steps.

    Parameters
    ----------
    input_size, hidden_size, n_matrices, skip, init, scale, seed, dtype
        As :class:`~numrnn.nn.base.RecurrentLayer`; H is the size of h(t) and c(t), the skip is
        added to the output h(t), not to the cell state, and the init scheme draws each gate's
        H x H block separately.
    forget_bias : float, default 1.0
        Initial bias of the forget gate, so that f = sigmoid(1) ~ 0.73 at the start and the cell
        keeps its memory (Jozefowicz et al. 2015). The other biases start at 0.

    Attributes
    ----------
    params : dict
        "W1".."WK" (4H, H), "Wx" (4H, D), "b" (4H,); rows in gate order i, f, g, o.
    """
    n_gates = 4
    cache_class = LSTMCache
    state_class = LSTMState
    config_names = ("input_size", "hidden_size", "n_matrices", "skip", "init", "scale", "forget_bias")

    def __init__(self, input_size, hidden_size, n_matrices=1, skip=0, init="normal", scale=1.0,
                 forget_bias=1.0, seed=None, dtype=np.float64):
        self.forget_bias = check_finite("forget_bias", forget_bias)
        super().__init__(input_size, hidden_size, n_matrices, skip, init=init, scale=scale,
                         seed=seed, dtype=dtype)

    def _initial_bias(self):
        b = super()._initial_bias()
        b[self.hidden_size:2 * self.hidden_size] = self.forget_bias
        return b

    def forward(self, x, h0=None, c0=None, state=None):
        """Equations (L1)-(L4) for t = 0 .. T-1: x (B, T, D), h0 and c0 (B, H) (zeros by default)
        or a carried :class:`LSTMState` -> hs (B, T, H), :class:`LSTMCache`. See
        :meth:`RecurrentLayer.forward <numrnn.nn.base.RecurrentLayer.forward>`."""
        x, h, start = self._begin_forward(x, h0, state, c0=c0)  # x (T, B, D); h[P + t] will be h(t)
        T, B, _ = x.shape
        P, K, S, H, step0 = self.n_history, self.n_matrices, self.skip, self.hidden_size, start.step0
        c = np.empty((1 + T, B, H), dtype=self.dtype)
        tanh_c = np.empty((T, B, H), dtype=self.dtype)
        c[0] = start.c                                # c(-1)
        path = activations.GATE_PATH                 # "tanh" or "exp": the host's form of sigmoid/tanh
        Wx, b, W_T = _gate_weights(self.params, K, path)  # Wx, b, W_k^T, gate rows scaled (see there)
        gates = input_part(x, Wx, b, out=np.empty((T, B, 4 * H), dtype=self.dtype))  # Wx x(t) + b, all t
        for t in range(T):
            gates[t] += h[P + t - 1] @ W_T[matrix_index(step0 + t, K)]  # (L1) z(t) = W_k h(t-1) + ...
            i, f, g, o = _activate_gates(gates[t], path)  # (L2) i, f, o = sigmoid, g = tanh (in place)
            np.multiply(f, c[t], out=c[t + 1])        # (L3) c(t) = f c(t-1)
            c[t + 1] += i * g                         #             + i g
            activations.tanh_into(c[t + 1], tanh_c[t], path)
            np.multiply(o, tanh_c[t], out=h[P + t])   # (L4) h(t) = o tanh(c(t))
            if is_skip_step(step0 + t, S):
                h[P + t] += h[P + t - S]              # (L4)        + h(t-S)   on skip steps
        return self._outputs(h), LSTMCache(x=x, gates=gates, h=h, c=c, tanh_c=tanh_c, step0=step0)

    def backward(self, dhs, cache, return_dinit=False):
        """Equations (L5)-(L11) for t = T-1 .. 0: dhs (B, T, H) -> dx (B, T, D), grads (and dinit
        "h0", "c0", "history"). See :meth:`RecurrentLayer.backward <numrnn.nn.base.RecurrentLayer.backward>`."""
        dhs, dx, grads = self._begin_backward(dhs, cache)  # dhs (T, B, H) time-major
        T, B, H = dhs.shape
        P, K, S, step0 = self.n_history, self.n_matrices, self.skip, cache.step0
        W = [self.params[f"W{k + 1}"] for k in range(K)]
        dz_buffer = np.empty((chunk_steps(T, B, P), B, 4 * H), dtype=self.dtype)
        dc = np.zeros((B, H), dtype=self.dtype)       # dL/dc(t) from the steps after t
        for s, e, dh_window in bptt_chunks(dhs, P, self.dtype):  # dh_window[P + t - s] is dh(t)
            dz_window = dz_buffer[:e - s]                         # dz_window[t - s] is dz(t)
            for t in reversed(range(s, e)):           # dh(t) is complete: steps t+1, t+S came first
                dh_t, dz_t = dh_window[P + t - s], dz_window[t - s]
                if is_skip_step(step0 + t, S):
                    dh_window[P + t - s - S] += dh_t  # (L5) skip path: dh(t-S) += dh(t), no gate
                dc = _cell_backward(dh_t, dc, cache.gates[t], cache.tanh_c[t], cache.c[t],
                                    out=dz_t)         # (L6)-(L8) dz(t); returns dc(t-1) = dc(t) f
                dh_window[P + t - s - 1] += dz_t @ W[matrix_index(step0 + t, K)]  # (L9) += W_k^T dz(t)
            self._add_param_grads(grads, dz_window, cache, s)     # (L10), (L11) dW_k, dWx, db
            input_grad(dz_window, self.params["Wx"], out=dx[s:e])  # (L11) dx(t) = Wx^T dz(t)
        return self._end_backward(dx, grads, dh_window[:P], return_dinit, c0=dc)


def _gate_weights(params, K, path="tanh"):
    """Wx (4H, D), b (4H,) and [W_1^T .. W_K^T] (H, 4H) for the forward, each gate's rows scaled.

    Performance: :func:`_activate_gates` needs a multiple of z, not z, in each gate block: z / 2 on
    i, f, o for the "tanh" path (sigmoid(z) = (1 + tanh(z / 2)) / 2, g as it is); -z on i, f, o and
    -2 z on g for the "exp" path (sigmoid(z) = 1 / (1 + exp(-z)), tanh(z) = 2 sigmoid(2z) - 1). The
    factor is folded into the weights here, once per call, instead of one pass over every step's
    (B, 4H) gates. Scaling by -1, 1/2 or -2 is exact in floating point (only the sign and exponent
    change), so the forward's numbers are the same bits as with the plain weights. The loops'
    comments name z(t) as in the equations; what the forward's ``gates[t]`` holds before (L2) is
    z(t) with its blocks scaled.
    """
    s = _gate_constants(params["b"].shape[0] // 4, params["b"].dtype.type, path)[0]
    W_T = [w * s for w in transposed_matrices(params, K)]  # column j of W_k^T is row j of W_k
    return params["Wx"] * s[:, None], params["b"] * s, W_T


def _activate_gates(z, path="tanh"):
    """Apply sigmoid to the i, f, o blocks of z (B, 4H) and tanh to g, in place; return the views.

    z comes from :func:`_gate_weights`, its blocks scaled for ``path``. "tanh": sigmoid(z) =
    (1 + tanh(z / 2)) / 2, the same function, stable for every z (tanh never overflows): with a
    per-column scale s (1/2 on i, f, o and 1 on g) and shift m (1/2 on i, f, o and 0 on g), all four
    gates are s * tanh(s * z) + m, where s * z came in (3 passes). "exp": all four blocks through
    1 / (1 + exp(y)) at once (y = -z on i, f, o, -2z on g; overflow-safe, see
    :func:`~numrnn.nn.activations.reciprocal_one_plus_exp_`), then g = 2 sigmoid(2z) - 1 = tanh(z)
    on the g block (3 passes and 2 quarter passes, one exp instead of one tanh).
    """
    if path == "tanh":
        _, s, m = _gate_constants(z.shape[1] // 4, z.dtype.type, path)
        np.tanh(z, out=z)
        z *= s
        z += m
        return _gate_blocks(z)
    activations.reciprocal_one_plus_exp_(z)
    i, f, g, o = _gate_blocks(z)
    g *= 2
    g -= 1
    return i, f, g, o


def _gate_blocks(z):
    """The four (B, H) blocks of z (B, 4H) as views, gate order i, f, g, o (np.split, but cheaper)."""
    H = z.shape[-1] // 4
    return z[..., :H], z[..., H:2 * H], z[..., 2 * H:3 * H], z[..., 3 * H:]


@functools.lru_cache(maxsize=None)
def _gate_constants(H, dtype, path):
    """(4H,) weight scale, and for the "tanh" path the scale and shift of :func:`_activate_gates`,
    gate order i, f, g, o (read-only)."""
    sigmoid_gate = np.ones(4 * H, dtype=bool)
    sigmoid_gate[2 * H:3 * H] = False                 # g is the tanh gate
    if path == "tanh":
        weight_scale = np.where(sigmoid_gate, 0.5, 1.0).astype(dtype)
        shift = np.where(sigmoid_gate, 0.5, 0.0).astype(dtype)
        constants = (weight_scale, weight_scale, shift)
    elif path == "exp":
        constants = (np.where(sigmoid_gate, -1.0, -2.0).astype(dtype), None, None)
    else:
        raise ValueError(f"path must be one of {', '.join(activations.GATE_PATHS)}, got {path!r}")
    for array in constants:
        if array is not None:
            array.flags.writeable = False
    return constants


def _cell_backward(dh, dc, gates, tanh_c, c_prev, out):
    """One step back through the cell, gate by gate.

    Parameters
    ----------
    dh : (B, H) total dL/dh(t).   dc : (B, H) dL/dc(t) from step t+1 (through its forget gate).
    gates : (B, 4H) i, f, g, o of step t.   tanh_c : (B, H) tanh(c(t)).   c_prev : (B, H) c(t-1).
    out : (B, 4H) receives dz(t), the gradient of the pre-activations, gate order i, f, g, o.

    Returns
    -------
    dc_prev : (B, H) dL/dc(t-1) through the cell path.
    """
    i, f, g, o = _gate_blocks(gates)
    dz_i, dz_f, dz_g, dz_o = _gate_blocks(out)
    dc = dc + dh * o * (1 - tanh_c * tanh_c)          # (L6) total dc(t) = from c(t+1) + dh o tanh'(c)
    np.multiply(dc, g, out=dz_i)                      # (L7) c = f c(t-1) + i g:  di = dc g
    np.multiply(dc, c_prev, out=dz_f)                 #                       df = dc c(t-1)
    np.multiply(dc, i, out=dz_g)                      #                       dg = dc i
    np.multiply(dh, tanh_c, out=dz_o)                 # h = o tanh(c):        do = dh tanh(c)
    out *= _gate_derivatives(gates)                   # (L7) dz = d(gate) gate'(z), all four at once
    return dc * f                                     # (L8) cell path: dc(t-1) = dc(t) f


def _gate_derivatives(gates):
    """(B, 4H) derivative of each gate by its pre-activation: s (1 - s) for i, f, o; 1 - g^2 for g."""
    H = gates.shape[-1] // 4
    d = gates * (1 - gates)                           # sigmoid'(z) = s (1 - s)
    g = gates[..., 2 * H:3 * H]
    d[..., 2 * H:3 * H] = 1 - g * g                   # tanh'(z) = 1 - g^2
    return d


__all__ = ["LSTM", "LSTMCache", "LSTMState"]
