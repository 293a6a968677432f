"""Figures of the reproduction's result rows (``numrnn reproduce``): loss curves, final losses, the
length sweep; :func:`numrnn.experiments.reproduce.write_report` draws them from its run records.

The generic diagnostic figures and the one palette (Okabe-Ito, :data:`VERSION_COLOURS`,
:data:`BASELINE_COLOURS`, :data:`SUCCESS_STYLE`) live in :mod:`numrnn.analysis.plots`.
"""
import matplotlib.pyplot as plt
import numpy as np

from ..analysis.plots import BASELINE_COLOURS, SUCCESS_STYLE, VERSION_COLOURS, line_style
from .reproduce import _floats


def _rows(results):
    order, groups = [], {}
    for r in results:
        key = r["spec"]["row"]
        if key not in groups:
            groups[key] = []
            order.append(key)
        groups[key].append(r)
    return order, groups


def _run_style(row, index=0):
    """Colour and line style of a table row: the version's (VERSION_COLOURS), "LSTM C" the LSTM
    family's dashes, the baselines :data:`BASELINE_COLOURS`; "special, 30 epochs" is special's."""
    base = str(row).split(",")[0]
    if base in BASELINE_COLOURS:
        return dict(color=BASELINE_COLOURS[base], ls="-", marker=None)
    return line_style(base, index)


def _clip_name(clip):
    return "no clipping" if clip is None else f"clipping at {clip:g}"


def _by(results, key):
    order, groups = [], {}
    for r in results:
        k = key(r)
        if k not in groups:
            groups[k] = []
            order.append(k)
        groups[k].append(r)
    return order, groups


def _clip_order(results):
    clips = {r["spec"]["clip"] for r in results}
    return sorted(clips, key=lambda c: -1 if c is None else c)


def _panel_row(r):
    """(task, T, "readout R, scale S") for the plain versions; (task, T, "baselines") otherwise."""
    s = r["spec"]
    what = (f"A-D, special: readout {s['readout_init']}, init scale {s['scale']:g}"
            if s["row"] in VERSION_COLOURS else "baselines")
    return (s.get("task", "first-element"), s["T"], what)


def _in_range(values, ylim):
    """Values drawn inside ``ylim``: beyond it they sit on the edge (nan/inf on the top edge)."""
    v = np.where(np.isfinite(values), values, ylim[1])
    return np.clip(v, *ylim)


def plot_loss_curves(results, title=None, ylim=(1e-4, 10.0), smooth=10):
    """Normalised training loss per batch, one panel per (setting, clip value), one line per run.

    The loss of each batch is divided by the run's baseline (the trivial predictor's test loss,
    e.g. Var(target) for MSE), so 1 is "learned nothing"; a running mean over ``smooth`` batches;
    the y axis is limited to ``ylim`` and runs that leave it are drawn on its edge (a blown-up run
    is a line along the top), a divergence is an x. Columns: clipping (none, 1, 10, ...); rows:
    the task and T, and for the plain versions the readout and init scale.

    Parameters
    ----------
    results : list of run records (``numrnn.experiments.reproduce.run_one``)
    title : str, optional
    ylim : (low, high) of the normalised loss axis
    smooth : int, batches per running mean (1: raw)

    Returns
    -------
    matplotlib.figure.Figure
    """
    clips = _clip_order(results)
    rows, by_row = _by(results, _panel_row)
    ncols = len(clips)
    fig, axes = plt.subplots(len(rows), ncols, figsize=(4.6 * ncols, 2.9 * len(rows)),
                             squeeze=False, sharey=True)
    for i, key in enumerate(rows):
        for j, clip in enumerate(clips):
            ax = axes[i, j]
            runs = [r for r in by_row[key] if r["spec"]["clip"] == clip]
            if not runs:
                ax.set_visible(False)
                continue
            names, groups = _rows(runs)
            for k, name in enumerate(names):
                style = _run_style(name, k)
                for n, r in enumerate(groups[name]):
                    loss = _floats(r["loss"]) / r["baseline_mse"]
                    if smooth > 1 and loss.size >= smooth:
                        finite = np.where(np.isfinite(loss), loss, ylim[1])
                        loss = np.convolve(finite, np.ones(smooth) / smooth, mode="valid")
                    x = np.arange(1, loss.size + 1) + (smooth - 1 if smooth > 1 else 0)
                    ax.plot(x, _in_range(loss, ylim), color=style["color"], ls=style["ls"],
                            lw=0.7, alpha=0.75, label=name if n == 0 else None)
                    if r["diverged_step"] is not None:
                        ax.plot(r["diverged_step"], ylim[1], "x", color=style["color"], ms=8, mew=2)
            ax.axhline(1.0, color="k", ls=":", lw=0.8)
            ax.set_yscale("log")
            ax.set_ylim(*ylim)
            ax.grid(alpha=0.3)
            task, T, what = key
            ax.set_title(f"{task} T={T}, {_clip_name(clip)}\n{what}", fontsize=8.5)
            ax.legend(fontsize=6.5, loc="lower left", ncol=2)
            if j == 0:
                ax.set_ylabel("train loss / baseline")
            if i == len(rows) - 1:
                ax.set_xlabel("batch")
    fig.suptitle((title or "Training loss per batch") +
                 f"\n(dotted: the baseline; running mean over {smooth} batches; axis limited to "
                 f"{ylim[0]:g}-{ylim[1]:g}, runs beyond it drawn on the edge; x: diverged)",
                 fontsize=10)
    fig.tight_layout()
    return fig


