"""Figures of the gradient-flow diagnostics (matplotlib, headless-safe; each returns its Figure).

The functions take plain arrays computed by :mod:`numrnn.analysis.gradients` (see :mod:`numrnn.experiments.figures`
for the command that computes and saves them all), so a notebook can draw its own numbers:

- :func:`plot_lag_curves`: norms against lag, log scale, seeds as thin lines with the median bold;
  one panel per setting (used for gradient norm by lag, path decomposition, spectral sweep).
- :func:`plot_weight_contributions`: each step's contribution to dW_k, coloured by matrix.
- :func:`plot_sweep_summary`: gradient reaching the first step against the initial scale.
- :func:`plot_lag_heatmap`: gradient norm over (training step, lag), one panel per version.
- :func:`plot_truncation_study`: what truncated BPTT cuts, full against truncated, per version.
- :func:`plot_skip_step_graph`: the computational graph of one skip step, forward and backward.

Every figure is made through :mod:`matplotlib.pyplot` (``plt.figure``/``plt.subplots``), so that
in Jupyter the inline backend is loaded and its PNG formatter registered: the figure shows as a
picture, never as the text ``<Figure size ...>``. A notebook shows it with ``plt.show()``; a
script saves it with :func:`save_figure` (folder created, atomic write) and closes it with
``plt.close(fig)``.

One palette everywhere: :data:`VERSION_COLOURS` (colour) and :data:`VERSION_STYLES` (line style and
marker, so that curves lying on top of each other stay distinguishable), looked up by
:func:`line_style`, which also understands labels such as ``"LSTM C"`` (colour and marker of the
version, line style of the family). Matrices W1..W4 use :data:`MATRIX_COLOURS`, a palette
disjoint from the versions'.
"""
import warnings

import matplotlib.pyplot as plt
import numpy as np

from .._io import save_figure  # noqa: F401  (plots.save_figure: the atomic PNG write)

#: One colour per paper version, the same in every figure, notebook and the README.
VERSION_COLOURS = {"A": "tab:blue", "B": "tab:orange", "C": "tab:green", "D": "tab:red",
                   "special": "tab:purple"}
#: Line style and marker per version: A under B and C under D stay visible (B and D are dashed).
VERSION_STYLES = {"A": dict(ls="-", marker="o"), "B": dict(ls="--", marker="s"),
                  "C": dict(ls="-", marker="^"), "D": dict(ls="--", marker="v"),
                  "special": dict(ls=":", marker="D")}
#: Line style per cell family, for labels like "RNN C" / "LSTM C" (colour and marker: the version's).
FAMILY_STYLES = {"RNN": "-", "LSTM": "--", "GRU": "-."}
#: Colours of the recurrent matrices W1..W4 (none of them a version colour).
MATRIX_COLOURS = ("0.25", "tab:cyan", "tab:olive", "tab:pink")
#: The parts of the path decomposition: the total dashed on top, so the skip path under it shows.
PATH_STYLES = {"ReLU path": dict(color="tab:brown", ls="-", marker="o"),
               "skip path": dict(color="tab:cyan", ls="-", lw=4.0, marker=None),
               "total": dict(color="black", ls="--", lw=1.4, marker=None)}


def line_style(label, index=0):
    """Colour, line style and marker of a curve named ``label``.

    A version name ("A" ... "special") gets :data:`VERSION_COLOURS` and :data:`VERSION_STYLES`;
    "<family> <version>" (e.g. "LSTM C") the version's colour and marker with the family's line
    style; a label starting with a path name of :data:`PATH_STYLES` that style; anything else the
    ``index``-th colour of the cycle, solid, no marker.

    Returns
    -------
    dict with "color", "ls", "marker" (matplotlib line keywords)
    """
    label = str(label)
    words = label.split()
    if label in VERSION_COLOURS:
        return dict(color=VERSION_COLOURS[label], **VERSION_STYLES[label])
    if len(words) == 2 and words[0] in FAMILY_STYLES and words[1] in VERSION_COLOURS:
        return dict(color=VERSION_COLOURS[words[1]], ls=FAMILY_STYLES[words[0]],
                    marker=VERSION_STYLES[words[1]]["marker"])
    for name, style in PATH_STYLES.items():
        if label.startswith(name):
            return dict(style)
    return dict(color=f"C{index % 10}", ls="-", marker=None)


