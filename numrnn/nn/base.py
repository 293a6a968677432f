r"""The state and cache types of numrnn's cells and :class:`RecurrentLayer`, the base of RNN, LSTM, GRU.

The protocol any layer follows (the minimal part and the richer part, and what each numrnn feature
needs) is declared once in :mod:`numrnn.nn.protocol`; the fast kernels the cells share (chunked
BPTT windows, the per-chunk products) live in :mod:`numrnn.nn.kernels`. This module holds what
numrnn's own cells add on top of the protocol.

:class:`RecurrentLayer` holds what numrnn's three cells share: the constructor checks,
:meth:`~RecurrentLayer.from_version`, :attr:`~RecurrentLayer.config`, ``__repr__``,
:attr:`~RecurrentLayer.n_history`, the start state (:meth:`~RecurrentLayer.start_state`,
:meth:`~RecurrentLayer.check_state`), the per-matrix gradient sums
(:meth:`~RecurrentLayer._add_param_grads`) and the chunked BPTT scaffolding
(:func:`~numrnn.nn.kernels.bptt_chunks`). A cell adds its gates (``n_gates`` blocks of H rows in
every matrix), its ``forward`` and its ``backward``. Every cache derives from :class:`RecurrentCache`, which gives
``state_at(n)`` and ``state``.
"""
from abc import ABC, abstractmethod
from dataclasses import dataclass, fields

import numpy as np

from . import init as initialisers
from .._checks import check_array, check_choice, check_dtype, check_finite, check_int
from .kernels import sum_outer
from .schedule import check_schedule, version


# ----------------------------------------------------------------------------- the state
@dataclass(frozen=True)
class RNNState:
    """What one chunk hands to the next so that chunked processing equals whole processing.

    The state of a layer whose state is its hidden history alone (the RNN and the GRU).

    history : (P, B, H) the last P = max(1, S) hidden states, oldest first; history[-1] is h(t-1).
    step0 : int, the global index of the next chunk's step 0 (how many steps came before), so that
    the matrix schedule and the skip steps continue.
    """
    history: np.ndarray
    step0: int = 0


class RecurrentCache:
    """Base of every numrnn cache: the state after any number of the chunk's steps.

    A cache holds, time-major, ``x`` (T, B, D) the inputs, ``h`` (P + T, B, H) the hidden states with
    P slots of history in front (``h[P + t]`` is h(t), ``h[P - 1]`` is h(-1)) and ``step0``, the
    global index of local step 0 (0 unless a carried state was given). A subclass whose state
    carries more than the hidden history (the LSTM's cell c) sets ``state_class`` and
    :meth:`_carried_at`.
    """
    state_class = RNNState

    def state_at(self, n):
        """The state after the first ``n`` local steps, n in 0..T: h(n-P) .. h(n-1) and step0 + n.

        ``state_at(0)`` is the state the chunk started from; ``state_at(T)`` is :attr:`state`.
        """
        T = self.x.shape[0]
        n = check_int("n", n, 0)
        if n > T:
            raise ValueError(f"n must lie in 0..{T} (the chunk's steps), got {n}")
        P = self.h.shape[0] - T
        return self.state_class(history=self.h[n:n + P].copy(), step0=self.step0 + n,
                                **self._carried_at(n))

    def _carried_at(self, n):
        """The carried tensors other than the hidden history after n steps (none here)."""
        return {}

    @property
    def state(self):
        """The state to carry into the next chunk: :meth:`state_at` (T)."""
        return self.state_at(self.x.shape[0])


# ----------------------------------------------------------------------------- the base
class RecurrentLayer(ABC):
    """Base of numrnn's recurrent layers: K alternating matrices and a skip every S steps.

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
        draws N(0, scale^2/H) entries. Wx is always drawn N(0, 1/D); b starts at 0 (the LSTM's
        forget gate at ``forget_bias``).
    scale : float, default 1.0
        Gain of the recurrent initialisation.
    seed : int or numpy.random.Generator, optional
        Seeds the initialisation: the same seed gives the same bits.
    dtype : float32 or float64, default float64
        float64 for gradient checks, float32 for training.

    Attributes
    ----------
    params : dict
        "W1".."WK" (G H, H), "Wx" (G H, D), "b" (G H,), with G = ``n_gates`` blocks of rows.

    A subclass sets ``n_gates``, ``cache_class``, ``state_class`` (default :class:`RNNState`),
    ``config_names`` (its constructor arguments, in order, for :attr:`config`) and implements
    :meth:`forward` and :meth:`backward`; it checks its own extra arguments before calling
    ``super().__init__``.
    """
    n_gates = 1
    cache_class = RecurrentCache
    state_class = RNNState
    config_names = ("input_size", "hidden_size", "n_matrices", "skip", "init", "scale")
    repr_names = ("input_size", "hidden_size", "n_matrices", "skip")

    def __init__(self, input_size, hidden_size, n_matrices=1, skip=0, init="normal", scale=1.0,
                 seed=None, dtype=np.float64):
        self.input_size = check_int("input_size", input_size, 1)
        self.hidden_size = check_int("hidden_size", hidden_size, 1)
        self.n_matrices, self.skip = check_schedule(n_matrices, skip)
        self.init = check_choice("init", init, initialisers.INITS)
        self.scale = check_finite("scale", scale)
        self.dtype = check_dtype("dtype", dtype)
        self.params = self._initial_params(initialisers.as_generator(seed))

    @classmethod
    def from_version(cls, name, input_size, hidden_size, **kwargs):
        """Build a paper version by name ("A", "B", "C", "D", "special")."""
        n_matrices, skip = version(name)
        given = [arg for arg in ("n_matrices", "skip") if arg in kwargs]
        if given:
            raise ValueError(
                f"from_version({name!r}) sets n_matrices={n_matrices} and skip={skip} itself; got "
                f"{' and '.join(given)} too. To choose them, use {cls.__name__}(input_size, "
                f"hidden_size, n_matrices=..., skip=...), e.g. {cls.__name__}({input_size}, "
                f"{hidden_size}, skip={kwargs.get('skip', 3)})")
        return cls(input_size, hidden_size, n_matrices=n_matrices, skip=skip, **kwargs)

    def _initial_params(self, rng):
        """W_k: ``n_gates`` blocks of H x H, each drawn by the init scheme; Wx N(0, 1/D); b."""
        G, H, D = self.n_gates, self.hidden_size, self.input_size
        params = {f"W{k + 1}": np.concatenate([initialisers.recurrent_matrix(
            self.init, rng, (H, H), self.scale) for _gate in range(G)]) for k in range(self.n_matrices)}
        params["Wx"] = initialisers.normal(rng, (G * H, D))
        params["b"] = self._initial_bias()
        return {name: value.astype(self.dtype) for name, value in params.items()}

    def _initial_bias(self):
        return np.zeros(self.n_gates * self.hidden_size)

    @property
    def config(self):
        """The constructor arguments (without seed), enough to rebuild the layer."""
        return dict({name: getattr(self, name) for name in self.config_names}, dtype=self.dtype.name)

    def __repr__(self):
        args = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.repr_names)
        return f"{type(self).__name__}({args})"

    @property
    def n_history(self):
        """P = max(1, S): how many past hidden states a step can read."""
        return max(1, self.skip)

    # ------------------------------------------------------------------- the start state
    def start_state(self, batch_size, h0=None, state=None, **initial):
        """The state entering step 0: a carried ``state`` (checked), or zeros with h(-1) = h0.

        ``initial`` gives the other carried tensors by their name plus "0" (the LSTM's ``c0``).

        Returns
        -------
        state_class instance with history (P, B, H), step0, and the other carried tensors.
        """
        if state is not None:
            if h0 is not None or any(value is not None for value in initial.values()):
                raise ValueError(f"give either {'/'.join(['h0', *initial])} or state, not both")
            return self.check_state(state, batch_size)
        P, B, H = self.n_history, batch_size, self.hidden_size
        history = np.zeros((P, B, H), dtype=self.dtype)
        if h0 is not None:
            history[-1] = check_array("h0", h0, 2, (B, H), self.dtype)
        carried = {name: np.zeros((B, H), dtype=self.dtype) if initial.get(f"{name}0") is None
                   else check_array(f"{name}0", initial[f"{name}0"], 2, (B, H), self.dtype)
                   for name in self._carried_names()}
        return self.state_class(history=history, step0=0, **carried)

    def check_state(self, state, batch_size, name="state"):
        """Refuse a carried state that this layer cannot continue from, saying why; return it."""
        cls = self.state_class
        if not isinstance(state, cls):
            raise TypeError(f"{name} must be an {cls.__name__} for this {type(self).__name__} layer, "
                            f"got {type(state).__name__}: was it made by another model?")
        P, B, H = self.n_history, batch_size, self.hidden_size
        history = getattr(state, "history", None)
        if not isinstance(history, np.ndarray) or history.shape != (P, B, H):
            got = getattr(history, "shape", type(history).__name__)
            raise ValueError(
                f"{name}.history has shape {got}, but this layer (K={self.n_matrices}, S={self.skip}, "
                f"H={H}) on {B} streams needs ({P}, {B}, {H}): step t reads h(t-1) and, on skip steps, "
                f"h(t-S), so the last max(1, S) = {P} hidden states must be carried. Was {name} made "
                f"by a model with another skip, hidden size or batch size?")
        check_array(f"{name}.history", history, 3)
        for carried in self._carried_names():
            check_array(f"{name}.{carried}", getattr(state, carried), 2, (B, H))
        check_int(f"{name}.step0", state.step0, 0)
        return state

    def _carried_names(self):
        """The fields of the state other than history and step0 (the LSTM's "c")."""
        return [f.name for f in fields(self.state_class) if f.name not in ("history", "step0")]

    # ------------------------------------------------------------ the abstract pair
    @abstractmethod
    def forward(self, x, h0=None, state=None):
        """Run the layer over a whole sequence.

        Parameters
        ----------
        x : ndarray, shape (B, T, D)
        h0 : ndarray, shape (B, H), optional
            h(-1); zeros by default.
        state : the layer's state class, optional
            Carried from a previous chunk (``cache.state`` or ``cache.state_at(n)``); excludes h0.

        Returns
        -------
        hs : ndarray, shape (B, T, H)
            h(0) .. h(T-1), a read-only view into the cache.
        cache : RecurrentCache
            Everything the backward needs; ``cache.state`` continues the sequence.
        """

    @abstractmethod
    def backward(self, dhs, cache, return_dinit=False):
        """Backpropagation through time.

        Parameters
        ----------
        dhs : ndarray, shape (B, T, H)
            dL/dh(t) from whatever uses the outputs (only the direct part, not through the layer).
        cache : RecurrentCache
            From :meth:`forward`.
        return_dinit : bool
            Also return ``{"h0": dL/dh0 (B, H), "history": dL/dhistory (P, B, H)}`` (and the
            gradient of any other carried tensor, e.g. the LSTM's "c0").

        Returns
        -------
        dx : ndarray, shape (B, T, D)
        grads : dict
            Fresh arrays with the keys and shapes of :attr:`params`: calling backward again gives
            the same result and nothing accumulates across calls; the cache is not changed.
        dinit : dict, only with ``return_dinit=True``
        """

    # ------------------------------------------------- what every forward/backward begins with
    def _begin_forward(self, x, h0, state, **initial):
        """x checked and made time-major (T, B, D); the hidden buffer h (P + T, B, H) with the start
        history h(-P) .. h(-1) in front (h(-1) = h0); and the start state (step0, c, ...)."""
        x = check_array("x", x, 3, (None, None, self.input_size), self.dtype)
        B, T, _ = x.shape
        if B < 1 or T < 1:
            raise ValueError(f"x must hold at least one sequence of one step, got shape {x.shape}")
        start = self.start_state(B, h0, state, **initial)
        h = np.empty((self.n_history + T, B, self.hidden_size), dtype=self.dtype)
        h[:self.n_history] = start.history
        return np.ascontiguousarray(x.transpose(1, 0, 2)), h, start

    def _outputs(self, h):
        """hs = h(0) .. h(T-1) batch-first (B, T, H): a read-only view of the buffer h."""
        hs = h[self.n_history:].transpose(1, 0, 2)
        hs.flags.writeable = False
        return hs

    def _begin_backward(self, dhs, cache):
        """Check the cache's type and dhs's shape (B, T, H); return dhs time-major (T, B, H), an
        empty dx (T, B, D) and zero gradients keyed like :attr:`params`."""
        if not isinstance(cache, self.cache_class):
            raise TypeError(f"cache must be the {self.cache_class.__name__} returned by forward, "
                            f"got {type(cache).__name__}")
        T, B = cache.x.shape[:2]
        dhs = check_array("dhs", dhs, 3, (B, T, self.hidden_size), self.dtype)
        grads = {name: np.zeros_like(value) for name, value in self.params.items()}
        return dhs.transpose(1, 0, 2), np.empty((T, B, self.input_size), dtype=self.dtype), grads

    def _end_backward(self, dx, grads, dh_history, return_dinit, **dinit):
        """dx batch-first; with ``return_dinit`` also dL/dh0, dL/dhistory (a copy of dh_history,
        (P, B, H)) and the other carried gradients given in ``dinit``."""
        dx = dx.transpose(1, 0, 2)
        if not return_dinit:
            return dx, grads
        history = dh_history.copy()
        return dx, grads, dict(h0=history[-1].copy(), history=history, **dinit)

    # ------------------------------------------------------------ the per-matrix gradient sums
    def _add_param_grads(self, grads, d_rec, cache, s, d_in=None):
        """Add the parameter gradients of local steps s .. s+n-1 to ``grads``, in place.

        .. math:: \\delta W_k \\mathrel{+}= \\sum_{t:\\,k(t)=k} \\delta_{rec}(t)\\, h(t-1)^\\top, \\quad
                  \\delta W_x \\mathrel{+}= \\sum_t \\delta_{in}(t)\\, x(t)^\\top, \\quad
                  \\delta b \\mathrel{+}= \\sum_t \\delta_{in}(t)

        ``d_rec`` (n, B, G H) is the gradient of the recurrent product W_k h(t-1), ``d_in`` that of
        Wx x(t) + b (the same array for the RNN and the LSTM; the GRU's reset gate makes them differ).
        W_k sums only over the steps that used it.
        """
        d_in = d_rec if d_in is None else d_in
        n, _, rows = d_rec.shape
        P, K, step0, H = self.n_history, self.n_matrices, cache.step0, self.hidden_size
        h_prev = cache.h[P - 1 + s:P - 1 + s + n]     # h(t-1) for t = s .. s+n-1
        for k in range(K):
            first = (k - step0 - s) % K                 # first local step that uses W_{k+1}
            grads[f"W{k + 1}"] += sum_outer(d_rec[first::K], h_prev[first::K], rows, H)
        grads["Wx"] += sum_outer(d_in, cache.x[s:s + n], rows, cache.x.shape[2])
        grads["b"] += d_in.sum(axis=(0, 1))


__all__ = ["RecurrentLayer", "RecurrentCache", "RNNState"]