def plot_final(results, success, title=None, panel_by="clip", ylim=(1e-4, 100.0)):
    """Final normalised test loss of every run (dots), the median of each row (bar).

    One panel per clip value (``panel_by="clip"``) or per task and T (``panel_by="task"``); the
    success threshold ``success`` drawn when given (None: the task has its own criterion). Values
    beyond ``ylim`` (and nan/inf) are drawn as triangles on the edge.
    """
    if panel_by == "clip":
        panels, groups = _by(results, lambda r: r["spec"]["clip"])
        panels = [c for c in _clip_order(results)]
        name = _clip_name
    elif panel_by == "task":
        panels, groups = _by(results, lambda r: (r["spec"].get("task", "first-element"),
                                                 r["spec"]["T"]))
        name = lambda key: f"{key[0]}, T={key[1]}"
    else:
        raise ValueError(f"panel_by must be 'clip' or 'task', got {panel_by!r}")
    everywhere, _ = _by(results, _cell_label)            # one x position per cell in every panel
    cells = [(everywhere, _by(groups[p], _cell_label)[1]) for p in panels]
    width = len(everywhere)
    ncols = min(len(panels), 1 if width > 12 else 2 if width > 6 else 5)
    nrows = -(-len(panels) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(max(4.5, 0.42 * width + 1.5) * ncols, 4.2 * nrows),
                             squeeze=False, sharey=True)
    for ax, p, (order, by_cell) in zip(axes.flat, panels, cells):
        for i, label in enumerate(order):
            runs = by_cell.get(label)
            if not runs:
                continue
            style = _run_style(runs[0]["spec"]["row"], i)
            values = _floats([r["normalised_mse"] for r in runs])
            inside = np.isfinite(values) & (values >= ylim[0]) & (values <= ylim[1])
            ax.scatter(np.full(inside.sum(), i), values[inside], s=16, color=style["color"], zorder=3)
            ax.scatter(np.full((~inside).sum(), i), _in_range(values[~inside], ylim), s=30,
                       marker="^", color=style["color"], zorder=3)
            finite = values[np.isfinite(values)]
            if finite.size:
                ax.hlines(np.clip(np.median(finite), *ylim), i - 0.35, i + 0.35, color="k", lw=1.8,
                          zorder=4)
            n_div = sum(r["diverged_step"] is not None for r in runs)
            if n_div:
                ax.annotate(f"{n_div} div.", (i, ylim[1]), ha="center", va="top", fontsize=6,
                            color="black")
        if success is not None:
            ax.axhline(success, label=f"success: < {success}", **SUCCESS_STYLE)
        ax.axhline(1.0, color="k", ls=":", lw=1, label="trivial predictor")
        ax.set_yscale("log")
        ax.set_ylim(*ylim)
        ax.set_xticks(range(len(order)))
        ax.set_xticklabels(order, rotation=60, ha="right", fontsize=6.5)
        ax.set_title(name(p), fontsize=9)
        ax.grid(alpha=0.3, axis="y")
    for ax in axes[:, 0]:
        ax.set_ylabel("final test loss / baseline")
    for ax in list(axes.flat)[len(panels):]:
        ax.set_visible(False)
    axes.flat[0].legend(fontsize=7, loc="lower left")
    fig.suptitle((title or "Final normalised test loss per run") +
                 " (dots: seeds, bar: median, triangles: beyond the axis)", fontsize=10)
    fig.tight_layout()
    return fig


def _cell_label(r):
    """The row's name, with readout and init scale when they are not the project's (zeros, 0.25)."""
    s = r["spec"]
    label = s["row"]
    if s["row"] in VERSION_COLOURS and (s["readout_init"], s["scale"]) != ("zeros", 0.25):
        label += f" r={s['readout_init'][:4]} s={s['scale']:g}"
    if s["row"] == "special" and s.get("task", "first-element") == "first-element":
        label += f" T={s['T']}"
    return label


def plot_length_sweep(results, success, title=None, ylim=(1e-4, 100.0)):
    """Final normalised test MSE against T (log-log), one panel per clip value, one line per row
    (median), seeds as dots; ``success`` drawn; values beyond ``ylim`` drawn on its edge."""
    clips = _clip_order(results)
    fig, axes = plt.subplots(1, len(clips), figsize=(5.2 * len(clips), 4), squeeze=False,
                             sharey=True)
    for ax, clip in zip(axes[0], clips):
        order, groups = _rows([r for r in results if r["spec"]["clip"] == clip])
        for j, name in enumerate(order):
            style = _run_style(name, j)
            by_T = {}
            for r in groups[name]:
                by_T.setdefault(r["spec"]["T"], []).append(float(r["normalised_mse"]))
            Ts = sorted(by_T)
            medians = [np.median(np.where(np.isfinite(by_T[T]), by_T[T], np.inf)) for T in Ts]
            ax.plot(Ts, _in_range(np.array(medians), ylim), color=style["color"],
                    ls=style["ls"] if len(Ts) > 1 else "none", marker=style.get("marker") or "o",
                    label=name)
            for T in Ts:
                vals = _in_range(np.array(by_T[T]), ylim)
                ax.scatter(np.full(vals.size, T) * (1 + 0.04 * (j - 1)), vals, s=10, alpha=0.5,
                           color=style["color"])
        ax.axhline(success, label=f"success: < {success}", **SUCCESS_STYLE)
        ax.axhline(1.0, color="k", ls=":", lw=1, label="predict the mean")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_ylim(*ylim)
        ax.set_xlabel("sequence length T")
        ax.set_title(_clip_name(clip), fontsize=10)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    axes[0, 0].set_ylabel("final test MSE / Var(target)")
    fig.suptitle(title or "Where each version stops learning", fontsize=10)
    fig.tight_layout()
    return fig


__all__ = ["plot_loss_curves", "plot_final", "plot_length_sweep"]