def version_legend_note(n_seeds):
    """The sentence that says what thin and bold lines are (for titles)."""
    return ("thin lines: single seeds; bold: their median (on a log scale)" if n_seeds > 1
            else "one seed")


def scale_colour(i, n):
    """The i-th of n colours from dark blue (small scale: vanishing) to yellow (large: exploding)."""
    from matplotlib import colormaps
    return colormaps["viridis"](i / max(1, n - 1))


def _panels(n, width=4.6, height=3.6, sharey=True):
    """n axes side by side; four as a 2 x 2 grid so they stay readable in a README (via pyplot)."""
    rows, cols = (2, 2) if n == 4 else (1, n)
    fig, axes = plt.subplots(rows, cols, figsize=(width * cols, height * rows), layout="constrained",
                             sharey=sharey, squeeze=False)
    return fig, axes.ravel()


def log_median(values, axis=0):
    """Median over ``axis`` taken on log10 (a geometric median of the middle pair for even counts);
    zeros, negatives and NaN are left out, and a column with no positive value gives NaN."""
    values = np.asarray(values, dtype=float)
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        return 10 ** np.nanmedian(np.log10(np.where(values > 0, values, np.nan)), axis=axis)


def _seeds_and_median(ax, x, ys, label, color, ls="-", marker=None, lw=2.2, markevery=None, **style):
    """Each row of ys (n_seeds, L) as a thin line, their (log) median bold, with about eight markers."""
    ys = np.atleast_2d(np.asarray(ys, dtype=float))
    if ys.shape[-1] != len(x):
        raise ValueError(f"curves have {ys.shape[-1]} points but there are {len(x)} lags")
    if len(ys) > 1:
        for y in ys:
            ax.plot(x, y, color=color, lw=0.6, alpha=0.35)
    ax.plot(x, log_median(ys), color=color, ls=ls, lw=lw, label=label, marker=marker,
            markevery=markevery or max(1, len(x) // 8), ms=5, **style)


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

    Each curve's seeds are thin lines and their median (on a log scale, :func:`log_median`) the
    bold line with markers; the title says so when there is more than one seed.

    Parameters
    ----------
    panels : dict panel title -> dict curve label -> (lags (L,), values (n_seeds, L))
    title : str
        The figure title: state the setting (sizes, seeds, what is normalised).
    ylabel : str
    colours : dict curve label -> colour, optional
        Default: :func:`line_style` (:data:`VERSION_COLOURS` for version names).
    styles : dict curve label -> dict of matplotlib line keywords for the median, optional
        Default: :func:`line_style` (line style and marker per version).
    shared_legend : bool
        One legend right of the last panel (for many curves with the same labels in each panel).

    Returns
    -------
    matplotlib.figure.Figure
    """
    if not panels:
        raise ValueError("panels is empty: nothing to plot")
    fig, axes = _panels(len(panels))
    n_seeds = 1
    for ax, (name, curves) in zip(axes, panels.items()):
        for i, (label, (lags, values)) in enumerate(curves.items()):
            every = max(1, len(lags) // 8)      # markers staggered: C's show between D's
            style = dict(line_style(label, i), markevery=(i * every // max(1, len(curves)), every))
            if label in (colours or {}):
                style["color"] = colours[label]
            style.update((styles or {}).get(label, {}))
            n_seeds = max(n_seeds, np.atleast_2d(values).shape[0])
            _seeds_and_median(ax, lags, values, label, **style)
        _log_axis(ax, name, xlabel, legend=not shared_legend or ("right" if ax is axes[-1] else False))
    for ax in axes[::2 if len(axes) == 4 else len(axes)]:
        ax.set_ylabel(ylabel)
    fig.suptitle(title if n_seeds == 1 else f"{title}\n{version_legend_note(n_seeds)}")
    return fig


def plot_weight_contributions(panels, title, ylabel=r"$\|\delta a(t)\, h(t-1)^\top\|_F$"):
    """Each step's contribution :math:`\\lVert \\delta a(t) h(t-1)^\\top \\rVert_F` to the matrix it used.

    Matrices are coloured with :data:`MATRIX_COLOURS` (not the version colours).

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
    n_seeds = 1
    for ax, (name, (norms, k)) in zip(axes, panels.items()):
        norms, k = np.atleast_2d(norms), np.asarray(k)
        n_seeds = max(n_seeds, len(norms))
        steps, median = np.arange(len(k)), log_median(norms)
        for j in np.unique(k):
            on, colour = k == j, MATRIX_COLOURS[(j - 1) % len(MATRIX_COLOURS)]
            for row in norms if len(norms) > 1 else ():
                ax.plot(steps[on], row[on], ".", color=colour, ms=2, alpha=0.3)
            ax.plot(steps[on], median[on], ("o-", "s--", "^-.", "v:")[(j - 1) % 4], color=colour, ms=3,
                    lw=0.8, label=f"W{j} (steps t with t mod K = {j - 1})")
        _log_axis(ax, name, "step t")
    for ax in axes[::2 if len(axes) == 4 else len(axes)]:
        ax.set_ylabel(ylabel)
    fig.suptitle(title if n_seeds == 1 else
                 f"{title}\ndots: single seeds; line: their median (on a log scale)")
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
    n_seeds = 1
    for i, (label, values) in enumerate(ratios.items()):
        values = np.asarray(values)
        n_seeds = max(n_seeds, values.shape[1] if values.ndim == 2 else 1)
        _seeds_and_median(ax, scales, values.T, label, **line_style(label, i))
    ax.axhline(1.0, color="k", lw=0.8, ls=":")
    for i, (label, x) in enumerate((marks or {}).items()):
        ax.axvline(x, color="0.4", lw=1, ls=("--", "-.", ":")[i % 3], label=label)
    _log_axis(ax, "", "scale of the recurrent init (entries N(0, scale²/H), spectral radius ≈ scale)")
    ax.set_ylabel(ylabel)
    fig.suptitle(title if n_seeds == 1 else f"{title}\n{version_legend_note(n_seeds)}")
    return fig


def plot_lag_heatmap(records, title, label="log10 gradient norm"):
    """A heat map per version: training step (rows) by lag (columns), colour = log10 of the value.

    Each panel has its own sequential colour scale (viridis, from its 1st to its 99th percentile,
    at least one decade wide) and its own colour bar: A falls by tens of decades while C, D and
    special stay within a few, and one shared scale would paint them a single flat colour.

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
    fig, axes = _panels(len(records), width=3.4, height=4.2, sharey=False)
    cmap = plt.get_cmap("viridis").with_extremes(bad="0.8")   # grey: no finite value (0, inf or nan)
    for ax, (name, (steps, lags, _)) in zip(axes, records.items()):
        finite = logs[name][np.isfinite(logs[name])]
        low, high = np.percentile(finite, [1, 99]) if finite.size else (-1.0, 1.0)
        if high - low < 1.0:                              # at least one decade, centred on the data
            middle = (high + low) / 2
            low, high = middle - 0.5, middle + 0.5
        image = ax.pcolormesh(lags, steps, np.ma.masked_invalid(logs[name]), vmin=low, vmax=high,
                              cmap=cmap, shading="nearest")
        ax.set_title(name)
        ax.set_xlabel("lag T-1-t")
        fig.colorbar(image, ax=ax, location="bottom", label=f"{label}\n(this panel's range)", shrink=0.9)
    axes[0].set_ylabel("training step")
    missing = any(not np.all(np.isfinite(v)) for v in logs.values())
    fig.suptitle(f"{title}\neach panel has its own colour scale: read the colour bar under it"
                 + ("; grey: no finite value (a norm of 0, or one that overflowed)" if missing else ""))
    return fig


def format_percent(fraction):
    """A share as a percentage that never reads "1e+02%": two decimals, "<0.01%" or ">99.99%"."""
    percent = 100 * float(fraction)
    if 0 < percent < 0.01:
        return "<0.01%"
    if 99.99 < percent < 100:
        return ">99.99%"
    return f"{percent:.2f}%"


def plot_truncation_study(studies, window, title):
    """What truncation at ``window`` steps cuts: full against truncated gradient by lag, per version.

    Parameters
    ----------
    studies : dict row label -> dict version -> {"full": (T,), "truncated": (T,), "cut_fraction": float}
        One row of panels per study (e.g. per initial scale), as returned by
        :func:`numrnn.analysis.truncation.grad_norm_truncation_study`; the curves are medians over
        seeds of the batch mean of :math:`\\lVert \\partial L / \\partial x(T-1-\\ell) \\rVert`.
    window : int, k
    title : str

    Returns
    -------
    matplotlib.figure.Figure
    """
    if not studies:
        raise ValueError("studies is empty: nothing to plot")
    n_cols = max(len(study) for study in studies.values())
    fig, axes = plt.subplots(len(studies), n_cols, figsize=(3.6 * n_cols, 3.1 * len(studies)),
                             squeeze=False, layout="constrained")   # own y range: A falls 40 decades, C barely moves
    for row, (row_label, study) in zip(axes, studies.items()):
        for ax, (name, curves) in zip(row, study.items()):
            lags = np.arange(len(curves["full"]))
            kept = lags < window
            style = line_style(name)
            ax.semilogy(lags, curves["full"], color=style["color"], lw=2.2, label="full BPTT")
            ax.semilogy(lags[kept], np.asarray(curves["truncated"])[kept], color="k", ls="--", lw=1.2,
                        label=f"truncated, k={window}")
            ax.axvspan(window - 0.5, lags[-1] + 0.5, color="0.85", zorder=0,
                       label="cut by truncation" if ax is row[0] else None)
            ax.set_title(f"{name}: {format_percent(curves['cut_fraction'])} of the norm cut", fontsize=10)
            ax.set_xlabel("lag T-1-t")
            ax.grid(True, which="major", alpha=0.3)
        row[0].set_ylabel(f"{row_label}\n||dL/dx(T-1-lag)||")
        for ax in row[len(study):]:
            ax.set_visible(False)
    axes[0, 0].legend(fontsize=8)
    fig.suptitle(title)
    return fig


def plot_skip_step_graph(S=2):
    """The computational graph of one skip step, forward (left) and backward (right).

    .. math:: a(t) = W_k h(t-1) + W_x x(t) + b, \\qquad h(t) = \\mathrm{relu}(a(t)) + h(t-S)

    The backward panel draws the same edges reversed with what each sends back: the skip edge
    passes :math:`\\delta h(t)` unchanged (no relu'), the ReLU multiplies by relu'(a), and each
    product sends the gradient to both of its factors.

    Returns
    -------
    matplotlib.figure.Figure
    """
    from matplotlib.patches import FancyArrowPatch
    fig, axes = plt.subplots(1, 2, figsize=(15, 5.2), layout="constrained")
    skip_colour = PATH_STYLES["skip path"]["color"]
    nodes = {"h(t-S)": (0.0, 4.3), "h(t-1)": (0.0, 2.9), "W_k": (0.0, 2.0), "x(t)": (0.0, 1.0),
             "W_x, b": (0.0, 0.0), "a(t)": (4.4, 1.6), "relu": (6.6, 1.6), "+": (8.2, 3.2),
             "h(t)": (9.6, 3.2)}
    text = {"h(t-S)": f"h(t-{S})" if S else "h(t-S)", "h(t-1)": "h(t-1)", "W_k": r"$W_{k(t)}$",
            "x(t)": "x(t)", "W_x, b": r"$W_x,\ b$", "a(t)": r"$a = W_k h(t-1)$" "\n" r"$+ W_x x(t) + b$",
            "relu": "relu", "+": "+", "h(t)": "h(t)"}
    shrink = {"a(t)": 46}                                # points from a node's centre to its edge
    edges = [("h(t-1)", "a(t)"), ("W_k", "a(t)"), ("x(t)", "a(t)"), ("W_x, b", "a(t)"),
             ("a(t)", "relu"), ("relu", "+"), ("h(t-S)", "+"), ("+", "h(t)")]
    back = {("h(t-1)", "a(t)"): r"$\delta h(t-1)$ += $W_k^\top \delta a$",
            ("W_k", "a(t)"): r"$\delta W_k$ += $\delta a\, h(t-1)^\top$",
            ("x(t)", "a(t)"): r"$\delta x(t) = W_x^\top \delta a$",
            ("W_x, b", "a(t)"): r"$\delta W_x$ += $\delta a\, x(t)^\top$,  $\delta b$ += $\delta a$",
            ("a(t)", "relu"): r"$\delta a = \delta h(t) \odot [a > 0]$",
            ("relu", "+"): r"$\delta h(t)$",
            ("h(t-S)", "+"): r"$\delta h(t-S)$ += $\delta h(t)$: unchanged, no relu'",
            ("+", "h(t)"): r"$\delta h(t)$, complete"}
    where = {("h(t-1)", "a(t)"): (0.42, 0.28), ("W_k", "a(t)"): (0.42, 0.22), ("x(t)", "a(t)"): (0.42, -0.25),
             ("W_x, b", "a(t)"): (0.42, -0.38), ("a(t)", "relu"): (0.5, -0.45), ("relu", "+"): (0.3, 0.45),
             ("h(t-S)", "+"): (0.5, 0.55), ("+", "h(t)"): (0.5, 0.4)}
    for ax, backward in zip(axes, (False, True)):
        colour = "tab:red" if backward else "black"
        for name, (px, py) in nodes.items():
            param = name in ("W_k", "W_x, b")
            ax.text(px, py, text[name], ha="center", va="center", fontsize=10 if name != "a(t)" else 9,
                    bbox=dict(boxstyle="round,pad=0.35", fc="0.93" if param else "white",
                              ec="0.5" if param else "black"))
        for src, dst in edges:
            (x0, y0), (x1, y1) = nodes[src], nodes[dst]
            skip = src == "h(t-S)"
            a, b = (dst, src) if backward else (src, dst)
            ax.add_patch(FancyArrowPatch(nodes[a], nodes[b], arrowstyle="-|>", mutation_scale=14,
                                         lw=2.4 if skip else 1.2, color=skip_colour if skip else colour,
                                         shrinkA=shrink.get(a, 20), shrinkB=shrink.get(b, 20),
                                         connectionstyle="arc3,rad=-0.12" if skip else "arc3"))
            if backward:
                f, dy = where[src, dst]
                ax.text(x0 + f * (x1 - x0), y0 + f * (y1 - y0) + dy, back[src, dst], ha="center",
                        va="center", fontsize=9, color=skip_colour if skip else "tab:red")
        ax.set_xlim(-0.8, 10.3)
        ax.set_ylim(-0.7, 5.2)
        ax.axis("off")
        ax.set_title("backward: the same edges reversed, with what each sends back" if backward
                     else "forward: one skip step t (the skip edge thick)", fontsize=11)
    fig.suptitle(f"One step t of a skip RNN that adds h(t-S) (S={S}): the skip edge is an identity, "
                 "so its gradient crosses no relu' and no matrix")
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


#: Colours of the reproduction's rows that are not a version: baselines next to A-D and special.
BASELINE_COLOURS = {"IRNN": "tab:brown", "tanh RNN": "tab:gray"}


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
                            color="C3")
        if success is not None:
            ax.axhline(success, color="tab:green", ls="--", lw=1, label=f"success: < {success}")
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
        ax.axhline(success, color="tab:green", ls="--", lw=1, label=f"success: < {success}")
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
