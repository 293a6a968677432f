r"""The paper's RNN family: K recurrent matrices used in turn and a skip over S steps.

Forward, for t = 0 .. T-1 with h(-1) = h0:

.. math::

    a(t) &= W_{k(t)}\, h(t-1) + W_x\, x(t) + b, \qquad k(t) = (t \bmod K) + 1 \\
    h(t) &= \phi(a(t)) + [\,(t+1) \bmod S = 0\,]\; h(t-S)

Backward through time, for t = T-1 .. 0, where :math:`\delta h(t)` is the *total* gradient
reaching h(t) (from the loss, from step t+1 and, if step t+S skips to it, from step t+S):

.. math::

    \delta h(t-S) &\mathrel{+}= \delta h(t) \quad \text{on skip steps (identity: no } \phi' \text{)} \\
    \delta a(t) &= \delta h(t) \odot \phi'(a(t)) \\
    \delta h(t-1) &\mathrel{+}= W_{k(t)}^\top \delta a(t) \\
    \frac{\partial L}{\partial W_k} &= \sum_{t:\,k(t)=k} \delta a(t)\, h(t-1)^\top, \quad
    \frac{\partial L}{\partial W_x} = \sum_t \delta a(t)\, x(t)^\top, \quad
    \frac{\partial L}{\partial b} = \sum_t \delta a(t)

Versions of the paper: A (K=1, S=0), B (K=2, S=0), C (K=1, S=2), D (K=2, S=2), special (K=4, S=4).

Layout: the public arrays are batch-first, (B, T, ·). Inside, time comes first so that the slice of
one step, ``a[t]`` of shape (B, H), is contiguous. The hidden states live in one buffer ``h`` of
shape (P + T, B, H) with P = max(1, S) slots of history in front: ``h[P + t]`` holds h(t), and
``h[P - 1]`` holds h(-1) = h0. Reading h(t-1) and h(t-S) is then plain indexing.
"""
from dataclasses import dataclass

import numpy as np

from . import init as initialisers
from .._checks import check_array, check_choice, check_dtype, check_int
from .activations import ACTIVATIONS
from .schedule import check_schedule, is_skip_step, matrix_index, version


@dataclass(frozen=True)
class RNNState:
    """What one chunk hands to the next so that chunked processing equals whole processing.

    history : (P, B, H) the last P = max(1, S) hidden states, oldest first; history[-1] is h(t-1).
    steps : int, how many steps came before, so that the matrix schedule and skip steps continue.
    """
    history: np.ndarray
    steps: int = 0


@dataclass(frozen=True)
class RNNCache:
    """Everything the backward needs, time-major.

    x : (T, B, D) inputs.  a : (T, B, H) pre-activations.
    h : (P + T, B, H) hidden states with P slots of history in front (h[P + t] is h(t)).
    steps : global index of local step 0 (0 unless a carried state was given).
    """
    x: np.ndarray
    a: np.ndarray
    h: np.ndarray
    steps: int

    @property
    def state(self):
        """The :class:`RNNState` to carry into the next chunk."""
        P = self.h.shape[0] - self.a.shape[0]
        return RNNState(history=self.h[-P:].copy(), steps=self.steps + self.a.shape[0])


