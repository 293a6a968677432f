"""Training figures from the records of :mod:`numrnn.reproduce` (or any list of run records).

- :func:`plot_loss_curves` — loss per batch, log scale, one panel per table row, every seed a line,
  like the paper's figures; a cross marks where a run diverged, a dashed line is the baseline MSE.
- :func:`plot_final` — final normalised test MSE of every run, per row, against the success line.
- :func:`plot_length_sweep` — normalised test MSE against sequence length T, per version.

Each function returns the matplotlib Figure (so a notebook shows it) and :func:`save` writes it
atomically.
"""
import os
import tempfile

import matplotlib.pyplot as plt
import numpy as np

from .checkpoint import default_file_mode
from .reproduce import SUCCESS


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
    results : list of run records (``numrnn.reproduce.run_one``)
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


def plot_final(results, title=None):
    """Final normalised test MSE of every run (dots), median per row (bar), success threshold."""
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
    ax.axhline(SUCCESS, color="C2", ls="--", lw=1, label=f"success: < {SUCCESS}")
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


def plot_length_sweep(results, title=None):
    """Normalised test MSE against T (log-log), one line per version (median), seeds as dots."""
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
    ax.axhline(SUCCESS, color="k", ls="--", lw=1, label=f"success: < {SUCCESS}")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("sequence length T")
    ax.set_ylabel("final test MSE / Var(target)")
    ax.legend(fontsize=8)
    ax.set_title(title or "Where each version stops learning", fontsize=10)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def save(fig, path, dpi=110):
    """Write ``fig`` to ``path`` atomically (temporary file in the same directory, then replace)."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-", suffix=os.path.splitext(path)[1])
    os.close(fd)
    try:
        fig.savefig(tmp, dpi=dpi)
        os.chmod(tmp, default_file_mode())       # mkstemp makes 0600; use what open() would
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
        plt.close(fig)
    return path


__all__ = ["plot_loss_curves", "plot_final", "plot_length_sweep", "save"]
