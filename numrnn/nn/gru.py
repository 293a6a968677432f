r"""The paper's GRU family: K recurrent matrices used in turn and a skip over S steps.

Forward, for t = 0 .. T-1 with h(-1) = h0, gates in the order r, z, n (reset, update, candidate),
:math:`k(t) = (t \bmod K) + 1`; the recurrent product is split as
:math:`a = W_{k(t)} h(t-1) = (a_r, a_z, a_n)` and the input part as :math:`u = W_x x(t) + b = (u_r, u_z, u_n)`:

.. math::

    (G1)\quad a(t) &= W_{k(t)}\, h(t-1), \qquad u(t) = W_x\, x(t) + b \\
    (G2)\quad r &= \sigma(u_r + a_r), \qquad z = \sigma(u_z + a_z) \\
    (G3)\quad n &= \tanh(u_n + r \odot a_n) \\
    (G4)\quad h(t) &= (1 - z) \odot n + z \odot h(t-1) + [\,(t+1) \bmod S = 0\,]\; h(t-S)

The reset gate scales the recurrent product (the form of cuDNN and PyTorch), so one product
:math:`W_k h(t-1)` per step serves all three gates.

Backward through time, for t = T-1 .. 0, where :math:`\delta h(t)` is the *total* gradient reaching
h(t) from everything after it:

.. math::

    (G5)\quad \delta h(t-S) &\mathrel{+}= \delta h(t) \quad \text{on skip steps (identity: no gate on it)} \\
    (G6)\quad \delta h(t-1) &\mathrel{+}= \delta h(t) \odot z \quad \text{(the update path)} \\
    (G7)\quad \delta u_n &= \delta h\,(1-z)\,(1-n^2), \quad \delta a_n = \delta u_n \odot r \\
    (G8)\quad \delta u_r &= \delta a_r = \delta u_n\, a_n\, r(1-r), \quad
        \delta u_z = \delta a_z = \delta h\,(h(t-1) - n)\, z(1-z) \\
    (G9)\quad \delta h(t-1) &\mathrel{+}= W_{k(t)}^\top\, \delta a(t) \\
    (G10)\quad \frac{\partial L}{\partial W_k} &= \sum_{t:\,k(t)=k} \delta a(t)\, h(t-1)^\top \\
    (G11)\quad \frac{\partial L}{\partial W_x} &= \sum_t \delta u(t)\, x(t)^\top, \quad
    \frac{\partial L}{\partial b} = \sum_t \delta u(t), \quad \delta x(t) = W_x^\top \delta u(t)

The numbers are cited in the loops below and in :mod:`numrnn.nn.reference` (one step function
pair and one plain reversed loop: the same numbers, to 1e-12).

Layout as in :mod:`numrnn.nn.rnn`: hidden states in ``h`` of shape (P + T, B, H) with P = max(1, S)
slots of history in front (``h[P + t]`` is h(t)), and the carried state is an
:class:`~numrnn.nn.base.RNNState`.
"""
from dataclasses import dataclass

import numpy as np

from . import activations
from .base import RecurrentCache, RecurrentLayer
from .kernels import bptt_chunks, chunk_steps, input_grad, input_part, transposed_matrices
from .schedule import is_skip_step, matrix_index


@dataclass(frozen=True)
class GRUCache(RecurrentCache):
    """Everything the GRU's backward needs: gates : (T, B, 3H), r, z, n after their nonlinearity;
    a_n : (T, B, H), the candidate's recurrent part (W_k h(t-1))_n before the reset gate; x, h,
    step0 and ``state``/``state_at(n)`` (an :class:`~numrnn.nn.base.RNNState`) as in
    :class:`~numrnn.nn.base.RecurrentCache`."""
    x: np.ndarray
    gates: np.ndarray
    a_n: np.ndarray
    h: np.ndarray
    step0: int