class RNN:
    """Recurrent layer with K alternating matrices and a skip connection every S steps.

    Parameters
    ----------
    input_size : int
        D, the size of x(t).
    hidden_size : int
        H, the size of h(t).
    n_matrices : int, default 1
        K >= 1 recurrent matrices W1..WK; step t uses W_{(t mod K)+1}.
    skip : int, default 0
        S >= 0; on steps with (t+1) mod S == 0, h(t-S) is added after the activation.
        S = 0 or 1 means no skip.
    activation : {"relu", "tanh"}, default "relu"
        The paper uses relu.
    init : {"normal", "orthogonal", "identity"}, default "normal"
        Scheme of the recurrent matrices. "normal" draws N(0, scale^2/H) entries (spectral radius
        close to ``scale``); "identity" is the IRNN (Le et al. 2015). Wx is always drawn
        N(0, 1/D) and b starts at 0.
    scale : float, default 1.0
        Gain of the recurrent initialisation.
    seed : int or numpy.random.Generator, optional
        Seeds the initialisation: the same seed gives the same bits.
    dtype : float32 or float64, default float64
        float64 for gradient checks, float32 for training.

    Attributes
    ----------
    params : dict
        "W1".."WK" (H, H), "Wx" (H, D), "b" (H,).
    """

    def __init__(self, input_size, hidden_size, n_matrices=1, skip=0, activation="relu",
                 init="normal", scale=1.0, seed=None, dtype=np.float64):
        self.input_size = check_int("input_size", input_size, 1)
        self.hidden_size = check_int("hidden_size", hidden_size, 1)
        self.n_matrices, self.skip = check_schedule(n_matrices, skip)
        self.activation = check_choice("activation", activation, ACTIVATIONS)
        self.init = check_choice("init", init, initialisers.INITS)
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
        params = {f"W{k + 1}": initialisers.recurrent_matrix(self.init, rng, (H, H), self.scale)
                  for k in range(self.n_matrices)}
        params["Wx"] = initialisers.normal(rng, (H, D))
        params["b"] = np.zeros(H)
        return {name: value.astype(self.dtype) for name, value in params.items()}

    @property
    def config(self):
        """The constructor arguments (without seed), enough to rebuild the layer."""
        return dict(input_size=self.input_size, hidden_size=self.hidden_size,
                    n_matrices=self.n_matrices, skip=self.skip, activation=self.activation,
                    init=self.init, scale=self.scale, dtype=self.dtype.name)

    def __repr__(self):
        return (f"RNN(input_size={self.input_size}, hidden_size={self.hidden_size}, "
                f"n_matrices={self.n_matrices}, skip={self.skip}, activation={self.activation!r})")

    @property
    def n_history(self):
        """P = max(1, S): how many past hidden states a step can read."""
        return max(1, self.skip)

    # ------------------------------------------------------------------ forward
    def forward(self, x, h0=None, state=None):
        """Run the recurrence over a whole sequence.

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
        cache : RNNCache
        """
        x = check_array("x", x, 3, (None, None, self.input_size), self.dtype)
        B, T, _ = x.shape
        if T < 1 or B < 1:
            raise ValueError(f"x must hold at least one sequence of one step, got shape {x.shape}")
        P, K, S = self.n_history, self.n_matrices, self.skip
        act, _ = ACTIVATIONS[self.activation]
        W, Wx, b = self.params, self.params["Wx"], self.params["b"]

        H = self.hidden_size
        W_T = [np.ascontiguousarray(W[f"W{k + 1}"].T) for k in range(K)]  # contiguous W_k^T: faster

        h = np.empty((P + T, B, H), dtype=self.dtype)
        history, t0 = start_history(self, B, h0, state)
        h[:P] = history                               # h(-P) .. h(-1); h(-1) = h0
        x = np.ascontiguousarray(x.transpose(1, 0, 2))  # (T, B, D), time-major (D is small)
        a = np.empty((T, B, H), dtype=self.dtype)

        C = _chunk_steps(T, B, P)                     # chunks of steps: a[s:e] is still in cache
        for s in range(0, T, C):                      # when the steps of the chunk run
            e = min(s + C, T)
            np.matmul(x[s:e].reshape(-1, x.shape[2]), Wx.T, out=a[s:e].reshape(-1, H))
            a[s:e] += b                               # Wx x(t) + b for the chunk: one product
            for t in range(s, e):
                k = matrix_index(t0 + t, K)
                a[t] += h[P + t - 1] @ W_T[k]         # a(t) = W_k h(t-1) + Wx x(t) + b
                act(a[t], out=h[P + t])               # h(t) = act(a(t))
                if is_skip_step(t0 + t, S):
                    h[P + t] += h[P + t - S]          #        + h(t-S)   on skip steps

        hs = h[P:].transpose(1, 0, 2)
        hs.flags.writeable = False
        return hs, RNNCache(x=x, a=a, h=h, steps=t0)

    # ----------------------------------------------------------------- backward
    def backward(self, dhs, cache, return_dinit=False):
        """Backpropagation through time.

        Parameters
        ----------
        dhs : ndarray, shape (B, T, H)
            dL/dh(t) from whatever uses the outputs (only the direct part, not through the RNN).
        cache : RNNCache
            From :meth:`forward`.
        return_dinit : bool
            Also return ``{"h0": dL/dh0 (B, H), "history": dL/dhistory (P, B, H)}``.

        Returns
        -------
        dx : ndarray, shape (B, T, D)
        grads : dict
            Fresh arrays with the keys and shapes of :attr:`params`: calling backward again gives
            the same result and nothing accumulates across calls.
        dinit : dict, only with ``return_dinit=True``
        """
        if not isinstance(cache, RNNCache):
            raise TypeError(f"cache must be the RNNCache returned by forward, got {type(cache).__name__}")
        T, B, _ = cache.a.shape
        dhs = check_array("dhs", dhs, 3, (B, T, self.hidden_size), self.dtype)
        P, K, S = self.n_history, self.n_matrices, self.skip
        _, act_grad = ACTIVATIONS[self.activation]
        W, t0, H = self.params, cache.steps, self.hidden_size

        # BPTT in chunks of C steps, last chunk first, so that only a window of C steps of gradients
        # is held (memory ~ C/T of the activations): within a chunk [s, e) the window g holds
        # g[P + t - s] = dh(t) while it is summed up and then, in place, da(t) (once steps t+1 and
        # t+S are done, dh(t) is complete). g[:P] collects dh(s-P .. s-1), carried to the chunk before.
        # The products for dW_k, dWx, db and dx are taken once per chunk.
        C = _chunk_steps(T, B, P)
        g = np.empty((P + C, B, H), dtype=self.dtype)
        dhs = dhs.transpose(1, 0, 2)                  # (T, B, H), time-major view
        dx = np.empty((T, B, self.input_size), dtype=self.dtype)
        grads = {name: np.zeros_like(value) for name, value in W.items()}
        carry = np.zeros((P, B, H), dtype=self.dtype)  # dh(e-P .. e-1) from the chunk after
        for s in reversed(range(0, T, C)):
            e = min(s + C, T)
            w = g[:P + e - s]                         # w[P + t - s] is dh(t), then da(t)
            w[:P] = 0
            w[P:] = dhs[s:e]                          # the loss's direct part
            w[-P:] += carry                           # + what steps >= e sent back (C >= P)

            for t in reversed(range(s, e)):           # w[P + t - s] = dh(t) is complete here
                j = P + t - s
                if is_skip_step(t0 + t, S):
                    w[j - S] += w[j]                  # skip path: dh(t-S) += dh(t), no act' factor
                w[j] *= act_grad(cache.a[t])          # da(t) = dh(t) * act'(a(t)), in place
                k = matrix_index(t0 + t, K)
                w[j - 1] += w[j] @ W[f"W{k + 1}"]     # recurrent path: dh(t-1) += W_k^T da(t)

            self._add_param_grads(grads, w[P:], cache, s)
            dx[s:e] = (w[P:].reshape(-1, H) @ W["Wx"]).reshape(e - s, B, -1)  # dx(t) = Wx^T da(t)
            carry = w[:P].copy()
        dx = dx.transpose(1, 0, 2)
        if return_dinit:
            return dx, grads, {"h0": carry[-1].copy(), "history": carry}
        return dx, grads

    def _param_grads(self, da, cache):
        """The parameter gradients of a whole sequence from its da (T, B, H)."""
        grads = {name: np.zeros_like(value) for name, value in self.params.items()}
        self._add_param_grads(grads, da, cache, 0)
        return grads

    def _add_param_grads(self, grads, da, cache, s):
        """Add steps s .. s+n-1 (da: (n, B, H)); W_k sums only over the steps that used it."""
        n, B, H = da.shape
        P, K, t0 = self.n_history, self.n_matrices, cache.steps
        h_prev = cache.h[P - 1 + s:P - 1 + s + n]     # h(t-1) for t = s .. s+n-1
        for k in range(K):
            first = (k - t0 - s) % K                  # first local step that uses W_{k+1}
            grads[f"W{k + 1}"] += _sum_outer(da[first::K], h_prev[first::K], H, H)
        grads["Wx"] += _sum_outer(da, cache.x[s:s + n], H, cache.x.shape[2])
        grads["b"] += da.sum(axis=(0, 1))


