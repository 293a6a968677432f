"""Figures of the gradient-flow diagnostics (matplotlib, headless-safe; each returns its Figure).

The functions take plain arrays computed by :mod:`numrnn.analysis.gradients` (see :mod:`numrnn.experiments.figures`
for the command that computes and saves them all), so a notebook can draw its own numbers:

- :func:`plot_lag_curves`: norms against lag, log scale, seeds as thin lines with the median bold;
  one panel per setting (used for gradient norm by lag, path decomposition, spectral sweep).
- :func:`plot_weight_contributions`: each step's contribution to dW_k, coloured by matrix.
- :func:`plot_sweep_summary`: gradient reaching the first step against the initial scale.
- :func:`plot_lag_heatmap`: gradient norm over (training step, lag), one panel per version.
"""
import warnings

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from .._io import save_figure  # noqa: F401  (plots.save_figure: the atomic PNG write)

#: One colour per paper version, the same in every figure.
VERSION_COLOURS = {"A": "tab:blue", "B": "tab:orange", "C": "tab:green", "D": "tab:red",
                   "special": "tab:purple"}


def scale_colour(i, n):
    """The i-th of n colours from dark blue (small scale: vanishing) to yellow (large: exploding)."""
    from matplotlib import colormaps
    return colormaps["viridis"](i / max(1, n - 1))


def _panels(n, width=4.6, height=3.6, sharey=True):
    """n axes side by side; four as a 2 x 2 grid so they stay readable in a README."""
    rows, cols = (2, 2) if n == 4 else (1, n)
    fig = Figure(figsize=(width * cols, height * rows), layout="constrained")
    return fig, fig.subplots(rows, cols, sharey=sharey, squeeze=False).ravel()


def log_median(values, axis=0):
    """Median over ``axis`` taken on log10 (a geometric median of the middle pair for even counts);
    zeros, negatives and NaN are left out, and a column with no positive value gives NaN."""
    values = np.asarray(values, dtype=float)
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        return 10 ** np.nanmedian(np.log10(np.where(values > 0, values, np.nan)), axis=axis)


def _seeds_and_median(ax, x, ys, colour, label, **style):
    """Each row of ys (n_seeds, L) as a thin line, their (log) median bold."""
    ys = np.atleast_2d(np.asarray(ys, dtype=float))
    if ys.shape[-1] != len(x):
        raise ValueError(f"curves have {ys.shape[-1]} points but there are {len(x)} lags")
    for y in ys:
        ax.plot(x, y, color=colour, lw=0.6, alpha=0.35)
    ax.plot(x, log_median(ys), color=colour, lw=style.pop("lw", 2.2), label=label, **style)


def _log_axis(ax, title, xlabel, legend=True):
    ax.set_yscale("log", nonpositive="mask")    # a zero (no path of that kind) is left out, not clipped
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.grid(True, which="major", alpha=0.3)
    if legend == "right":
        ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.02, 0.5))
    elif legend:
        ax.legend(fontsize=8)


def plot_lag_curves(panels, title, ylabel, colours=None, styles=None,
                    xlabel="lag T-1-t (steps before the loss)", shared_legend=False):
    """Norms against lag on a log scale, one panel per setting.

    Parameters
    ----------
    panels : dict panel title -> dict curve label -> (lags (L,), values (n_seeds, L))
    title : str
        The figure title: state the setting (sizes, seeds, what is normalised).
    ylabel : str
    colours : dict curve label -> colour, optional
        Default: :data:`VERSION_COLOURS` for version names, else the colour cycle.
    styles : dict curve label -> dict of matplotlib line keywords for the median, optional
    shared_legend : bool
        One legend right of the last panel (for many curves with the same labels in each panel).

    Returns
    -------
    matplotlib.figure.Figure
    """
    if not panels:
        raise ValueError("panels is empty: nothing to plot")
    fig, axes = _panels(len(panels))
    for ax, (name, curves) in zip(axes, panels.items()):
        for i, (label, (lags, values)) in enumerate(curves.items()):
            colour = (colours or {}).get(label, VERSION_COLOURS.get(label, f"C{i}"))
            _seeds_and_median(ax, lags, values, colour, label, **dict((styles or {}).get(label, {})))
        _log_axis(ax, name, xlabel, legend=not shared_legend or ("right" if ax is axes[-1] else False))
    for ax in axes[::2 if len(axes) == 4 else len(axes)]:
        ax.set_ylabel(ylabel)
    fig.suptitle(title)
    return fig


