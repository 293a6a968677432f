r"""The cells as the equations read: one step function, one plain reversed loop.

This is the code to read next to the paper. :mod:`numrnn.nn.rnn` computes exactly the same numbers,
faster (chunked products, reused buffers); the test suite holds the two equal to 1e-12 and both
against finite differences. Notebook 02 prints this module.

The RNN (equation numbers as cited in the code, here and in :mod:`numrnn.nn.rnn`), with
:math:`k(t) = (t \bmod K) + 1` and :math:`[\text{skip}(t)] = [(t+1) \bmod S = 0]`:

.. math::

    (1)\quad a(t) &= W_{k(t)}\, h(t-1) + W_x\, x(t) + b \\
    (2)\quad h(t) &= \phi(a(t)) + [\text{skip}(t)]\; \alpha\, h(t-S) \qquad (\alpha = 1 \text{ in the paper; } \texttt{skip\_scale})

Backward, for t = T-1 down to 0, where :math:`\delta h(t)` is complete when step t is reached
(it has the loss's part and the parts from steps t+1 and t+S, which ran before):

.. math::

    (3)\quad \delta h(t-S) &\mathrel{+}= \alpha\, \delta h(t) \quad \text{on skip steps: the skip path, no } \phi' \\
    (4)\quad \delta a(t) &= \delta h(t) \odot \phi'(a(t)) \\
    (5)\quad \delta h(t-1) &\mathrel{+}= W_{k(t)}^\top\, \delta a(t) \\
    (6)\quad \delta W_{k(t)} &\mathrel{+}= \delta a(t)\, h(t-1)^\top \quad \text{(only the matrix step t used)} \\
    (7)\quad \delta W_x \mathrel{+}= \delta a(t)\, x(t)^\top, &\quad \delta b \mathrel{+}= \delta a(t), \quad
             \delta x(t) = W_x^\top \delta a(t) \\
    (8)\quad \delta \alpha &\mathrel{+}= \langle \delta h(t),\, h(t-S) \rangle \quad \text{on skip steps, when } \alpha
             \text{ is learned (} \texttt{params["alpha"]} \text{)}

The LSTM and the GRU follow in the same style, with the equations of :mod:`numrnn.nn.lstm`
((L1)-(L11)) and :mod:`numrnn.nn.gru` ((G1)-(G11)): :func:`lstm_step_forward` /
:func:`lstm_step_backward` with :func:`lstm_forward` / :func:`lstm_backward`, and
:func:`gru_step_forward` / :func:`gru_step_backward` with :func:`gru_forward` / :func:`gru_backward`.

Arrays are batch-first as in the rest of numrnn: x (B, T, D), h (B, H). In the loops below the
hidden states and their gradients are dictionaries keyed by the time step t, from -P to T-1 with
P = max(1, S), so ``h[t - S]`` and ``dh[t - S]`` read exactly like the equations; ``h[-1]`` is h0.
"""
import numpy as np

from .activations import ACTIVATIONS, sigmoid
from .schedule import is_skip_step, matrix_index


# ------------------------------------------------------------------------------- one step
def rnn_step_forward(x_t, h_prev, W, Wx, b, h_skip=None, activation="relu", skip_scale=1.0):
    """One step, equations (1)-(2).

    Parameters
    ----------
    x_t : ndarray, shape (B, D)
    h_prev : ndarray, shape (B, H), h(t-1)
    W : ndarray, shape (H, H), the matrix W_{k(t)} this step uses
    Wx : ndarray, shape (H, D);  b : ndarray, shape (H,)
    h_skip : ndarray, shape (B, H), optional: h(t-S) on a skip step, None otherwise
    activation : "relu" or "tanh"
    skip_scale : float, alpha: a skip step adds alpha h(t-S) (1: the paper's skip)

    Returns
    -------
    h : ndarray, shape (B, H)
    cache : tuple (x_t, h_prev, W, Wx, a, activation, skipped, skip_scale)
    """
    phi, _ = ACTIVATIONS[activation]
    a = h_prev @ W.T + x_t @ Wx.T + b                        # (1)
    h = phi(a)                                               # (2) phi(a(t))
    if h_skip is not None:
        h = h + skip_scale * h_skip                          # (2) + alpha h(t-S)
    return h, (x_t, h_prev, W, Wx, a, activation, h_skip is not None, skip_scale)


