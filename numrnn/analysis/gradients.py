r"""Gradient-flow diagnostics: where the gradient goes, step by step, and why A and B forget.

Notation of :mod:`numrnn.nn.rnn`: :math:`a(t) = W_{k(t)} h(t-1) + W_x x(t) + b`,
:math:`h(t) = \phi(a(t)) + [\text{skip step } t]\, h(t-S)`, and :math:`\delta h(t) = \partial L /
\partial h(t)` is the *total* gradient reaching h(t). The **lag** of h(t) is T-1-t: how many steps
before the end it lies. Every ``*_by_lag`` array has lag on its first axis, lag 0 = h(T-1).

The gradient reaching h(t) is a sum over the paths of the computation graph from h(t) to the loss.
Each path is a chain of edges of two kinds (the two terms of the backward of :mod:`numrnn.nn.rnn`):

.. math::

    \text{recurrent edge } h(u-1) \to h(u):&\quad J(u) = \frac{\partial \phi(a(u))}{\partial h(u-1)}
        = \operatorname{diag}(\phi'(a(u)))\, W_{k(u)} \\
    \text{skip edge } h(u-S) \to h(u):&\quad I \quad \text{(on skip steps u only)}

so that, for a loss at the last step,

.. math::

    \frac{\partial h(T-1)}{\partial h(t)} = \sum_{\text{paths } t \to T-1}\ \prod_{\text{edges}} (J \text{ or } I),
    \qquad \delta h(t) = \Big(\frac{\partial h(T-1)}{\partial h(t)}\Big)^{\!\top} \delta h(T-1).

Without skip edges (A, B) there is one path, a product of T-1-t Jacobians. Its norm is at most
:math:`\prod_u \gamma\, \sigma_{\max}(W_{k(u)})` with :math:`\gamma = \max |\phi'| = 1` for ReLU and
tanh, so it vanishes geometrically when every :math:`\sigma_{\max} < 1` (Pascanu et al. 2013); see
:func:`spectral_norms`. A skip edge multiplies by I, not by a Jacobian: a path made of skip edges
carries the gradient over S steps per edge without shrinking it. With skips there are many paths:
each skip block offers two routes (the skip edge, or S recurrent edges), so over n blocks the
Jacobian is a product of n factors :math:`I + P` with :math:`P = J \cdots J` (S factors). Its
smallest singular value is at least :math:`(1 - \lVert P \rVert)^n`, close to 1 when the recurrent
part is small, where a plain RNN has at most :math:`\lVert P \rVert^n`; and when the recurrent part
is near 1 the sum *grows* with the lag (C and D at the default initialisation explode rather than
vanish; ``numrnn figures``).

What each function computes, and how the tests check it independently:

- :func:`hidden_grads_by_lag`: :math:`\delta h(t)` from the layer's own backward (one chunked
  backward per lag; works for any layer with the richer protocol of :mod:`numrnn.nn.protocol`, e.g.
  the LSTM, whose cell gradient :math:`\delta c(t)` it reports too, and the GRU).
- :func:`input_grads_by_lag`: :math:`\partial L/\partial x(t)` from one backward; any layer with
  the minimal protocol (a from-scratch cell too).
- :func:`jacobians_by_lag`: :math:`\partial h(T-1)/\partial h(t)` from exact products of the
  per-step Jacobians (:func:`step_jacobians`) plus the identity skip terms.
- :func:`path_decomposition_by_lag`: :math:`\delta h(t)` split into the part carried by paths with no
  skip edge (the ReLU path) and the part carried by paths with at least one skip edge.
- :func:`weight_grad_contributions`: each step's term :math:`\delta a(t)\, h(t-1)^\top` of
  :math:`\partial L/\partial W_k`.
- :func:`spectral_norms`: :math:`\sigma_{\max}` of each :math:`W_k` and of the product
  :math:`W_K \cdots W_1`.
"""
import numpy as np

from .._checks import check_array, check_choice, check_int
from ..nn.activations import ACTIVATIONS
from ..nn.protocol import require_cache_state, require_protocol
from ..nn.rnn import RNN
from ..nn.schedule import is_skip_step, matrix_index


