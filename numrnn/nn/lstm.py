r"""The paper's LSTM family: K recurrent matrices used in turn and a skip over S steps.

Forward, for t = 0 .. T-1 with h(-1) = h0 and c(-1) = c0, gates in the order i, f, g, o:

.. math::

    z(t) &= W_{k(t)}\, h(t-1) + W_x\, x(t) + b, \qquad k(t) = (t \bmod K) + 1 \\
    i, f, o &= \sigma(z_i), \sigma(z_f), \sigma(z_o), \qquad g = \tanh(z_g) \\
    c(t) &= f \odot c(t-1) + i \odot g \\
    h(t) &= o \odot \tanh(c(t)) + [\,(t+1) \bmod S = 0\,]\; h(t-S)

The skip is added to the output h only; the cell state has no skip.

Backward through time, for t = T-1 .. 0, where :math:`\delta h(t)` and :math:`\delta c(t)` are the
*total* gradients reaching h(t) and c(t) from everything after them:

.. math::

    \delta h(t-S) &\mathrel{+}= \delta h(t) \quad \text{on skip steps (identity: no gate on it)} \\
    \delta c(t) &\mathrel{+}= \delta h(t) \odot o \odot (1 - \tanh^2 c(t)) \\
    \delta z_i, \delta z_f, \delta z_g, \delta z_o &= \delta c\, g\, i(1-i),\;
        \delta c\, c(t-1)\, f(1-f),\; \delta c\, i\, (1-g^2),\; \delta h\, \tanh c(t)\, o(1-o) \\
    \delta c(t-1) &= \delta c(t) \odot f \quad \text{(the cell path)} \\
    \delta h(t-1) &\mathrel{+}= W_{k(t)}^\top \delta z(t) \\
    \frac{\partial L}{\partial W_k} &= \sum_{t:\,k(t)=k} \delta z(t)\, h(t-1)^\top, \quad
    \frac{\partial L}{\partial W_x} = \sum_t \delta z(t)\, x(t)^\top, \quad
    \frac{\partial L}{\partial b} = \sum_t \delta z(t)

Versions of the paper: A (K=1, S=0), B (K=2, S=0), C (K=1, S=2), D (K=2, S=2), special (K=4, S=4).

Layout as in :mod:`numrnn.nn.rnn`: public arrays are batch-first, inside time comes first. Hidden
states live in ``h`` of shape (P + T, B, H) with P = max(1, S) slots of history in front
(``h[P + t]`` is h(t)); cell states in ``c`` of shape (1 + T, B, H) (``c[t + 1]`` is c(t), ``c[0]``
is c0). The gates of step t are ``gates[t]`` of shape (B, 4H), already through their nonlinearity.
"""
import functools
from dataclasses import dataclass

import numpy as np

from . import init as initialisers
from .._checks import check_array, check_choice, check_dtype, check_int
from .rnn import _chunk_steps, _sum_outer
from .schedule import check_schedule, is_skip_step, matrix_index, version


@dataclass(frozen=True)
class LSTMState:
    """What one chunk hands to the next so that chunked processing equals whole processing.

    history : (P, B, H) the last P = max(1, S) hidden states, oldest first; history[-1] is h(t-1).
    c : (B, H) the last cell state c(t-1).
    steps : int, how many steps came before, so that the matrix schedule and skip steps continue.
    """
    history: np.ndarray
    c: np.ndarray
    steps: int = 0


@dataclass(frozen=True)
class LSTMCache:
    """Everything the backward needs, time-major.

    x : (T, B, D) inputs.  gates : (T, B, 4H) i, f, g, o after their nonlinearity.
    h : (P + T, B, H) hidden states with P slots of history in front (h[P + t] is h(t)).
    c : (1 + T, B, H) cell states, c[t + 1] is c(t).  tanh_c : (T, B, H) tanh(c(t)).
    steps : global index of local step 0 (0 unless a carried state was given).
    """
    x: np.ndarray
    gates: np.ndarray
    h: np.ndarray
    c: np.ndarray
    tanh_c: np.ndarray
    steps: int

    @property
    def state(self):
        """The :class:`LSTMState` to carry into the next chunk."""
        P = self.h.shape[0] - self.gates.shape[0]
        return LSTMState(history=self.h[-P:].copy(), c=self.c[-1].copy(),
                         steps=self.steps + self.gates.shape[0])