def _chunk_steps(T, B, P, rows=2048):
    """Steps per BPTT chunk: about ``rows`` rows (steps x batch) per product, at least P, at most T."""
    return max(P, min(T, -(-rows // B)))


def start_history(layer, B, h0, state):
    """The P = max(1, S) history slots in front of h(0), and the global index of step 0.

    From a carried :class:`RNNState` (checked against the layer and batch), or zeros with
    h(-1) = h0. Shared by every layer whose state is the hidden history alone (RNN, GRU).
    """
    P, H = layer.n_history, layer.hidden_size
    if state is not None:
        if h0 is not None:
            raise ValueError("give either h0 or state, not both")
        if not isinstance(state, RNNState):
            raise TypeError(f"state must be an RNNState, got {type(state).__name__}")
        check_array("state.history", state.history, 3, (P, B, H))
        return state.history, check_int("state.steps", state.steps, 0)
    history = np.zeros((P, B, H), dtype=layer.dtype)
    if h0 is not None:
        history[-1] = check_array("h0", h0, 2, (B, H), layer.dtype)
    return history, 0


def _sum_outer(da, v, rows, cols):
    """sum over steps and batch of da(t) v(t)^T as one matrix product; zeros if no step used it.

    Computed as (V^T dA)^T with dA (steps*batch, rows), V (steps*batch, cols): the same numbers;
    OpenBLAS is faster with the long axis of both operands contiguous. Returns a C-ordered array.
    """
    if da.shape[0] == 0:
        return np.zeros((rows, cols), dtype=da.dtype)
    return np.ascontiguousarray((v.reshape(-1, cols).T @ da.reshape(-1, rows)).T)