def plot_weight_contributions(panels, title, ylabel=r"$\|\delta a(t)\, h(t-1)^\top\|_F$"):
    """Each step's contribution :math:`\\lVert \\delta a(t) h(t-1)^\\top \\rVert_F` to the matrix it used.

    Parameters
    ----------
    panels : dict panel title -> (norms (n_seeds, T), k (T,) 1-based matrix of each step)
    title, ylabel : str

    Returns
    -------
    matplotlib.figure.Figure
    """
    if not panels:
        raise ValueError("panels is empty: nothing to plot")
    fig, axes = _panels(len(panels), sharey=False)      # each panel zooms in on its own range
    for ax, (name, (norms, k)) in zip(axes, panels.items()):
        norms, k = np.atleast_2d(norms), np.asarray(k)
        steps, median = np.arange(len(k)), log_median(norms)
        for j in np.unique(k):
            on = k == j
            for row in norms:
                ax.plot(steps[on], row[on], ".", color=f"C{j - 1}", ms=2, alpha=0.3)
            ax.plot(steps[on], median[on], "o-", color=f"C{j - 1}", ms=3, lw=0.8,
                    label=f"W{j} (steps t with t mod K = {j - 1})")
        _log_axis(ax, name, "step t")
    for ax in axes[::2 if len(axes) == 4 else len(axes)]:
        ax.set_ylabel(ylabel)
    fig.suptitle(title)
    return fig


