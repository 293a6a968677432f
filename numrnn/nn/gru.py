r"""The paper's GRU family: K recurrent matrices used in turn and a skip over S steps.

Forward, for t = 0 .. T-1 with h(-1) = h0, gates in the order r, z, n (reset, update, candidate);
the recurrent product is split as :math:`a = W_{k(t)} h(t-1) = (a_r, a_z, a_n)` and the input part as
:math:`u = W_x x(t) + b = (u_r, u_z, u_n)`:

.. math::

    r &= \sigma(u_r + a_r), \qquad z = \sigma(u_z + a_z), \qquad k(t) = (t \bmod K) + 1 \\
    n &= \tanh(u_n + r \odot a_n) \\
    h(t) &= (1 - z) \odot n + z \odot h(t-1) + [\,(t+1) \bmod S = 0\,]\; h(t-S)

The reset gate scales the recurrent product (the form of cuDNN and PyTorch), so one product
:math:`W_k h(t-1)` per step serves all three gates.

Backward through time, for t = T-1 .. 0, where :math:`\delta h(t)` is the *total* gradient reaching
h(t) from everything after it:

.. math::

    \delta h(t-S) &\mathrel{+}= \delta h(t) \quad \text{on skip steps (identity: no gate on it)} \\
    \delta h(t-1) &\mathrel{+}= \delta h(t) \odot z \quad \text{(the update path)} \\
    \delta u_n &= \delta h\,(1-z)\,(1-n^2), \quad \delta a_n = \delta u_n \odot r \\
    \delta u_r &= \delta u_n\, a_n\, r(1-r), \quad \delta u_z = \delta h\,(h(t-1) - n)\, z(1-z) \\
    \delta h(t-1) &\mathrel{+}= W_{k(t)}^\top (\delta u_r, \delta u_z, \delta a_n) \\
    \frac{\partial L}{\partial W_k} &= \sum_{t:\,k(t)=k} \delta a(t)\, h(t-1)^\top, \quad
    \frac{\partial L}{\partial W_x} = \sum_t \delta u(t)\, x(t)^\top, \quad
    \frac{\partial L}{\partial b} = \sum_t \delta u(t)

Layout as in :mod:`numrnn.nn.rnn`: hidden states in ``h`` of shape (P + T, B, H) with P = max(1, S)
slots of history in front (``h[P + t]`` is h(t)), and the carried state is an
:class:`~numrnn.nn.rnn.RNNState`.
"""
from dataclasses import dataclass

import numpy as np

from . import init as initialisers
from .._checks import check_array, check_choice, check_dtype, check_int
from .activations import sigmoid
from .rnn import RNNState, _sum_outer, start_history
from .schedule import check_schedule, is_skip_step, matrix_index, version


@dataclass(frozen=True)
class GRUCache:
    """Everything the backward needs, time-major.

    x : (T, B, D) inputs.  gates : (T, B, 3H) r, z, n after their nonlinearity.
    a_n : (T, B, H) the candidate's recurrent part (W_k h(t-1))_n, before the reset gate.
    h : (P + T, B, H) hidden states with P slots of history in front (h[P + t] is h(t)).
    steps : global index of local step 0 (0 unless a carried state was given).
    """
    x: np.ndarray
    gates: np.ndarray
    a_n: np.ndarray
    h: np.ndarray
    steps: int

    @property
    def state(self):
        """The :class:`~numrnn.nn.rnn.RNNState` to carry into the next chunk."""
        P = self.h.shape[0] - self.gates.shape[0]
        return RNNState(history=self.h[-P:].copy(), steps=self.steps + self.gates.shape[0])


class GRU:
    """GRU layer with K alternating matrices and a skip connection every S steps.

    Parameters
    ----------
    input_size : int
        D, the size of x(t).
    hidden_size : int
        H, the size of h(t).
    n_matrices : int, default 1
        K >= 1 recurrent matrices W1..WK; step t uses W_{(t mod K)+1}.
    skip : int, default 0
        S >= 0; on steps with (t+1) mod S == 0, h(t-S) is added to h(t). S = 0 or 1: no skip.
    init : {"normal", "orthogonal", "identity"}, default "normal"
        Scheme of the recurrent matrices, applied to each gate's H x H block separately. "normal"
        draws N(0, scale^2/H) entries. Wx is always drawn N(0, 1/D); b starts at 0.
    scale : float, default 1.0
        Gain of the recurrent initialisation.
    seed : int or numpy.random.Generator, optional
        Seeds the initialisation: the same seed gives the same bits.
    dtype : float32 or float64, default float64

    Attributes
    ----------
    params : dict
        "W1".."WK" (3H, H), "Wx" (3H, D), "b" (3H,); rows in gate order r, z, n.
    """

    def __init__(self, input_size, hidden_size, n_matrices=1, skip=0, init="normal", scale=1.0,
                 seed=None, dtype=np.float64):
        self.input_size = check_int("input_size", input_size, 1)
        self.hidden_size = check_int("hidden_size", hidden_size, 1)
        self.n_matrices, self.skip = check_schedule(n_matrices, skip)
        self.init = check_choice("init", init, initialisers.INITS)
        if isinstance(scale, bool) or not isinstance(scale, (int, float, np.integer, np.floating)):
            raise TypeError(f"scale must be a number, got {type(scale).__name__}")
        if not np.isfinite(scale):
            raise ValueError(f"scale must be finite, got {scale}")
        self.scale = float(scale)
        self.dtype = check_dtype("dtype", dtype)
        self.params = self._initial_params(initialisers.as_generator(seed))

    @classmethod
    def from_version(cls, name, input_size, hidden_size, **kwargs):
        """Build a paper version by name ("A", "B", "C", "D", "special")."""
        n_matrices, skip = version(name)
        return cls(input_size, hidden_size, n_matrices=n_matrices, skip=skip, **kwargs)

    def _initial_params(self, rng):
        H, D = self.hidden_size, self.input_size
        params = {f"W{k + 1}": np.concatenate([initialisers.recurrent_matrix(
            self.init, rng, (H, H), self.scale) for _gate in "rzn"]) for k in range(self.n_matrices)}
        params["Wx"] = initialisers.normal(rng, (3 * H, D))
        params["b"] = np.zeros(3 * H)
        return {name: value.astype(self.dtype) for name, value in params.items()}

    @property
    def config(self):
        """The constructor arguments (without seed), enough to rebuild the layer."""
        return dict(input_size=self.input_size, hidden_size=self.hidden_size,
                    n_matrices=self.n_matrices, skip=self.skip, init=self.init, scale=self.scale,
                    dtype=self.dtype.name)

    def __repr__(self):
        return (f"GRU(input_size={self.input_size}, hidden_size={self.hidden_size}, "
                f"n_matrices={self.n_matrices}, skip={self.skip})")

    @property
    def n_history(self):
        """P = max(1, S): how many past hidden states a step can read."""
        return max(1, self.skip)

    # ------------------------------------------------------------------ forward
    def forward(self, x, h0=None, state=None):
        """Run the GRU over a whole sequence.

        Parameters
        ----------
        x : ndarray, shape (B, T, D)
        h0 : ndarray, shape (B, H), optional
            h(-1); zeros by default.
        state : RNNState, optional
            Carried from a previous chunk (``cache.state``); excludes ``h0``.

        Returns
        -------
        hs : ndarray, shape (B, T, H)
            h(0) .. h(T-1), a read-only view into the cache.
        cache : GRUCache
        """
        x = check_array("x", x, 3, (None, None, self.input_size), self.dtype)
        B, T, _ = x.shape
        if T < 1 or B < 1:
            raise ValueError(f"x must hold at least one sequence of one step, got shape {x.shape}")
        P, K, S, H = self.n_history, self.n_matrices, self.skip, self.hidden_size
        W, Wx, b = self.params, self.params["Wx"], self.params["b"]

        h = np.empty((P + T, B, H), dtype=self.dtype)
        a_n = np.empty((T, B, H), dtype=self.dtype)
        history, t0 = start_history(self, B, h0, state)
        h[:P] = history                               # h(-P) .. h(-1); h(-1) = h0
        x = x.transpose(1, 0, 2)                      # (T, B, D), time-major
        gates = x @ Wx.T + b                          # u(t) = Wx x(t) + b for all t: one product

        for t in range(T):
            k = matrix_index(t0 + t, K)
            a = h[P + t - 1] @ W[f"W{k + 1}"].T       # a(t) = W_k h(t-1) = (a_r, a_z, a_n)
            gates[t, :, :2 * H] = sigmoid(gates[t, :, :2 * H] + a[:, :2 * H])  # r, z = sigmoid(u + a)
            r, z, n = _blocks(gates[t])               # views; n still holds u_n
            a_n[t] = a[:, 2 * H:]
            np.tanh(n + r * a_n[t], out=n)            # n = tanh(u_n + r a_n)
            h[P + t] = n + z * (h[P + t - 1] - n)     # h(t) = (1-z) n + z h(t-1)
            if is_skip_step(t0 + t, S):
                h[P + t] += h[P + t - S]              #        + h(t-S)   on skip steps

        hs = h[P:].transpose(1, 0, 2)
        hs.flags.writeable = False
        return hs, GRUCache(x=x, gates=gates, a_n=a_n, h=h, steps=t0)

    # ----------------------------------------------------------------- backward
    def backward(self, dhs, cache, return_dinit=False):
        """Backpropagation through time.

        Parameters
        ----------
        dhs : ndarray, shape (B, T, H)
            dL/dh(t) from whatever uses the outputs (only the direct part, not through the GRU).
        cache : GRUCache
            From :meth:`forward`.
        return_dinit : bool
            Also return ``{"h0": dL/dh0 (B, H), "history": dL/dhistory (P, B, H)}``.

        Returns
        -------
        dx : ndarray, shape (B, T, D)
        grads : dict
            Fresh arrays with the keys and shapes of :attr:`params`.
        dinit : dict, only with ``return_dinit=True``
        """
        if not isinstance(cache, GRUCache):
            raise TypeError(f"cache must be the GRUCache returned by forward, got {type(cache).__name__}")
        T, B, _ = cache.gates.shape
        dhs = check_array("dhs", dhs, 3, (B, T, self.hidden_size), self.dtype)
        P, K, S = self.n_history, self.n_matrices, self.skip
        W, t0 = self.params, cache.steps

        dh = np.zeros_like(cache.h)                   # dh[P + t] is the total dL/dh(t)
        dh[P:] = dhs.transpose(1, 0, 2)               # start from the loss's direct part
        du = np.empty_like(cache.gates)               # dL/du(t), u = Wx x + b
        da = np.empty_like(cache.gates)               # dL/da(t), a = W_k h(t-1)

        for t in reversed(range(T)):                  # dh[P + t] is complete: its users came later
            if is_skip_step(t0 + t, S):
                dh[P + t - S] += dh[P + t]            # skip path: dh(t-S) += dh(t), no gate on it
            dh[P + t - 1] += _cell_backward(dh[P + t], cache.h[P + t - 1], cache.gates[t],
                                            cache.a_n[t], du[t], da[t])  # update path: dh z
            k = matrix_index(t0 + t, K)
            dh[P + t - 1] += da[t] @ W[f"W{k + 1}"]   # recurrent path: dh(t-1) += W_k^T da(t)

        grads = self._param_grads(du, da, cache)
        dx = (du @ W["Wx"]).transpose(1, 0, 2)        # dx(t) = Wx^T du(t)
        if return_dinit:
            return dx, grads, {"h0": dh[P - 1].copy(), "history": dh[:P].copy()}
        return dx, grads

    def _param_grads(self, du, da, cache):
        """Whole-sequence products after the loop; W_k sums only over the steps that used it."""
        T, B, H3 = du.shape
        P, K, t0, H = self.n_history, self.n_matrices, cache.steps, self.hidden_size
        h_prev = cache.h[P - 1:P - 1 + T]             # h(t-1) for t = 0..T-1
        grads = {}
        for k in range(K):
            first = (k - t0) % K                      # first local step that uses W_{k+1}
            grads[f"W{k + 1}"] = _sum_outer(da[first::K], h_prev[first::K], H3, H)
        grads["Wx"] = _sum_outer(du, cache.x, H3, cache.x.shape[2])
        grads["b"] = du.sum(axis=(0, 1))
        return grads


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
    du_n[...] = dh * (1 - z) * (1 - n * n)            # h = (1-z) n + z h(t-1),  n = tanh(u_n + r a_n)
    da_n[...] = du_n * r
    du_r[...] = du_n * a_n * r * (1 - r)              # r = sigmoid(u_r + a_r)
    du_z[...] = dh * (h_prev - n) * z * (1 - z)       # z = sigmoid(u_z + a_z)
    da_r[...] = du_r                                  # r and z see u and a alike
    da_z[...] = du_z
    return dh * z                                     # update path: dh(t-1) += dh z


def _blocks(a):
    """The gate blocks r, z, n of a (B, 3H) array, as views."""
    H = a.shape[1] // 3
    return a[:, :H], a[:, H:2 * H], a[:, 2 * H:]