class GRU(RecurrentLayer):
    """GRU layer with K alternating matrices and a skip connection every S steps.

    Parameters
    ----------
    input_size, hidden_size, n_matrices, skip, init, scale, seed, dtype
        As :class:`~numrnn.nn.base.RecurrentLayer`; the init scheme draws each gate's H x H block
        separately.

    Attributes
    ----------
    params : dict
        "W1".."WK" (3H, H), "Wx" (3H, D), "b" (3H,); rows in gate order r, z, n.
    """
    n_gates = 3
    cache_class = GRUCache

    def forward(self, x, h0=None, state=None):
        """Equations (G1)-(G4) for t = 0 .. T-1: x (B, T, D), h0 (B, H) or a carried
        :class:`~numrnn.nn.base.RNNState` -> hs (B, T, H), :class:`GRUCache`. See
        :meth:`RecurrentLayer.forward <numrnn.nn.base.RecurrentLayer.forward>`."""
        x, h, start = self._begin_forward(x, h0, state)   # x (T, B, D); h[P + t] will be h(t)
        T, B, _ = x.shape
        P, K, S, H, step0 = self.n_history, self.n_matrices, self.skip, self.hidden_size, start.step0
        a_n = np.empty((T, B, H), dtype=self.dtype)
        gates = input_part(x, self.params["Wx"], self.params["b"],
                           out=np.empty((T, B, 3 * H), dtype=self.dtype))  # (G1) u(t), all t
        W_T = transposed_matrices(self.params, K)
        path = activations.GATE_PATH                 # "tanh" or "exp": the host's form of sigmoid/tanh
        for t in range(T):
            a = h[P + t - 1] @ W_T[matrix_index(step0 + t, K)]  # (G1) a(t) = W_k h(t-1) = (a_r, a_z, a_n)
            r_z = gates[t, :, :2 * H]
            r_z += a[:, :2 * H]
            activations.sigmoid_(r_z, path)          # (G2) r, z = sigmoid(u + a), in place
            r, z, n = _blocks(gates[t])               # views; n still holds u_n
            a_n[t] = a[:, 2 * H:]
            activations.tanh_into(n + r * a_n[t], n, path)  # (G3) n = tanh(u_n + r a_n)
            h[P + t] = n + z * (h[P + t - 1] - n)     # (G4) h(t) = (1-z) n + z h(t-1)
            if is_skip_step(step0 + t, S):
                h[P + t] += h[P + t - S]              # (G4)        + h(t-S)   on skip steps
        return self._outputs(h), GRUCache(x=x, gates=gates, a_n=a_n, h=h, step0=step0)

    def backward(self, dhs, cache, return_dinit=False):
        """Equations (G5)-(G11) for t = T-1 .. 0: dhs (B, T, H) -> dx (B, T, D), grads (and dinit
        "h0", "history"). See :meth:`RecurrentLayer.backward <numrnn.nn.base.RecurrentLayer.backward>`."""
        dhs, dx, grads = self._begin_backward(dhs, cache)  # dhs (T, B, H) time-major
        T, B, H = dhs.shape
        P, K, S, step0 = self.n_history, self.n_matrices, self.skip, cache.step0
        W = [self.params[f"W{k + 1}"] for k in range(K)]
        du_buffer = np.empty((chunk_steps(T, B, P), B, 3 * H), dtype=self.dtype)
        da_buffer = np.empty_like(du_buffer)
        for s, e, dh_window in bptt_chunks(dhs, P, self.dtype):  # dh_window[P + t - s] is dh(t)
            du_window, da_window = du_buffer[:e - s], da_buffer[:e - s]  # du(t), da(t) at [t - s]
            for t in reversed(range(s, e)):           # dh(t) is complete: steps t+1, t+S came first
                dh_t = dh_window[P + t - s]
                if is_skip_step(step0 + t, S):
                    dh_window[P + t - s - S] += dh_t  # (G5) skip path: dh(t-S) += dh(t), no gate
                dh_window[P + t - s - 1] += _cell_backward(
                    dh_t, cache.h[P + t - 1], cache.gates[t], cache.a_n[t],
                    du_window[t - s], da_window[t - s])  # (G6)-(G8); returns the update path dh z
                dh_window[P + t - s - 1] += da_window[t - s] @ W[matrix_index(step0 + t, K)]  # (G9)
            self._add_param_grads(grads, da_window, cache, s, d_in=du_window)  # (G10), (G11)
            input_grad(du_window, self.params["Wx"], out=dx[s:e])  # (G11) dx(t) = Wx^T du(t)
        return self._end_backward(dx, grads, dh_window[:P], return_dinit)


def _cell_backward(dh, h_prev, gates, a_n, du, da):
    """One step back through the gates.

    Parameters
    ----------
    dh : (B, H) total dL/dh(t).   h_prev : (B, H) h(t-1).   gates : (B, 3H) r, z, n of step t.
    a_n : (B, H) the candidate's recurrent part before the reset gate.
    du, da : (B, 3H) receive dL/du(t) and dL/da(t), gate order r, z, n.

    Returns
    -------
    dh_prev : (B, H) the part of dL/dh(t-1) through the update gate's direct path, dh z.
    """
    r, z, n = _blocks(gates)
    du_r, du_z, du_n = _blocks(du)
    da_r, da_z, da_n = _blocks(da)
    du_n[...] = dh * (1 - z) * (1 - n * n)            # (G7) h = (1-z) n + z h(t-1), n = tanh(u_n + r a_n)
    da_n[...] = du_n * r                              # (G7)
    du_r[...] = du_n * a_n * r * (1 - r)              # (G8) r = sigmoid(u_r + a_r)
    du_z[...] = dh * (h_prev - n) * z * (1 - z)       # (G8) z = sigmoid(u_z + a_z)
    da_r[...] = du_r                                  # r and z see u and a alike
    da_z[...] = du_z
    return dh * z                                     # (G6) update path: dh(t-1) += dh z


def _blocks(a):
    """The gate blocks r, z, n of a (B, 3H) array, as views."""
    H = a.shape[1] // 3
    return a[:, :H], a[:, H:2 * H], a[:, 2 * H:]


__all__ = ["GRU", "GRUCache"]