def rnn_step_backward(dh, cache):
    """The backward of one step, equations (3)-(7), for the *complete* gradient dh = dL/dh(t).

    Returns
    -------
    dict with "h_prev" (B, H): this step's part of dL/dh(t-1); "h_skip" (B, H) or None: its part of
    dL/dh(t-S); "x" (B, D); "W" (H, H): this step's term of dL/dW_{k(t)}; "Wx" (H, D); "b" (H,).
    """
    x_t, h_prev, W, Wx, a, activation, skipped, skip_scale = cache
    _, phi_grad = ACTIVATIONS[activation]
    da = dh * phi_grad(a)                                    # (4)
    return {"h_skip": skip_scale * dh if skipped else None,  # (3) alpha dh(t): no phi' on the skip
            "h_prev": da @ W,                                # (5)
            "W": da.T @ h_prev,                              # (6)
            "Wx": da.T @ x_t, "b": da.sum(axis=0), "x": da @ Wx}   # (7)


# ---------------------------------------------------------------------------- a sequence
def rnn_forward(params, x, n_matrices=1, skip=0, h0=None, activation="relu", history=None, step0=0,
                skip_scale=1.0):
    """Equations (1)-(2) for t = 0 .. T-1.

    Parameters
    ----------
    params : dict with W1..WK (H, H), Wx (H, D), b (H,)
    x : ndarray, shape (B, T, D)
    n_matrices, skip : int, K and S
    h0 : ndarray, shape (B, H), optional, h(-1); zeros by default
    activation : "relu" or "tanh"
    history : ndarray, shape (P, B, H), optional: h(-P) .. h(-1) carried from an earlier chunk
        (as ``RNNState.history``); excludes h0
    step0 : int, the global index of local step 0 (``RNNState.step0``), so the schedule continues
    skip_scale : float, alpha of the skip (``RNN(skip_scale=...)``; 1: the paper's skip). A learned
        alpha (``RNN(learn_skip_scale=True)``) is ``params["alpha"]`` (shape (1,)), which replaces it

    Returns
    -------
    hs : ndarray, shape (B, T, H)
    cache : dict with "h" (dict t -> (B, H) for t = -P .. T-1), "step_caches" (dict t -> step
        cache), "step0" (the global index of local step 0) and the settings
    """
    K, S, P, T = n_matrices, skip, max(1, skip), x.shape[1]
    skip_scale = params.get("alpha", skip_scale)                 # a learned alpha is a parameter
    h = start_history(x, params["b"].shape[0], P, h0, history)   # h[-P] .. h[-1]; h[-1] = h0
    step_caches = {}
    for t in range(T):
        W = params[f"W{matrix_index(step0 + t, K) + 1}"]
        h_skip = h[t - S] if is_skip_step(step0 + t, S) else None
        h[t], step_caches[t] = rnn_step_forward(x[:, t], h[t - 1], W, params["Wx"], params["b"],
                                                h_skip, activation, skip_scale)
    hs = np.stack([h[t] for t in range(T)], axis=1)
    return hs, {"h": h, "step_caches": step_caches, "K": K, "S": S, "step0": step0, "P": P,
                "skip_scale": skip_scale, "learned": "alpha" in params}


def rnn_backward(dhs, cache):
    """BPTT for :func:`rnn_forward`: equations (3)-(8) in one reversed loop.

    Parameters
    ----------
    dhs : ndarray, shape (B, T, H): dL/dh(t) from the loss alone, for every step
    cache : from :func:`rnn_forward`

    Returns
    -------
    dx : ndarray, shape (B, T, D)
    grads : dict W1..WK, Wx, b (shapes of the parameters), and alpha (1,) when it is learned
    dh : dict t -> (B, H): the complete dL/dh(t) for t = -P .. T-1; dh[-1] is dL/dh0 and
        dh[-P] .. dh[-1] the gradient of a carried history
    """
    K, S, P, step0, step_caches = cache["K"], cache["S"], cache["P"], cache["step0"], cache["step_caches"]
    skip_scale = cache.get("skip_scale", 1.0)
    T = dhs.shape[1]
    dh = loss_part(dhs, P)                                   # dh[t]: the loss's direct part; 0 for t < 0
    grads = zero_grads(K, step_caches[0][2], step_caches[0][3])
    if cache.get("learned"):
        grads["alpha"] = np.zeros_like(skip_scale)
    dx = {}
    for t in reversed(range(T)):                             # dh[t] is complete here
        if is_skip_step(step0 + t, S):
            dh[t - S] += skip_scale * dh[t]                  # (3) the skip line: alpha dh(t), no phi' on it
            if cache.get("learned"):
                grads["alpha"] += np.sum(dh[t] * cache["h"][t - S])  # (8) dalpha += <dh(t), h(t-S)>
        d = rnn_step_backward(dh[t], step_caches[t])
        dh[t - 1] += d["h_prev"]                             # (5)
        grads[f"W{matrix_index(step0 + t, K) + 1}"] += d["W"]  # (6) each W_k from its own steps only
        grads["Wx"] += d["Wx"]                               # (7)
        grads["b"] += d["b"]
        dx[t] = d["x"]
    return np.stack([dx[t] for t in range(T)], axis=1), grads, dh


# ------------------------------------------------------------------------------- the LSTM
def lstm_step_forward(x_t, h_prev, c_prev, W, Wx, b, h_skip=None):
    """One LSTM step, equations (L1)-(L4) of :mod:`numrnn.nn.lstm`; gates in the order i, f, g, o.

    Parameters
    ----------
    x_t : (B, D);  h_prev, c_prev : (B, H), h(t-1) and c(t-1)
    W : (4H, H), the matrix W_{k(t)};  Wx : (4H, D);  b : (4H,)
    h_skip : (B, H) h(t-S) on a skip step, None otherwise

    Returns
    -------
    h, c : (B, H), h(t) and c(t);  cache : tuple
    """
    H = h_prev.shape[1]
    z = h_prev @ W.T + x_t @ Wx.T + b                        # (L1)
    i, f, o = sigmoid(z[:, :H]), sigmoid(z[:, H:2 * H]), sigmoid(z[:, 3 * H:])  # (L2)
    g = np.tanh(z[:, 2 * H:3 * H])                           # (L2)
    c = f * c_prev + i * g                                   # (L3)
    h = o * np.tanh(c)                                       # (L4)
    if h_skip is not None:
        h = h + h_skip                                       # (L4) + h(t-S), on h only
    return h, c, (x_t, h_prev, c_prev, W, Wx, (i, f, g, o), c, h_skip is not None)


def lstm_step_backward(dh, dc, cache):
    """The backward of one step, (L5)-(L11), for the complete dh = dL/dh(t) and the dc = dL/dc(t)
    that step t+1 sent back through its forget gate.

    Returns
    -------
    dict with "h_prev", "c_prev" (B, H): this step's parts of dL/dh(t-1) and dL/dc(t-1); "h_skip"
    (B, H) or None; "x" (B, D); "W" (4H, H); "Wx" (4H, D); "b" (4H,).
    """
    x_t, h_prev, c_prev, W, Wx, (i, f, g, o), c, skipped = cache
    tanh_c = np.tanh(c)
    dc = dc + dh * o * (1 - tanh_c ** 2)                     # (L6)
    dz = np.concatenate([dc * g * i * (1 - i),               # (L7) dz_i
                         dc * c_prev * f * (1 - f),          #      dz_f
                         dc * i * (1 - g ** 2),              #      dz_g
                         dh * tanh_c * o * (1 - o)], axis=1)  #     dz_o
    return {"h_skip": dh if skipped else None,               # (L5) identity: no gate on the skip
            "c_prev": dc * f,                                # (L8) the cell path
            "h_prev": dz @ W,                                # (L9)
            "W": dz.T @ h_prev,                              # (L10)
            "Wx": dz.T @ x_t, "b": dz.sum(axis=0), "x": dz @ Wx}   # (L11)


def lstm_forward(params, x, n_matrices=1, skip=0, h0=None, c0=None, history=None, step0=0):
    """Equations (L1)-(L4) for t = 0 .. T-1.

    Parameters
    ----------
    params : dict with W1..WK (4H, H), Wx (4H, D), b (4H,)
    x : (B, T, D);  n_matrices, skip : K and S
    h0, c0 : (B, H), optional, h(-1) and c(-1); zeros by default
    history : (P, B, H), optional: h(-P) .. h(-1) carried from an earlier chunk (with c0 the
        carried c, as ``LSTMState``); excludes h0
    step0 : int, the global index of local step 0

    Returns
    -------
    hs : (B, T, H);  cache : dict with "h" and "c" (dicts t -> (B, H)), the step caches, settings
    """
    K, S, P, T = n_matrices, skip, max(1, skip), x.shape[1]
    h = start_history(x, params["b"].shape[0] // 4, P, h0, history)   # h[-P] .. h[-1]; h[-1] = h0
    c = {-1: np.zeros_like(h[-1]) if c0 is None else c0}
    step_caches = {}
    for t in range(T):
        W = params[f"W{matrix_index(step0 + t, K) + 1}"]
        h_skip = h[t - S] if is_skip_step(step0 + t, S) else None
        h[t], c[t], step_caches[t] = lstm_step_forward(x[:, t], h[t - 1], c[t - 1], W, params["Wx"],
                                                       params["b"], h_skip)
    hs = np.stack([h[t] for t in range(T)], axis=1)
    return hs, {"h": h, "c": c, "step_caches": step_caches, "K": K, "S": S, "step0": step0, "P": P}


def lstm_backward(dhs, cache):
    """BPTT for :func:`lstm_forward`: equations (L5)-(L11) in one reversed loop.

    Returns
    -------
    dx : (B, T, D);  grads : dict W1..WK, Wx, b
    dh : dict t -> (B, H), the complete dL/dh(t) for t = -P .. T-1 (dh[-1] is dL/dh0)
    dc : dict t -> (B, H), dL/dc(t) through the cell path of step t+1, for t = -1 .. T-1
        (dc[-1] is dL/dc0)
    """
    K, S, P, step0, step_caches = cache["K"], cache["S"], cache["P"], cache["step0"], cache["step_caches"]
    T = dhs.shape[1]
    dh = loss_part(dhs, P)                                   # dh[t]: the loss's direct part; 0 for t < 0
    dc = {T - 1: np.zeros_like(dh[T - 1])}                   # nothing comes after the last step
    grads = zero_grads(K, step_caches[0][3], step_caches[0][4])
    dx = {}
    for t in reversed(range(T)):                             # dh[t] and dc[t] are complete here
        d = lstm_step_backward(dh[t], dc[t], step_caches[t])
        if is_skip_step(step0 + t, S):
            dh[t - S] = dh[t - S] + d["h_skip"]              # (L5) the skip line: dh(t-S) += dh(t)
        dc[t - 1] = d["c_prev"]                              # (L8)
        dh[t - 1] = dh[t - 1] + d["h_prev"]                  # (L9)
        grads[f"W{matrix_index(step0 + t, K) + 1}"] += d["W"]  # (L10) each W_k from its own steps
        grads["Wx"] += d["Wx"]                               # (L11)
        grads["b"] += d["b"]
        dx[t] = d["x"]
    return np.stack([dx[t] for t in range(T)], axis=1), grads, dh, dc


# -------------------------------------------------------------------------------- the GRU
def gru_step_forward(x_t, h_prev, W, Wx, b, h_skip=None):
    """One GRU step, equations (G1)-(G4) of :mod:`numrnn.nn.gru`; gates in the order r, z, n.

    Parameters
    ----------
    x_t : (B, D);  h_prev : (B, H), h(t-1)
    W : (3H, H), the matrix W_{k(t)};  Wx : (3H, D);  b : (3H,)
    h_skip : (B, H) h(t-S) on a skip step, None otherwise

    Returns
    -------
    h : (B, H);  cache : tuple
    """
    H = h_prev.shape[1]
    a, u = h_prev @ W.T, x_t @ Wx.T + b                      # (G1)
    r = sigmoid(u[:, :H] + a[:, :H])                         # (G2)
    z = sigmoid(u[:, H:2 * H] + a[:, H:2 * H])               # (G2)
    n = np.tanh(u[:, 2 * H:] + r * a[:, 2 * H:])             # (G3) the reset gate scales W_k h(t-1)
    h = (1 - z) * n + z * h_prev                             # (G4)
    if h_skip is not None:
        h = h + h_skip                                       # (G4) + h(t-S)
    return h, (x_t, h_prev, W, Wx, a[:, 2 * H:], (r, z, n), h_skip is not None)


def gru_step_backward(dh, cache):
    """The backward of one step, (G5)-(G11), for the complete dh = dL/dh(t).

    Returns
    -------
    dict with "h_prev" (B, H): this step's part of dL/dh(t-1) (update path and W_k^T da); "h_skip"
    (B, H) or None; "x" (B, D); "W" (3H, H); "Wx" (3H, D); "b" (3H,).
    """
    x_t, h_prev, W, Wx, a_n, (r, z, n), skipped = cache
    du_n = dh * (1 - z) * (1 - n ** 2)                       # (G7)
    da_n = du_n * r                                          # (G7)
    du_r = du_n * a_n * r * (1 - r)                          # (G8) = da_r
    du_z = dh * (h_prev - n) * z * (1 - z)                   # (G8) = da_z
    du = np.concatenate([du_r, du_z, du_n], axis=1)          # gradient of u = Wx x(t) + b
    da = np.concatenate([du_r, du_z, da_n], axis=1)          # gradient of a = W_k h(t-1)
    return {"h_skip": dh if skipped else None,               # (G5) identity: no gate on the skip
            "h_prev": dh * z + da @ W,                       # (G6) update path, (G9) through W_k
            "W": da.T @ h_prev,                              # (G10)
            "Wx": du.T @ x_t, "b": du.sum(axis=0), "x": du @ Wx}   # (G11)


def gru_forward(params, x, n_matrices=1, skip=0, h0=None, history=None, step0=0):
    """Equations (G1)-(G4) for t = 0 .. T-1; arguments as :func:`rnn_forward` (params with
    W1..WK (3H, H), Wx (3H, D), b (3H,)), no activation.

    Returns
    -------
    hs : (B, T, H);  cache : dict with "h" (dict t -> (B, H) for t = -P .. T-1), the step caches
    """
    K, S, P, T = n_matrices, skip, max(1, skip), x.shape[1]
    h = start_history(x, params["b"].shape[0] // 3, P, h0, history)   # h[-P] .. h[-1]; h[-1] = h0
    step_caches = {}
    for t in range(T):
        W = params[f"W{matrix_index(step0 + t, K) + 1}"]
        h_skip = h[t - S] if is_skip_step(step0 + t, S) else None
        h[t], step_caches[t] = gru_step_forward(x[:, t], h[t - 1], W, params["Wx"], params["b"],
                                                h_skip)
    hs = np.stack([h[t] for t in range(T)], axis=1)
    return hs, {"h": h, "step_caches": step_caches, "K": K, "S": S, "step0": step0, "P": P}


def gru_backward(dhs, cache):
    """BPTT for :func:`gru_forward`: equations (G5)-(G11) in one reversed loop.

    Returns
    -------
    dx : (B, T, D);  grads : dict W1..WK, Wx, b
    dh : dict t -> (B, H), the complete dL/dh(t) for t = -P .. T-1 (dh[-1] is dL/dh0)
    """
    K, S, P, step0, step_caches = cache["K"], cache["S"], cache["P"], cache["step0"], cache["step_caches"]
    T = dhs.shape[1]
    dh = loss_part(dhs, P)                                   # dh[t]: the loss's direct part; 0 for t < 0
    grads = zero_grads(K, step_caches[0][2], step_caches[0][3])
    dx = {}
    for t in reversed(range(T)):                             # dh[t] is complete here
        d = gru_step_backward(dh[t], step_caches[t])
        if is_skip_step(step0 + t, S):
            dh[t - S] = dh[t - S] + d["h_skip"]              # (G5) the skip line: dh(t-S) += dh(t)
        dh[t - 1] = dh[t - 1] + d["h_prev"]                  # (G6), (G9)
        grads[f"W{matrix_index(step0 + t, K) + 1}"] += d["W"]  # (G10) each W_k from its own steps
        grads["Wx"] += d["Wx"]                               # (G11)
        grads["b"] += d["b"]
        dx[t] = d["x"]
    return np.stack([dx[t] for t in range(T)], axis=1), grads, dh


# ------------------------------------------------------------------------ shared plumbing
def start_history(x, H, P, h0=None, history=None):
    """h[t] for t = -P .. -1 as a dict: a carried history, or zeros with h[-1] = h0."""
    B = x.shape[0]
    h = {t: np.zeros((B, H), dtype=x.dtype) for t in range(-P, 0)}
    if history is not None:
        h.update({t: history[P + t] for t in range(-P, 0)})
    elif h0 is not None:
        h[-1] = h0
    return h


def loss_part(dhs, P):
    """dh[t] for t = -P .. T-1, started from the loss's direct part dhs[:, t] (zeros for t < 0)."""
    B, T, H = dhs.shape
    dh = {t: np.zeros((B, H), dtype=dhs.dtype) for t in range(-P, 0)}
    dh.update({t: dhs[:, t].copy() for t in range(T)})
    return dh


def zero_grads(K, W, Wx):
    """Zero gradients W1..WK (shaped like W), Wx (like Wx) and b (one per row of Wx)."""
    grads = {f"W{k + 1}": np.zeros_like(W) for k in range(K)}
    grads.update(Wx=np.zeros_like(Wx), b=np.zeros(Wx.shape[0], dtype=Wx.dtype))
    return grads


__all__ = ["rnn_step_forward", "rnn_step_backward", "rnn_forward", "rnn_backward",
           "lstm_step_forward", "lstm_step_backward", "lstm_forward", "lstm_backward",
           "gru_step_forward", "gru_step_backward", "gru_forward", "gru_backward"]
