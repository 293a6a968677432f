r"""What truncated BPTT cuts: gradient norm against lag, with and without a window of k steps.

A loss at step t in a window of k steps reaches back only to the window's start: every path from an
earlier step is cut, however strong. :func:`input_grad_norm_by_lag` measures how much gradient a loss
at the last step sends to each earlier input with and without the cut, and
:func:`plot_grad_norm_truncated` draws it for versions A-D (``python -m numrnn.experiments.figures``
regenerates ``figures/tbptt/grad_norm_truncated.png``). The truncation itself is
:mod:`numrnn.training.tbptt`.
"""
import numpy as np

from .._checks import check_array, check_int
from .._io import save_figure
from ..nn.protocol import require_cache_state, require_protocol
from ..nn.rnn import RNN


def input_grad_norm_by_lag(layer, x, dlast, window=None):
    """How strongly a loss at the last step reaches each earlier input, with and without truncation.

    .. math:: n(\\ell) = \\operatorname{mean}_b \\big\\lVert \\partial L / \\partial x_b(T-1-\\ell) \\big\\rVert,
              \\qquad L = \\textstyle\\sum_b \\langle \\texttt{dlast}_b, h_b(T-1) \\rangle

    Truncated to a window of k steps, the forward of the last k steps starts from the carried
    state and the backward stops there, so n(l) is unchanged for l < k and exactly 0 for l >= k.

    Parameters
    ----------
    layer : RNN, LSTM, GRU, or any layer with the minimal protocol (:mod:`numrnn.nn.protocol`);
        with a ``window`` it needs ``forward(x, state=)`` and ``cache.state`` too
    x : ndarray, shape (B, T, D)
    dlast : ndarray, shape (B, H), dL/dh(T-1)
    window : int >= 1, optional
        k; None for full BPTT.

    Returns
    -------
    norms : ndarray, shape (T,), norms[l] for lag l = 0 .. T-1
    """
    D, H, dtype = require_protocol(layer, "input_grad_norm_by_lag" + ("" if window is None else
                                                                      " with a window"), state=window is not None)
    x = check_array("x", x, 3, (None, None, D), dtype)
    B, T, _ = x.shape
    dlast = check_array("dlast", dlast, 2, (B, H), dtype)
    start = 0 if window is None else max(0, T - check_int("window", window, 1))
    if start > 0:
        _, cache = layer.forward(x[:, :start])
        require_cache_state(cache, "input_grad_norm_by_lag with a window", method="state")
        hs, cache = layer.forward(x[:, start:], state=cache.state)
    else:
        hs, cache = layer.forward(x)
    dhs = np.zeros(hs.shape, dtype=hs.dtype)
    dhs[:, -1] = dlast
    dx = layer.backward(dhs, cache)[0]
    norms = np.zeros(T)
    norms[:T - start] = np.linalg.norm(dx, axis=2).mean(axis=0)[::-1]   # lag 0 = the last step
    return norms


def grad_norm_truncation_study(versions=("A", "B", "C", "D"), steps=60, window=20, input_size=6,
                               hidden_size=32, batch_size=8, seeds=range(5), scale=1.0):
    """n(l) of :func:`input_grad_norm_by_lag`, full and truncated, for each version at initialisation.

    For each seed: the RNN of the version (paper's init with recurrent scale ``scale``, ReLU) seeded
    with ``seed``, x ~ N(0, 1)
    and dlast ~ N(0, 1) seeded with ``seed``; the curves are the median over seeds.

    Returns
    -------
    dict version -> {"full": (T,), "truncated": (T,), "cut_fraction": float}
        cut_fraction: the share of :math:`\\sum_\\ell n(\\ell)` (full) at lags >= window, i.e. what
        truncation throws away, median over seeds.
    """
    out = {}
    for name in versions:
        full, trunc, cut = [], [], []
        for seed in seeds:
            layer = RNN.from_version(name, input_size, hidden_size, scale=scale, seed=seed)
            rng = np.random.default_rng(seed)
            x = rng.standard_normal((batch_size, steps, input_size))
            dlast = rng.standard_normal((batch_size, hidden_size))
            f = input_grad_norm_by_lag(layer, x, dlast)
            full.append(f)
            trunc.append(input_grad_norm_by_lag(layer, x, dlast, window))
            cut.append(f[window:].sum() / f.sum() if f.sum() > 0 else 0.0)
        out[name] = {"full": np.median(full, axis=0), "truncated": np.median(trunc, axis=0),
                     "cut_fraction": float(np.median(cut))}
    return out


def plot_grad_norm_truncated(path="figures/tbptt/grad_norm_truncated.png", window=20, steps=60,
                             seeds=range(5), **study_kwargs):
    """Draw :func:`grad_norm_truncation_study` (one panel per version) and save it atomically.

    Returns the study's dict, so the numbers in the figure can be reported.
    """
    import matplotlib.pyplot as plt
    from .plots import OKABE_ITO
    study = grad_norm_truncation_study(steps=steps, window=window, seeds=seeds, **study_kwargs)
    fig, axes = plt.subplots(1, len(study), figsize=(3.2 * len(study), 3.2), sharey=True)
    lags = np.arange(steps)
    for ax, (name, curves) in zip(np.atleast_1d(axes), study.items()):
        ax.semilogy(lags, curves["full"], color="black", label="full BPTT")
        kept = lags < window
        ax.semilogy(lags[kept], curves["truncated"][kept], "--", color=OKABE_ITO["sky blue"],
                    label=f"truncated, k={window}")
        ax.axvline(window - 0.5, color="grey", lw=0.8)
        ax.set_title(f"{name}: {100 * curves['cut_fraction']:.2f}% of the norm cut", fontsize=10)
        ax.set_xlabel("lag T-1-t")
    np.atleast_1d(axes)[0].set_ylabel("||dL/dx(t)|| (batch mean, median of seeds)")
    np.atleast_1d(axes)[0].legend(fontsize=8)
    fig.suptitle(f"Truncation at k={window}: RNN at init, T={steps}, median of {len(list(seeds))} "
                 f"seeds", fontsize=9)
    fig.tight_layout()
    save_figure(fig, path, dpi=120)
    plt.close(fig)
    return study


__all__ = ["input_grad_norm_by_lag", "grad_norm_truncation_study", "plot_grad_norm_truncated"]