def plot_sweep_summary(scales, ratios, title, ylabel, marks=None):
    """One value per (scale, seed) against the initial scale, per version; median bold.

    Parameters
    ----------
    scales : (n_scales,)
    ratios : dict version -> (n_scales, n_seeds)
    title, ylabel : str
    marks : dict label -> scale, optional
        Vertical lines, e.g. where sigma_max(W) = 1.

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig, (ax,) = _panels(1, width=5.2)
    for i, (label, values) in enumerate(ratios.items()):
        _seeds_and_median(ax, scales, np.asarray(values).T, VERSION_COLOURS.get(label, f"C{i}"), label)
    ax.axhline(1.0, color="k", lw=0.8, ls=":")
    for i, (label, x) in enumerate((marks or {}).items()):
        ax.axvline(x, color="0.4", lw=1, ls=("--", "-.", ":")[i % 3], label=label)
    _log_axis(ax, "", "scale of the recurrent init (entries N(0, scale²/H), spectral radius ≈ scale)")
    ax.set_ylabel(ylabel)
    fig.suptitle(title)
    return fig


def plot_lag_heatmap(records, title, label="log10 gradient norm"):
    """A heat map per version: training step (rows) by lag (columns), colour = log10 of the value.

    The colour scale is symmetric about 0: blue is vanishing, red exploding, white neither.

    Parameters
    ----------
    records : dict version -> (steps (R,), lags (L,), values (R, L))
    title, label : str

    Returns
    -------
    matplotlib.figure.Figure
    """
    if not records:
        raise ValueError("records is empty: nothing to plot")
    with np.errstate(divide="ignore", invalid="ignore"):
        logs = {name: np.log10(np.asarray(v, dtype=float)) for name, (_, _, v) in records.items()}
    finite = np.concatenate([v[np.isfinite(v)] for v in logs.values()] + [np.zeros(1)])
    limit = max(1.0, np.percentile(np.abs(finite), 99))      # symmetric: white = undiminished
    fig, axes = _panels(len(records), width=3.4, height=3.6)
    for ax, (name, (steps, lags, _)) in zip(axes, records.items()):
        image = ax.pcolormesh(lags, steps, logs[name], vmin=-limit, vmax=limit, cmap="RdBu_r",
                              shading="nearest")
        ax.set_title(name)
        ax.set_xlabel("lag T-1-t")
    axes[0].set_ylabel("training step")
    fig.colorbar(image, ax=list(axes), label=label)
    fig.suptitle(title)
    return fig


# ------------------------------------------------------------- training records (numrnn reproduce)


def _rows(results):
    order, groups = [], {}
    for r in results:
        key = r["spec"]["row"]
        if key not in groups:
            groups[key] = []
            order.append(key)
        groups[key].append(r)
    return order, groups


def _floats(values):
    return np.array([float(v) for v in values], dtype=float)


def plot_loss_curves(results, title=None, ncols=4):
    """Training loss per batch (log scale), one panel per row, one line per seed.

    Parameters
    ----------
    results : list of run records (``numrnn.experiments.reproduce.run_one``)
    title : str, optional
    ncols : int, panels per figure row

    Returns
    -------
    matplotlib.figure.Figure
    """
    order, groups = _rows(results)
    nrows = -(-len(order) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(4 * ncols, 3.2 * nrows), squeeze=False,
                             sharey=True)
    for ax, name in zip(axes.flat, order):
        runs = groups[name]
        for i, r in enumerate(runs):
            loss = _floats(r["loss"])
            line, = ax.plot(np.arange(1, len(loss) + 1), loss, lw=0.8, alpha=0.8,
                            label=f"seed {r['spec']['seed']}")
            if r["diverged_step"] is not None:
                y = loss[-1] if len(loss) else r["baseline_mse"]
                ax.plot(r["diverged_step"], y, "x", color=line.get_color(), ms=9, mew=2)
        ax.axhline(np.median([r["baseline_mse"] for r in runs]), color="k", ls="--", lw=1,
                   label="baseline (Var)")
        spec = runs[0]["spec"]
        ax.set_title(f"{name} (T={spec['T']})", fontsize=10)
        ax.set_yscale("log")
        ax.set_xlabel("batch")
        ax.grid(alpha=0.3)
    for ax in axes[:, 0]:
        ax.set_ylabel("training MSE")
    for ax in list(axes.flat)[len(order):]:
        ax.set_visible(False)
    axes.flat[0].legend(fontsize=7, loc="lower left")
    fig.suptitle(title or "Training loss per batch", fontsize=11)
    fig.tight_layout()
    return fig


def plot_final(results, success, title=None):
    """Final normalised test MSE of every run (dots), median per row (bar), the success threshold ``success``."""
    order, groups = _rows(results)
    fig, ax = plt.subplots(figsize=(max(6, 0.9 * len(order) + 2), 4))
    for i, name in enumerate(order):
        values = _floats([r["normalised_mse"] for r in groups[name]])
        finite = values[np.isfinite(values)]
        ax.scatter(np.full(finite.size, i), finite, s=18, color="C0", zorder=3)
        n_div = sum(r["diverged_step"] is not None for r in groups[name])
        if finite.size:
            ax.hlines(np.median(finite), i - 0.3, i + 0.3, color="C1", lw=2, zorder=4)
        if n_div:
            ax.annotate(f"{n_div} diverged", (i, 1.0), ha="center", fontsize=7, color="C3")
    ax.axhline(success, color="C2", ls="--", lw=1, label=f"success: < {success}")
    ax.axhline(1.0, color="k", ls=":", lw=1, label="predict the mean")
    ax.set_yscale("log")
    ax.set_xticks(range(len(order)))
    ax.set_xticklabels(order, rotation=30, ha="right", fontsize=8)
    ax.set_ylabel("final test MSE / Var(target)")
    ax.legend(fontsize=8)
    ax.set_title(title or "Final normalised test MSE per run", fontsize=10)
    ax.grid(alpha=0.3, axis="y")
    fig.tight_layout()
    return fig


def plot_length_sweep(results, success, title=None):
    """Normalised test MSE against T (log-log), one line per version (median), seeds as dots; ``success`` drawn."""
    fig, ax = plt.subplots(figsize=(6.5, 4))
    order, groups = _rows(results)
    for j, name in enumerate(order):
        by_T = {}
        for r in groups[name]:
            by_T.setdefault(r["spec"]["T"], []).append(float(r["normalised_mse"]))
        Ts = sorted(by_T)
        medians = [np.nanmedian(np.where(np.isfinite(by_T[T]), by_T[T], np.nan))
                   if np.any(np.isfinite(by_T[T])) else np.nan for T in Ts]
        ax.plot(Ts, medians, "-o", color=f"C{j}", label=name)
        for T in Ts:
            vals = np.array(by_T[T])
            ax.scatter(np.full(vals.size, T) * (1 + 0.03 * (j - 1.5)), vals, s=10, alpha=0.5,
                       color=f"C{j}")
    ax.axhline(success, color="k", ls="--", lw=1, label=f"success: < {success}")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("sequence length T")
    ax.set_ylabel("final test MSE / Var(target)")
    ax.legend(fontsize=8)
    ax.set_title(title or "Where each version stops learning", fontsize=10)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig

