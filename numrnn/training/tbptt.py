r"""Truncated backpropagation through time, with the state carried across windows.

A long stream of T steps is too long to backpropagate through in one piece. Truncated BPTT
(Williams & Peng 1990, BPTT(k2; k1)) runs forward continuously but, every k1 steps, computes the
gradient of the losses of those k1 steps backpropagated only k2 >= k1 steps into the past, and
updates the parameters. Update j happens at :math:`e_j = \min(j k_1, T)`, reads the losses of
the steps since the last update, :math:`e_{j-1} .. e_j - 1`, and backpropagates k2 steps back from
:math:`e_j`, to :math:`s_j = \max(0, e_j - k_2)`:

.. math::

    \hat g_j = \frac{\partial}{\partial \theta}\, \frac{1}{|U_j|} \sum_{t \in U_j} \ell_t
        \Big(\theta;\ x(s_j..t),\ \text{state}(s_j) \text{ held constant}\Big),
    \qquad U_j = \{e_{j-1}, \dots, e_j - 1\}

With k1 = k2 = k this is the usual "window of k steps": the stream is cut into chunks of k, each
chunk's losses backpropagated to the chunk start. The first k2 - k1 steps of a window are context:
no loss is read there, but gradient flows through them.

**Carried state, detached.** The forward of window j starts from the state the forward reached at
:math:`s_j`, so the outputs are exactly those of one forward over the whole stream
(``tests/test_tbptt.py`` checks it for every K, S and window). The backward stops there: the
entering state is a constant, its gradient (``dinit`` of the layer's backward) is dropped. That is
what "detached" means in NumPy: the previous window's cache is simply never backpropagated into.

**What a skip connection needs to carry.** Step t reads h(t-1) and, on skip steps, h(t-S). So the
state at a window boundary is the last P = max(1, S) hidden states (plus the cell state c(t-1) for
an LSTM) and the step count, which keeps the matrix schedule W_{(t mod K)+1} and the skip steps
in phase. Carrying only h(t-1) would silently change every skip step of the next window whose
h(t-S) lies before the boundary; :func:`check_state` refuses a state of the wrong shape. The
carried skip has a cost too: h(t) = phi(a(t)) + h(t-S) sums the state along each chain of skip
steps, so over a long stream the state of C and D grows (geometrically with ReLU, where
h(t) >= h(t-S); by drift with tanh and the LSTM). ``results/charlm.md`` measures it.

**Truncation cuts long paths.** A loss at step t in window j reaches back only to :math:`s_j`: every
path from an earlier step is cut, however strong. :mod:`numrnn.analysis.truncation` measures how much
gradient a loss at the last step sends to each earlier input with and without the cut, and draws it
for versions A-D: at initialisation a cut at k = 20
removes 0.02 % of A's gradient norm but 99.7 % of C's, whose gradient grows with the lag.
"""
from dataclasses import dataclass

import numpy as np

from .._checks import check_int
from ..nn.protocol import require_cache_state, require_protocol


# ----------------------------------------------------------------------------- the windows
@dataclass(frozen=True)
class Window:
    """Steps [start, end) are run forward from the carried state; losses of [first_loss, end) count.

    first_loss - start = the context steps (k2 - k1, fewer at the start of the stream).
    """
    start: int
    first_loss: int
    end: int


def check_window(k1, k2=None):
    """Validate k1 >= 1 and k2 >= k1 (k2 defaults to k1); return them as ints."""
    k1 = check_int("k1 (window)", k1, 1)
    if k2 is None:
        return k1, k1
    k2 = check_int("k2", k2, 1)
    if k2 < k1:
        raise ValueError(f"k2 must be >= k1: each update backpropagates k2 steps through the k1 "
                         f"new ones, got k1={k1}, k2={k2}")
    return k1, k2