class LSTM:
    """LSTM layer with K alternating matrices and a skip connection every S steps.

    Parameters
    ----------
    input_size : int
        D, the size of x(t).
    hidden_size : int
        H, the size of h(t) and c(t).
    n_matrices : int, default 1
        K >= 1 recurrent matrices W1..WK; step t uses W_{(t mod K)+1}.
    skip : int, default 0
        S >= 0; on steps with (t+1) mod S == 0, h(t-S) is added to the output h(t) (not to the
        cell state). S = 0 or 1 means no skip.
    init : {"normal", "orthogonal", "identity"}, default "normal"
        Scheme of the recurrent matrices, applied to each gate's H x H block separately. "normal"
        draws N(0, scale^2/H) entries. Wx is always drawn N(0, 1/D).
    scale : float, default 1.0
        Gain of the recurrent initialisation.
    forget_bias : float, default 1.0
        Initial bias of the forget gate, so that f = sigmoid(1) ~ 0.73 at the start and the cell
        keeps its memory (Jozefowicz et al. 2015). The other biases start at 0.
    seed : int or numpy.random.Generator, optional
        Seeds the initialisation: the same seed gives the same bits.
    dtype : float32 or float64, default float64
        float64 for gradient checks, float32 for training.

    Attributes
    ----------
    params : dict
        "W1".."WK" (4H, H), "Wx" (4H, D), "b" (4H,); rows in gate order i, f, g, o.
    """

    def __init__(self, input_size, hidden_size, n_matrices=1, skip=0, init="normal", scale=1.0,
                 forget_bias=1.0, seed=None, dtype=np.float64):
        self.input_size = check_int("input_size", input_size, 1)
        self.hidden_size = check_int("hidden_size", hidden_size, 1)
        self.n_matrices, self.skip = check_schedule(n_matrices, skip)
        self.init = check_choice("init", init, initialisers.INITS)
        self.scale = _check_finite("scale", scale)
        self.forget_bias = _check_finite("forget_bias", forget_bias)
        self.dtype = check_dtype("dtype", dtype)
        self.params = self._initial_params(initialisers.as_generator(seed))

    @classmethod
    def from_version(cls, name, input_size, hidden_size, **kwargs):
        """Build a paper version by name ("A", "B", "C", "D", "special")."""
        n_matrices, skip = version(name)
        return cls(input_size, hidden_size, n_matrices=n_matrices, skip=skip, **kwargs)

    def _initial_params(self, rng):
        H, D = self.hidden_size, self.input_size
        params = {f"W{k + 1}": self._recurrent_matrix(rng) for k in range(self.n_matrices)}
        params["Wx"] = initialisers.normal(rng, (4 * H, D))
        params["b"] = np.zeros(4 * H)
        params["b"][H:2 * H] = self.forget_bias
        return {name: value.astype(self.dtype) for name, value in params.items()}

    def _recurrent_matrix(self, rng):
        """(4H, H): one H x H block per gate, i, f, g, o, each drawn by the init scheme."""
        H = self.hidden_size
        return np.concatenate([initialisers.recurrent_matrix(self.init, rng, (H, H), self.scale)
                               for _gate in "ifgo"])

    @property
    def config(self):
        """The constructor arguments (without seed), enough to rebuild the layer."""
        return dict(input_size=self.input_size, hidden_size=self.hidden_size,
                    n_matrices=self.n_matrices, skip=self.skip, init=self.init, scale=self.scale,
                    forget_bias=self.forget_bias, dtype=self.dtype.name)

    def __repr__(self):
        return (f"LSTM(input_size={self.input_size}, hidden_size={self.hidden_size}, "
                f"n_matrices={self.n_matrices}, skip={self.skip})")

    @property
    def n_history(self):
        """P = max(1, S): how many past hidden states a step can read."""
        return max(1, self.skip)

    # ------------------------------------------------------------------ forward
    def forward(self, x, h0=None, c0=None, state=None):
        """Run the LSTM over a whole sequence.

        Parameters
        ----------
        x : ndarray, shape (B, T, D)
        h0 : ndarray, shape (B, H), optional
            h(-1); zeros by default.
        c0 : ndarray, shape (B, H), optional
            c(-1); zeros by default.
        state : LSTMState, optional
            Carried from a previous chunk (``cache.state``); excludes ``h0`` and ``c0``.

        Returns
        -------
        hs : ndarray, shape (B, T, H)
            h(0) .. h(T-1), a read-only view into the cache.
        cache : LSTMCache
        """
        x = check_array("x", x, 3, (None, None, self.input_size), self.dtype)
        B, T, _ = x.shape
        if T < 1 or B < 1:
            raise ValueError(f"x must hold at least one sequence of one step, got shape {x.shape}")
        P, K, S, H = self.n_history, self.n_matrices, self.skip, self.hidden_size
        W, Wx, b = self.params, self.params["Wx"], self.params["b"]

        W_T = [np.ascontiguousarray(W[f"W{k + 1}"].T) for k in range(K)]  # contiguous W_k^T: faster
        h = np.empty((P + T, B, H), dtype=self.dtype)
        c = np.empty((1 + T, B, H), dtype=self.dtype)
        tanh_c = np.empty((T, B, H), dtype=self.dtype)
        h[:P], c[0], t0 = self._initial_state(B, h0, c0, state)  # h(-P)..h(-1), c(-1)
        x = np.ascontiguousarray(x.transpose(1, 0, 2))  # (T, B, D), time-major (D is small)
        gates = np.empty((T, B, 4 * H), dtype=self.dtype)
        np.matmul(x.reshape(T * B, -1), Wx.T, out=gates.reshape(T * B, -1))  # Wx x(t) + b for all t:
        gates += b                                                            # one product

        for t in range(T):
            k = matrix_index(t0 + t, K)
            gates[t] += h[P + t - 1] @ W_T[k]             # z(t) = W_k h(t-1) + Wx x(t) + b
            i, f, g, o = _activate_gates(gates[t])        # i, f, o = sigmoid, g = tanh (in place)
            np.multiply(f, c[t], out=c[t + 1])            # c(t) = f c(t-1)
            c[t + 1] += i * g                             #        + i g
            np.tanh(c[t + 1], out=tanh_c[t])
            np.multiply(o, tanh_c[t], out=h[P + t])       # h(t) = o tanh(c(t))
            if is_skip_step(t0 + t, S):
                h[P + t] += h[P + t - S]                  #        + h(t-S)   on skip steps

        hs = h[P:].transpose(1, 0, 2)
        hs.flags.writeable = False
        return hs, LSTMCache(x=x, gates=gates, h=h, c=c, tanh_c=tanh_c, steps=t0)

    def _initial_state(self, B, h0, c0, state):
        """The P history slots in front of h(0), c(-1), and the global index of step 0."""
        P, H = self.n_history, self.hidden_size
        if state is not None:
            if h0 is not None or c0 is not None:
                raise ValueError("give either h0/c0 or state, not both")
            if not isinstance(state, LSTMState):
                raise TypeError(f"state must be an LSTMState, got {type(state).__name__}")
            return (check_array("state.history", state.history, 3, (P, B, H)),
                    check_array("state.c", state.c, 2, (B, H)),
                    check_int("state.steps", state.steps, 0))
        history = np.zeros((P, B, H), dtype=self.dtype)
        if h0 is not None:
            history[-1] = check_array("h0", h0, 2, (B, H))
        c = np.zeros((B, H)) if c0 is None else check_array("c0", c0, 2, (B, H))
        return history, c, 0

    # ----------------------------------------------------------------- backward
    def backward(self, dhs, cache, return_dinit=False):
        """Backpropagation through time.

        Parameters
        ----------
        dhs : ndarray, shape (B, T, H)
            dL/dh(t) from whatever uses the outputs (only the direct part, not through the LSTM).
        cache : LSTMCache
            From :meth:`forward`.
        return_dinit : bool
            Also return ``{"h0": dL/dh0 (B, H), "c0": dL/dc0 (B, H),
            "history": dL/dhistory (P, B, H)}``.

        Returns
        -------
        dx : ndarray, shape (B, T, D)
        grads : dict
            Fresh arrays with the keys and shapes of :attr:`params`: calling backward again gives
            the same result and nothing accumulates across calls.
        dinit : dict, only with ``return_dinit=True``
        """
        if not isinstance(cache, LSTMCache):
            raise TypeError(f"cache must be the LSTMCache returned by forward, got {type(cache).__name__}")
        T, B, _ = cache.gates.shape
        dhs = check_array("dhs", dhs, 3, (B, T, self.hidden_size), self.dtype)
        P, K, S = self.n_history, self.n_matrices, self.skip
        W, t0 = self.params, cache.steps

        # BPTT in chunks of C steps, last chunk first, as in numrnn.nn.rnn: only a window of gradients is
        # held. Within a chunk [s, e): dh[P + t - s] is dh(t) (summed up from the loss, step t+1 and
        # step t+S), dz[t - s] is dz(t); dh[:P] collects dh(s-P .. s-1) for the chunk before.
        H = self.hidden_size
        C = _chunk_steps(T, B, P)
        dh_window = np.empty((P + C, B, H), dtype=self.dtype)
        dz_window = np.empty((C, B, 4 * H), dtype=self.dtype)
        dhs = dhs.transpose(1, 0, 2)                  # (T, B, H), time-major view
        dx = np.empty((T, B, self.input_size), dtype=self.dtype)
        grads = {name: np.zeros_like(value) for name, value in W.items()}
        carry = np.zeros((P, B, H), dtype=self.dtype)  # dh(e-P .. e-1) from the chunk after
        dc = np.zeros((B, H), dtype=self.dtype)       # dL/dc(t) from the steps after t
        for s in reversed(range(0, T, C)):
            e = min(s + C, T)
            dh, dz = dh_window[:P + e - s], dz_window[:e - s]
            dh[:P] = 0
            dh[P:] = dhs[s:e]                         # the loss's direct part
            dh[-P:] += carry                          # + what steps >= e sent back (C >= P)

            for t in reversed(range(s, e)):           # dh[P + t - s] is complete: its users came later
                j = P + t - s
                if is_skip_step(t0 + t, S):
                    dh[j - S] += dh[j]                # skip path: dh(t-S) += dh(t), no gate on it
                dc = _cell_backward(dh[j], dc, cache.gates[t], cache.tanh_c[t], cache.c[t],
                                    out=dz[t - s])    # dz(t); returns dc(t-1) = dc(t) * f
                k = matrix_index(t0 + t, K)
                dh[j - 1] += dz[t - s] @ W[f"W{k + 1}"]  # recurrent path: dh(t-1) += W_k^T dz(t)

            self._add_param_grads(grads, dz, cache, s)
            dx[s:e] = (dz.reshape((e - s) * B, -1) @ W["Wx"]).reshape(e - s, B, -1)  # Wx^T dz(t)
            carry = dh[:P].copy()
        dx = dx.transpose(1, 0, 2)
        if return_dinit:
            return dx, grads, {"h0": carry[-1].copy(), "c0": dc, "history": carry}
        return dx, grads

    def _param_grads(self, dz, cache):
        """The parameter gradients of a whole sequence from its dz (T, B, 4H)."""
        grads = {name: np.zeros_like(value) for name, value in self.params.items()}
        self._add_param_grads(grads, dz, cache, 0)
        return grads

    def _add_param_grads(self, grads, dz, cache, s):
        """Add steps s .. s+n-1 (dz: (n, B, 4H)); W_k sums only over the steps that used it."""
        n, B, H4 = dz.shape
        P, K, t0, H = self.n_history, self.n_matrices, cache.steps, self.hidden_size
        h_prev = cache.h[P - 1 + s:P - 1 + s + n]     # h(t-1) for t = s .. s+n-1
        for k in range(K):
            first = (k - t0 - s) % K                  # first local step that uses W_{k+1}
            grads[f"W{k + 1}"] += _sum_outer(dz[first::K], h_prev[first::K], H4, H)
        grads["Wx"] += _sum_outer(dz, cache.x[s:s + n], H4, cache.x.shape[2])
        grads["b"] += dz.sum(axis=(0, 1))


def _activate_gates(z):
    """Apply sigmoid to the i, f, o blocks of z (B, 4H) and tanh to g, in place; return the views.

    Uses sigmoid(z) = (1 + tanh(z / 2)) / 2, the same function, stable for every z (tanh never
    overflows) and ~4x faster than exp with a branch: with a per-column scale s (1/2 on i, f, o and
    1 on g) and shift m (1/2 on i, f, o and 0 on g), all four gates are s * tanh(s * z) + m.
    """
    s, m = _gate_scale_shift(z.shape[1] // 4, z.dtype.type)
    z *= s
    np.tanh(z, out=z)
    z *= s
    z += m
    return _gate_blocks(z)


def _gate_blocks(z):
    """The four (B, H) blocks of z (B, 4H) as views, gate order i, f, g, o (np.split, but cheaper)."""
    H = z.shape[-1] // 4
    return z[..., :H], z[..., H:2 * H], z[..., 2 * H:3 * H], z[..., 3 * H:]


@functools.lru_cache(maxsize=None)
def _gate_scale_shift(H, dtype):
    """(4H,) scale and shift of :func:`_activate_gates`, gate order i, f, g, o (read-only)."""
    sigmoid_gate = np.ones(4 * H, dtype=bool)
    sigmoid_gate[2 * H:3 * H] = False                 # g is the tanh gate
    scale = np.where(sigmoid_gate, 0.5, 1.0).astype(dtype)
    shift = np.where(sigmoid_gate, 0.5, 0.0).astype(dtype)
    scale.flags.writeable = shift.flags.writeable = False
    return scale, shift


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
    dc = dc + dh * o * (1 - tanh_c * tanh_c)          # total dc(t) = from c(t+1) + dh o tanh'(c)
    np.multiply(dc, g, out=dz_i)                      # c = f c(t-1) + i g:   di = dc g
    np.multiply(dc, c_prev, out=dz_f)                 #                       df = dc c(t-1)
    np.multiply(dc, i, out=dz_g)                      #                       dg = dc i
    np.multiply(dh, tanh_c, out=dz_o)                 # h = o tanh(c):        do = dh tanh(c)
    out *= _gate_derivatives(gates)                   # dz = d(gate) * gate'(z), all four at once
    return dc * f                                     # cell path: dc(t-1) = dc(t) f


def _gate_derivatives(gates):
    """(B, 4H) derivative of each gate by its pre-activation: s (1 - s) for i, f, o; 1 - g^2 for g."""
    H = gates.shape[-1] // 4
    d = gates * (1 - gates)                           # sigmoid'(z) = s (1 - s)
    g = gates[..., 2 * H:3 * H]
    d[..., 2 * H:3 * H] = 1 - g * g                   # tanh'(z) = 1 - g^2
    return d


def _check_finite(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}")
    if not np.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    return float(value)