# ------------------------------------------------------------------ gradients from the backward
def last_step_dhs(dlast, steps):
    """The direct gradient of a loss that reads only h(T-1): zeros except at the last step.

    Parameters
    ----------
    dlast : ndarray, shape (B, H)
        :math:`\\partial L / \\partial h(T-1)`, e.g. ``W_out^T dpred`` of a linear readout.
    steps : int
        T.

    Returns
    -------
    dhs : ndarray, shape (B, T, H)
    """
    dlast = check_array("dlast", dlast, 2)
    steps = check_int("steps", steps, 1)
    dhs = np.zeros((dlast.shape[0], steps, dlast.shape[1]), dtype=dlast.dtype)
    dhs[:, -1] = dlast
    return dhs


def hidden_grads_by_lag(layer, x, dhs, h0=None, lags=None):
    r"""Total gradient :math:`\delta h(t)` reaching each requested h(t), from the layer's backward.

    The backward of the chunk of steps t+1 .. T-1, started from the state after step t, returns
    (with ``return_dinit=True``) the gradient on that state, i.e. everything that reaches h(t)
    through later steps. Adding the loss's direct part gives the total:

    .. math:: \delta h(t) = \texttt{dhs}(t) + \texttt{backward}(x_{t+1:T},\ \texttt{dhs}_{t+1:T}
              \mid \text{state after } t)[\texttt{"h0"}]

    One backward per requested lag, O(T) steps each: ask for a few lags on long sequences.

    A layer with a cell state (the LSTM) also gets the **cell path** :math:`\delta c(t)`, the
    gradient on the cell state handed to step t+1 (``dinit["c0"]``): the state (h(t), c(t)) is
    treated as a pair, so :math:`\delta c(t)` counts the paths that leave c(t) through the cell
    update :math:`c(t+1) = f \odot c(t) + \dots` and later steps, and the route c(t) -> h(t), inside
    step t, is already in :math:`\delta h(t)`. At lag 0 nothing comes later, so it is 0.

    Parameters
    ----------
    layer : RNN, LSTM, GRU, or any layer with the richer protocol (:mod:`numrnn.nn.protocol`)
        ``forward(x, h0=, state=)`` returning a cache with ``.state``, and
        ``backward(dhs, cache, return_dinit=True)``; a layer without them is refused with a
        TypeError naming what it lacks (:func:`input_grads_by_lag` needs only the minimal protocol).
    x : ndarray, shape (B, T, D)
    dhs : ndarray, shape (B, T, H)
        The loss's direct gradient on each h(t) (see :func:`last_step_dhs`).
    h0 : ndarray, shape (B, H), optional
    lags : sequence of int in [0, T-1], optional
        Default: every lag 0 .. T-1.

    Returns
    -------
    dict
        "lags" (L,) ints; "h" (L, B, H) with "h"[i] = :math:`\delta h(T-1-\text{lags}[i])`;
        "c" (L, B, H) too when the layer has a cell state.
    """
    _, H, dtype = require_protocol(layer, "hidden_grads_by_lag (the gradient reaching each h(t))",
                                   state=True, dinit=True)
    x, dhs, lags = _checked_inputs(layer, x, dhs, lags)
    B, T, _ = x.shape
    starts = _starts_before_each_step(layer, x, h0)
    has_cell = "c0" in _chunk_dinit(layer, x, dhs, starts, T - 1)
    out = {"h": [], "c": []}
    for lag in lags:
        t = T - 1 - lag
        dinit = _chunk_dinit(layer, x, dhs, starts, t + 1) if t < T - 1 else {}
        out["h"].append(dhs[:, t] + dinit.get("h0", 0))
        out["c"].append(dinit.get("c0", np.zeros((B, H), dtype=dtype)))
    result = {"lags": lags, "h": np.stack(out["h"])}
    if has_cell:
        result["c"] = np.stack(out["c"])
    return result


def grad_norm_by_lag(layer, x, dhs, h0=None, lags=None, wrt="h"):
    r"""(lags, :math:`\lVert \delta h(T-1-\text{lag}) \rVert`), the norm over batch and hidden units.

    Shapes as in :func:`hidden_grads_by_lag`; returns lags (L,) and norms (L,). With ``wrt="x"``
    the norms are those of :math:`\partial L / \partial x(T-1-\text{lag})` over batch and input
    units (:func:`input_grads_by_lag`), which any layer with the minimal protocol gives.
    """
    wrt = check_choice("wrt", wrt, ("h", "x"))
    grads = (hidden_grads_by_lag if wrt == "h" else input_grads_by_lag)(layer, x, dhs, h0, lags)
    return grads["lags"], np.sqrt(np.sum(grads[wrt] ** 2, axis=(1, 2)))


def input_grads_by_lag(layer, x, dhs, h0=None, lags=None):
    r"""The gradient :math:`\partial L / \partial x(t)` reaching each input, from one backward.

    How strongly the loss reaches back to the input of each earlier step: the same paths as
    :math:`\delta h(t)`, read one matrix product later (:math:`\delta x(t) = W_x^\top \delta a(t)`
    for the RNN). It needs only the minimal layer protocol (:mod:`numrnn.nn.protocol`):
    ``forward(x, h0=None) -> (hs, cache)`` and ``backward(dhs, cache) -> (dx, grads)``.

    Parameters as :func:`hidden_grads_by_lag`, for any layer with the minimal protocol.

    Returns
    -------
    dict
        "lags" (L,) ints; "x" (L, B, D) with "x"[i] = :math:`\partial L / \partial x(T-1-\text{lags}[i])`.
    """
    require_protocol(layer, "input_grads_by_lag")
    x, dhs, lags = _checked_inputs(layer, x, dhs, lags)
    T = x.shape[1]
    _, cache = layer.forward(x) if h0 is None else layer.forward(x, h0=h0)
    dx = np.asarray(layer.backward(dhs, cache)[0])
    return {"lags": lags, "x": dx[:, T - 1 - lags].transpose(1, 0, 2)}


def _starts_before_each_step(layer, x, h0):
    """starts[t]: keyword arguments of ``forward`` that start a chunk at step t (one-step chunks)."""
    starts = [{"h0": h0}]
    for t in range(x.shape[1] - 1):
        _, cache = layer.forward(x[:, t:t + 1], **_without_none(starts[t]))
        require_cache_state(cache, "hidden_grads_by_lag", method="state")
        starts.append({"state": cache.state})
    return starts


def _without_none(kwargs):
    return {name: value for name, value in kwargs.items() if value is not None}


def _chunk_dinit(layer, x, dhs, starts, first):
    """Gradient on the state entering step ``first``, from the backward of steps first .. T-1."""
    _, cache = layer.forward(x[:, first:], **_without_none(starts[first]))
    return layer.backward(dhs[:, first:], cache, return_dinit=True)[2]


def _checked_inputs(layer, x, dhs, lags):
    """x (B, T, D) and dhs (B, T, H) checked against the layer, and the lags (default all)."""
    D, H, dtype = require_protocol(layer, "the gradient by lag")
    x = check_array("x", x, 3, (None, None, D), dtype)
    B, T, _ = x.shape
    dhs = check_array("dhs", dhs, 3, (B, T, H), dtype)
    return x, dhs, _check_lags(lags, T)


def _check_lags(lags, steps):
    if lags is None:
        return np.arange(steps)
    lags = np.asarray(lags)
    if lags.ndim != 1 or lags.size == 0 or not np.issubdtype(lags.dtype, np.integer):
        raise ValueError(f"lags must be a non-empty 1-d sequence of integers, got {lags!r}")
    if lags.min() < 0 or lags.max() > steps - 1:
        raise ValueError(f"lags must lie in [0, {steps - 1}] for T = {steps}, got {lags.min()}..{lags.max()}")
    return lags


# ---------------------------------------------------------------------------- during training
def as_float64(model):
    """A float64 copy of a :class:`numrnn.training.model.SequenceModel` (the same parameters, cast).

    A model with your own layer (``SequenceModel(layer=...)``) cannot be rebuilt by numrnn: in
    float64 it is returned as it is, in float32 it is refused with the reason.
    """
    if not all(hasattr(model, name) for name in ("cell", "dtype", "set_params", "layer")):
        raise TypeError(f"as_float64 takes a numrnn SequenceModel, got {type(model).__name__}")
    if model.cell is None:
        if np.dtype(model.dtype) == np.float64:
            return model
        raise TypeError(f"a float64 copy of a model with your own layer ({type(model.layer).__name__}) "
                        f"cannot be made: numrnn cannot rebuild that layer; build it in float64")
    copy = type(model).from_config(dict(model.config, dtype="float64"))
    copy.set_params(model.params)
    return copy


class LagNormRecorder:
    r"""A trainer callback ``(step, model)``: :func:`grad_norm_by_lag` on a fixed probe batch.

    Each call runs a float64 copy of the model's loss and backward on ``(x, y)`` (evaluation mode,
    no update; the copy keeps gradients of 1e-40 or 1e40 that float32 would lose) and
    records :math:`\lVert \delta h(T-1-\text{lag}) \rVert` for the chosen lags, feeding a heat map
    of gradient norm over (training step, lag).

    Parameters
    ----------
    x : ndarray, shape (B, T, D), the probe inputs
    y : ndarray, the probe targets as the model's loss wants them
    lags : sequence of int, optional (default every lag)
    wrt : {"h", "x"}, default "h"
        The norm of :math:`\delta h` (needs the richer layer protocol) or of
        :math:`\partial L/\partial x` (any layer with the minimal one), as :func:`grad_norm_by_lag`.

    Attributes
    ----------
    steps : list of int.  norms : list of (L,) arrays, one per recorded step.
    """

    def __init__(self, x, y, lags=None, wrt="h"):
        self.x, self.y, self.lags, self.wrt = x, y, lags, check_choice("wrt", wrt, ("h", "x"))
        self.steps, self.norms = [], []

    def __call__(self, step, model):
        model = as_float64(model)                 # float32 training must not overflow the record
        _, _, info = model.loss_and_grads(self.x, self.y, train=False)
        self.lags, norms = grad_norm_by_lag(model.layer, self.x, info["dhs"], lags=self.lags, wrt=self.wrt)
        self.steps.append(int(step))
        self.norms.append(norms)

    def as_arrays(self):
        """steps (R,), lags (L,), norms (R, L)."""
        return np.array(self.steps), np.asarray(self.lags), np.array(self.norms)


# ------------------------------------------------------------------------------ Jacobians
def _require_rnn(layer):
    """The Jacobian-level diagnostics read the RNN's cache and matrices W1..WK."""
    if not isinstance(layer, RNN):
        raise TypeError(f"layer must be a numrnn.nn.rnn.RNN for this diagnostic, got {type(layer).__name__}")


def step_jacobians(layer, cache):
    r"""The Jacobian of each step's activation with respect to the previous hidden state.

    .. math:: J(t) = \frac{\partial \phi(a(t))}{\partial h(t-1)} = \operatorname{diag}(\phi'(a(t)))\, W_{k(t)}

    (the skip term of a skip step adds an identity to a *different* edge, h(t-S) -> h(t)).

    Parameters
    ----------
    layer : RNN
    cache : RNNCache of ``layer.forward``

    Returns
    -------
    J : ndarray, shape (T, B, H, H), by step t
    """
    _require_rnn(layer)
    _, act_grad = ACTIVATIONS[layer.activation]
    T = cache.a.shape[0]
    W = np.stack([layer.params[f"W{matrix_index(cache.step0 + t, layer.n_matrices) + 1}"]
                  for t in range(T)])                       # (T, H, H): W_{k(t)}
    return act_grad(cache.a)[..., :, None] * W[:, None]      # diag(act'(a(t))) W_k(t)


def jacobians_by_lag(layer, x, h0=None):
    r"""Exact :math:`M(t) = \partial h(T-1) / \partial h(t)` for every t, summed over all paths.

    Backwards from :math:`M(T-1) = I`, each h(t) reaches h(T-1) through its two out-edges:

    .. math:: M(t) = M(t+1)\, J(t+1) + [\text{step } t+S \text{ skips}]\; M(t+S)

    Parameters
    ----------
    layer : RNN
    x : ndarray, shape (B, T, D)
        Each sequence gets its own Jacobians (use B = 1 for "one sequence").
    h0 : ndarray, shape (B, H), optional

    Returns
    -------
    M : ndarray, shape (T, B, H, H), by lag: M[lag] = dh(T-1)/dh(T-1-lag)
    """
    _, cache = layer.forward(x, h0=h0)
    J = step_jacobians(layer, cache)
    T, B, H = cache.a.shape
    S, step0 = layer.skip, cache.step0
    M = np.empty((T, B, H, H), dtype=J.dtype)
    M[T - 1] = np.eye(H)
    for t in range(T - 2, -1, -1):
        M[t] = M[t + 1] @ J[t + 1]                           # through the recurrent edge
        if t + S <= T - 1 and is_skip_step(step0 + t + S, S):
            M[t] += M[t + S]                                 # through the skip edge: identity
    return M[::-1]


def jacobian_norms(M):
    """Spectral (largest singular value) and Frobenius norm of each Jacobian.

    Parameters
    ----------
    M : ndarray, shape (..., H, H), e.g. (T, B, H, H) from :func:`jacobians_by_lag`

    Returns
    -------
    dict "spectral", "frobenius" : ndarrays of shape M.shape[:-2]
    """
    M = check_array("M", M, max(2, np.ndim(M)))
    if M.shape[-1] != M.shape[-2]:
        raise ValueError(f"M must hold square matrices in its last two axes, got shape {M.shape}")
    return {"spectral": np.linalg.norm(M, ord=2, axis=(-2, -1)),
            "frobenius": np.linalg.norm(M, ord="fro", axis=(-2, -1))}


# --------------------------------------------------------------------- path decomposition
def path_decomposition_by_lag(layer, x, dhs, h0=None):
    r"""Split :math:`\delta h(t)` into the ReLU path and the skip path.

    Definition: the **ReLU path** :math:`r(t)` is the gradient carried by paths from h(t) to the loss
    that use *no* skip edge, only recurrent edges :math:`J = \operatorname{diag}(\phi') W_k` (and the
    loss's direct term); the **skip path** :math:`s(t)` is carried by paths that use *at least one*
    skip edge. Every path is one or the other, so :math:`r(t) + s(t) = \delta h(t)`. The ReLU path is
    what a network without skips would see with these activations: a product of Jacobians that
    vanishes or explodes with the lag. A path that enters a skip edge stays in :math:`s`:

    .. math::

        r(t) &= \texttt{dhs}(t) + J(t+1)^\top r(t+1) \\
        s(t) &= J(t+1)^\top s(t+1) + [\text{step } t+S \text{ skips}]\,\big(r(t+S) + s(t+S)\big)

    Parameters
    ----------
    layer : RNN
    x : ndarray, shape (B, T, D)
    dhs : ndarray, shape (B, T, H)
    h0 : ndarray, shape (B, H), optional

    Returns
    -------
    dict "relu", "skip" : ndarrays of shape (T, B, H), by lag
    """
    _require_rnn(layer)
    _, cache = layer.forward(x, h0=h0)
    T, B, H = cache.a.shape
    dhs = check_array("dhs", dhs, 3, (B, T, H), layer.dtype).transpose(1, 0, 2)
    _, act_grad = ACTIVATIONS[layer.activation]
    S, K, step0 = layer.skip, layer.n_matrices, cache.step0
    r, s = np.zeros((T, B, H), dtype=layer.dtype), np.zeros((T, B, H), dtype=layer.dtype)
    r[T - 1] = dhs[T - 1]
    for t in range(T - 2, -1, -1):
        d, W = act_grad(cache.a[t + 1]), layer.params[f"W{matrix_index(step0 + t + 1, K) + 1}"]
        r[t] = dhs[t] + (r[t + 1] * d) @ W                   # J(t+1)^T r(t+1)
        s[t] = (s[t + 1] * d) @ W
        if t + S <= T - 1 and is_skip_step(step0 + t + S, S):
            s[t] += r[t + S] + s[t + S]                      # every path through this skip edge
    return {"relu": r[::-1], "skip": s[::-1]}


# ---------------------------------------------------------------------- per-matrix accounting
def weight_grad_contributions(layer, x, dhs, h0=None):
    r"""Each step's contribution to the gradient of the recurrent matrix it used.

    .. math::

        C(t) = \sum_{\text{batch}} \delta a(t)\, h(t-1)^\top, \quad
        \delta a(t) = \delta h(t) \odot \phi'(a(t)), \qquad
        \frac{\partial L}{\partial W_k} = \sum_{t:\ k(t) = k} C(t)

    with :math:`\delta h(t)` from the layer's backward (:func:`hidden_grads_by_lag`).

    Parameters
    ----------
    layer : RNN
    x : ndarray, shape (B, T, D)
    dhs : ndarray, shape (B, T, H)
    h0 : ndarray, shape (B, H), optional

    Returns
    -------
    C : ndarray, shape (T, H, H), by step t (not by lag)
    k : int ndarray, shape (T,), step t used W_{k[t]} (1-based, as in the parameter names)
    """
    _require_rnn(layer)
    hs, cache = layer.forward(x, h0=h0)
    B, T, H = hs.shape
    dh = hidden_grads_by_lag(layer, x, dhs, h0)["h"][::-1]             # by step t, (T, B, H)
    _, act_grad = ACTIVATIONS[layer.activation]
    da = dh * act_grad(cache.a)                                         # (T, B, H)
    h0 = np.zeros((B, H), dtype=layer.dtype) if h0 is None else h0
    h_prev = np.concatenate([h0[None], hs.transpose(1, 0, 2)[:-1]])     # h(t-1), (T, B, H)
    C = np.einsum("tbi,tbj->tij", da, h_prev)
    k = np.array([matrix_index(cache.step0 + t, layer.n_matrices) + 1 for t in range(T)])
    return C, k


# ------------------------------------------------------------------------------- spectral view
def spectral_norms(layer):
    r"""Largest singular value of each recurrent matrix and of their product over one period.

    Pascanu, Mikolov & Bengio (2013): with :math:`\lVert\operatorname{diag}(\phi'(a))\rVert \le
    \gamma` (:math:`\gamma = 1` for ReLU and tanh), a path of n recurrent edges has

    .. math:: \Big\lVert \prod J \Big\rVert \le \prod \gamma\, \sigma_{\max}(W_{k(u)})

    so :math:`\sigma_{\max}(W_k) < 1/\gamma` for every k is *sufficient* for the gradient to vanish
    geometrically in A and B, and :math:`\sigma_{\max} > 1/\gamma` for some k is *necessary* for it
    to explode. For K > 1 the product :math:`W_K \cdots W_1` is the linear map of one period with
    every unit active; its :math:`\sigma_{\max}^{1/K}` is the growth per step of that map (the
    bound above uses the product of the individual :math:`\sigma_{\max}` instead, which is larger
    or equal). With skip edges the bound does not hold: a period's Jacobian is
    :math:`I + (\text{product of } S\ J\text{'s})`, whose smallest singular value is at least
    :math:`1 - \prod \gamma\sigma_{\max}`: small recurrent gains leave the identity almost intact
    instead of driving the gradient to 0.

    The bound is loose for ReLU: the default init draws N(0, scale²/H) entries, whose
    :math:`\sigma_{\max} \approx 2\,\text{scale}` (spectral radius about scale), so at scale 1
    :math:`\sigma_{\max} \approx 2` and the bound allows growth, yet A vanishes because relu'
    switches off about half the units each step; the measured change from vanishing to exploding
    is near scale :math:`\sqrt 2` (He et al. 2015), see ``figures/diagnostics/spectral_sweep*.png``.

    Parameters
    ----------
    layer : RNN (uses ``params["W1".."WK"]``)

    Returns
    -------
    dict
        "W1".."WK": :math:`\sigma_{\max}(W_k)`; "product": :math:`\sigma_{\max}(W_K \cdots W_1)`;
        "per_step": "product" ** (1/K).
    """
    _require_rnn(layer)
    K = layer.n_matrices
    mats = [layer.params[f"W{k + 1}"] for k in range(K)]
    sigma = {f"W{k + 1}": float(np.linalg.norm(W, 2)) for k, W in enumerate(mats)}
    product = np.eye(mats[0].shape[0])
    for W in mats:
        product = W @ product                               # W_K ... W_2 W_1
    sigma["product"] = float(np.linalg.norm(product, 2))
    sigma["per_step"] = sigma["product"] ** (1.0 / K)
    return sigma