def check_tbptt(tbptt):
    """``tbptt`` as given to :class:`~numrnn.training.trainer.Trainer`: k or (k1, k2), checked by
    :func:`check_window` (the one check of k1 and k2); returns (k1, k2)."""
    if isinstance(tbptt, (tuple, list)):
        if len(tbptt) != 2:
            raise TypeError(f"tbptt must be k or a pair (k1, k2), got {len(tbptt)} values {tuple(tbptt)!r}")
        return check_window(*tbptt)
    return check_window(tbptt)


def windows(n_steps, k1, k2=None):
    """The windows of BPTT(k2; k1) over a stream of ``n_steps`` steps.

    Parameters
    ----------
    n_steps : int >= 1
        T.
    k1 : int >= 1
        Update every k1 steps (the window length when k2 is not given).
    k2 : int >= k1, optional
        Backpropagate k2 steps; default k1.

    Returns
    -------
    list of Window
        For j = 1, 2, ...: end e_j = min(j k1, T), first_loss e_{j-1} (e_0 = 0), start
        max(0, e_j - k2). With k2 = k1 the windows are the chunks [0, k1), [k1, 2 k1), ...; only
        a last update at T (when k1 does not divide T) also reaches back k2 steps, like every
        update, so its window starts before its first loss.
    """
    n_steps = check_int("n_steps", n_steps, 1)
    k1, k2 = check_window(k1, k2)
    ends = list(range(k1, n_steps, k1)) + [n_steps]
    return [Window(max(0, end - k2), first, end) for first, end in zip([0] + ends[:-1], ends)]


# -------------------------------------------------------------------------- the carried state
def state_after(cache, n):
    """The state after the first ``n`` steps of a chunk, read from the chunk's cache.

    Every numrnn cache offers it as ``cache.state_at(n)`` (:class:`numrnn.nn.base.RecurrentCache`):
    for a cache holding ``h`` of shape (P + T, B, H) (``h[P + t]`` is h(t)), the state after n steps
    is h(n-P) .. h(n-1) = ``h[n : n + P]`` (an LSTM also carries c(n-1)).
    ``state_after(cache, T)`` equals ``cache.state``.

    Parameters
    ----------
    cache : the cache of a layer's forward, with ``state_at(n)``
    n : int in 0..T

    Returns
    -------
    the layer's state (RNNState for the RNN and the GRU, LSTMState for the LSTM)
    """
    require_cache_state(cache, "truncated BPTT")
    return cache.state_at(n)


def check_state(layer, state, batch_size, name="state"):
    """Refuse a carried state that this layer cannot continue from, saying why.

    Parameters
    ----------
    layer : a layer with the richer protocol (numrnn's RNN, LSTM, GRU)
    state : the layer's state, or None
    batch_size : int
        B of the chunk about to be run.
    name : str
        How the error calls the argument.

    Returns
    -------
    state, unchanged (None passes). A layer without ``check_state`` of its own is trusted to check
    the state in its forward.
    """
    if state is None or not hasattr(layer, "check_state"):
        return state
    return layer.check_state(state, batch_size, name)


# --------------------------------------------------------------------------- one window
def window_loss_and_grads(model, x, y, state=None, n_context=0, carry=None, train=True):
    """Loss and truncated gradient of one window, the entering state held constant.

    .. math:: L = \\frac{1}{B\\,(L_w - c)} \\sum_b \\sum_{t=c}^{L_w - 1} \\ell_{b,t}, \\qquad
              \\hat g = \\partial L / \\partial \\theta \\ \\text{through steps } 0..L_w-1 \\text{ only}

    Parameters
    ----------
    model : SequenceModel with readout="all"
    x : ndarray, shape (B, L_w) tokens or (B, L_w, D) inputs
    y : ndarray, shape (B, L_w) labels ("ce") or (B, L_w, O) targets ("mse")
    state : the layer's carried state (RNNState for the RNN and the GRU, LSTMState), optional
        The carried state entering the window (zeros when None).
    n_context : int in 0..L_w-1
        c: the first c steps are context; their losses do not count.
    carry : int in 0..L_w, optional
        Return the state after this many steps (default L_w: the end of the window).
    train : bool
        Dropout in training mode.

    Returns
    -------
    loss : float (nan or inf if the forward overflowed)
    grads : dict name -> ndarray, keyed as ``model.params`` (all nan if the loss is not finite)
    info : dict
        "state": the state after ``carry`` steps, to enter the next window;
        "n_loss": how many (stream, step) losses the mean is over; "pred": the predictions.
    """
    require_protocol(model.layer, "truncated BPTT", state=True)
    if model.readout_mode != "all":
        raise ValueError('truncated BPTT needs a model with readout="all" (a loss at every step), '
                         f'got readout={model.readout_mode!r}')
    B, L = np.shape(x)[:2]
    n_context = check_int("n_context", n_context, 0)
    if n_context >= L:
        raise ValueError(f"n_context must be < the window's {L} steps, got {n_context}")
    carry = L if carry is None else check_int("carry", carry, 0)
    check_state(model.layer, state, B)
    mask = np.ones((B, L))
    mask[:, :n_context] = 0
    pred, cache = model.forward(x, state=state, train=train)
    loss, dpred = model.loss(pred, y, mask if n_context else None)
    if np.isfinite(loss):
        grads, _ = model.backward(dpred, cache)
    else:                                         # the forward overflowed: no gradient exists
        grads = {k: np.full_like(v, np.nan) for k, v in model.params.items()}
    info = {"state": state_after(cache["layer"], carry), "n_loss": B * (L - n_context), "pred": pred}
    return loss, grads, info


# ----------------------------------------------------------------------- the whole stream
def truncated_steps(model, x, y, k1, k2=None, state=None, train=True):
    """Run BPTT(k2; k1) over a stream, one window at a time; the caller updates between windows.

    A generator: for each window it yields ``(window, loss, grads, info)``; the caller may change
    the parameters (clip, ``optimizer.step``) before asking for the next. The state carried into
    window j+1 is the one window j's forward reached at :math:`s_{j+1}`, computed with the
    parameters of window j (it is detached: a constant for window j+1).

    Parameters
    ----------
    model : SequenceModel with readout="all"
    x : ndarray, shape (B, T) tokens or (B, T, D)
    y : ndarray, shape (B, T) or (B, T, O)
    k1, k2 : int
        Update every k1 steps, backpropagate k2 >= k1 steps (default k2 = k1).
    state : carried state entering step 0, optional
    train : bool

    Yields
    ------
    window : Window
    loss : float, mean over the window's B (end - first_loss) losses
    grads : dict
    info : dict ("state" after the window's end is ``info["state"]`` of the last window)
    """
    wins = windows(np.shape(x)[1], k1, k2)
    for j, w in enumerate(wins):
        next_start = wins[j + 1].start if j + 1 < len(wins) else w.end
        loss, grads, info = window_loss_and_grads(
            model, x[:, w.start:w.end], y[:, w.start:w.end], state,
            n_context=w.first_loss - w.start, carry=next_start - w.start, train=train)
        yield w, loss, grads, info
        state = info["state"]


def truncated_gradient(model, x, y, k1, k2=None, state=None):
    """The gradient truncated BPTT sums over a stream with the parameters held fixed.

    .. math:: \\hat g = \\sum_j \\frac{|U_j|}{T}\\, \\hat g_j

    the gradient of the mean loss of the stream with every path that crosses a window start cut.
    With k2 >= T every window starts at step 0 and :math:`\\hat g` is the full BPTT gradient.

    Parameters and shapes as :func:`truncated_steps`. Returns (mean loss, grads).
    """
    total_loss, total, n = 0.0, None, 0
    for _, loss, grads, info in truncated_steps(model, x, y, k1, k2, state, train=False):
        w = info["n_loss"]
        total_loss, n = total_loss + loss * w, n + w
        total = {k: g * w for k, g in grads.items()} if total is None else \
            {k: total[k] + g * w for k, g in grads.items()}
    return total_loss / n, {k: g / n for k, g in total.items()}


__all__ = ["Window", "check_window", "check_tbptt", "windows", "state_after", "check_state",
           "window_loss_and_grads", "truncated_steps", "truncated_gradient"]
