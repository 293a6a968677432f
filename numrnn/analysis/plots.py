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
- :func:`plot_accuracy_cost`: test loss per epoch and final loss against time, one style per row,
  the points labelled by :func:`label_points` where no label covers another.

The figures of ``numrnn reproduce``'s result rows are in :mod:`numrnn.experiments.reproduce_plots`.

Every figure is made through :mod:`matplotlib.pyplot` (``plt.figure``/``plt.subplots``), so that
in Jupyter the inline backend is loaded and its PNG formatter registered: the figure shows as a
picture, never as the text ``<Figure size ...>``. A notebook shows it with ``plt.show()``; a
script saves it with :func:`save_figure` (folder created, atomic write) and closes it with
``plt.close(fig)``.

One palette everywhere, Okabe-Ito's (:data:`OKABE_ITO`, safe for colour-blind readers; seeds and
other non-version curves in greys): :data:`VERSION_COLOURS` (colour) and :data:`VERSION_STYLES` (line style and
marker, so that curves lying on top of each other stay distinguishable), looked up by
:func:`line_style`, which also understands labels such as ``"LSTM C"`` (colour and marker of the
version, line style of the family). Matrices W1..W4 use :data:`MATRIX_COLOURS`, a palette
disjoint from the versions'.
"""
import warnings

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.transforms import Bbox

from .._io import save_figure  # noqa: F401  (plots.save_figure: the atomic PNG write)

#: The Okabe-Ito palette (Okabe & Ito 2008, "Color Universal Design"): eight colours that stay
#: apart for the common colour-vision deficiencies. Every colour of every figure comes from here or
#: is a grey (tests/test_palette.py checks both, and that no matplotlib default colour is left).
OKABE_ITO = {"black": "#000000", "orange": "#E69F00", "sky blue": "#56B4E9", "bluish green": "#009E73",
             "yellow": "#F0E442", "blue": "#0072B2", "vermillion": "#D55E00", "reddish purple": "#CC79A7"}
#: One colour per paper version, the same in every figure, notebook and the README.
VERSION_COLOURS = {"A": OKABE_ITO["blue"], "B": OKABE_ITO["orange"], "C": OKABE_ITO["bluish green"],
                   "D": OKABE_ITO["vermillion"], "special": OKABE_ITO["reddish purple"]}
#: Line style and marker per version: A under B and C under D stay visible (B and D are dashed).
#: B and D differ in dash pattern too, and C and special in line style: those two colour pairs are
#: the closest under deuteranopia (CIE76 distance about 18, every other pair 20 or more).
VERSION_STYLES = {"A": dict(ls="-", marker="o"), "B": dict(ls="-.", marker="s"),
                  "C": dict(ls="-", marker="^"), "D": dict(ls="--", marker="v"),
                  "special": dict(ls=":", marker="D")}
#: Line style per cell family, for labels like "RNN C" / "LSTM C" (colour and marker: the version's).
FAMILY_STYLES = {"RNN": "-", "LSTM": "--", "GRU": "-."}
#: Colours of the recurrent matrices W1..W4 (none of them a version colour).
MATRIX_COLOURS = ("0.15", OKABE_ITO["sky blue"], "0.6", OKABE_ITO["yellow"])
#: The parts of the path decomposition: the total dashed on top, so the skip path under it shows.
PATH_STYLES = {"ReLU path": dict(color="0.55", ls="-", marker="o"),
               "skip path": dict(color=OKABE_ITO["sky blue"], ls="-", lw=4.0, marker=None),
               "total": dict(color="black", ls="--", lw=1.4, marker=None)}
#: Colours of rows that are not a version (the reproduction's baselines next to A-D and special).
BASELINE_COLOURS = {"IRNN": OKABE_ITO["sky blue"], "tanh RNN": "0.25"}
#: The success threshold line (not a version colour: green would read as C).
SUCCESS_STYLE = dict(color="0.3", ls="--", lw=1.0)
#: Curves that are not versions, in turn (e.g. one run without and one with a remedy).
OTHER_COLOURS = ("black", OKABE_ITO["sky blue"], "0.55")


def seed_colour(i, n):
    """The i-th of n seeds: shades of grey from near-black to light grey (seeds are not versions)."""
    return str(round(0.1 + 0.5 * i / max(1, n - 1), 3))


def line_style(label, index=0):
    """Colour, line style and marker of a curve named ``label``.

    A version name ("A" ... "special") gets :data:`VERSION_COLOURS` and :data:`VERSION_STYLES`;
    "<family> <version>" (e.g. "LSTM C") the version's colour and marker with the family's line
    style; a label starting with a path name of :data:`PATH_STYLES` that style; anything else the
    ``index``-th of :data:`OTHER_COLOURS` (solid, then dashed, then dotted), no marker.

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
    return dict(color=OTHER_COLOURS[index % len(OTHER_COLOURS)],
                ls=("-", "--", ":")[index // len(OTHER_COLOURS) % 3], marker=None)


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
                    xlabel="lag T-1-t (steps before the loss)", shared_legend=False, ylims=None):
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
    ylims : dict panel title -> (low, high), optional
        Those panels get their own y range (e.g. a copy of a panel zoomed to 1e-3..1e3, where a
        curve near 1 shows its dip that a range of 60 decades flattens); the others share one.

    Returns
    -------
    matplotlib.figure.Figure
    """
    if not panels:
        raise ValueError("panels is empty: nothing to plot")
    ylims = dict(ylims or {})
    unknown = set(ylims) - set(panels)
    if unknown:
        raise ValueError(f"ylims names panels that do not exist: {sorted(unknown)}")
    fig, axes = _panels(len(panels), sharey=not ylims)
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
    if ylims:
        shared = [ax for ax, name in zip(axes, panels) if name not in ylims]
        if shared:                                  # the panels without their own range share one
            lows, highs = zip(*(ax.get_ylim() for ax in shared))
            for ax in shared:
                ax.set_ylim(min(lows), max(highs))
        for ax, name in zip(axes, panels):
            if name in ylims:
                ax.set_ylim(*ylims[name])
                ax.set_ylabel(ylabel)
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
        colour = OKABE_ITO["vermillion"] if backward else "black"
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
                        va="center", fontsize=9, color=skip_colour if skip else colour)
        ax.set_xlim(-0.8, 10.3)
        ax.set_ylim(-0.7, 5.2)
        ax.axis("off")
        ax.set_title("backward: the same edges reversed, with what each sends back" if backward
                     else "forward: one skip step t (the skip edge thick)", fontsize=11)
    fig.suptitle(f"One step t of a skip RNN that adds h(t-S) (S={S}): the skip edge is an identity, "
                 "so its gradient crosses no relu' and no matrix")
    return fig


def _overlaps(box, boxes, pad=1.0):
    return any(box.x0 < b.x1 + pad and b.x0 < box.x1 + pad and box.y0 < b.y1 + pad and b.y0 < box.y1 + pad
               for b in boxes)


#: Where :func:`label_points` tries a label, in points from its point (dx, dy, ha), nearest first.
_LABEL_OFFSETS = [(dx, dy * r, ha) for r in (1, 2, 3, 4)
                  for dx, dy, ha in ((7, 0, "left"), (-7, 0, "right"), (7, 9, "left"), (7, -9, "left"),
                                     (-7, 9, "right"), (-7, -9, "right"), (0, 11, "center"),
                                     (0, -11, "center"))
                  if r == 1 or dy]


def label_points(ax, xs, ys, labels, fontsize=8):
    """Write ``labels[i]`` beside the point (xs[i], ys[i]) where it covers no other label, no point
    and stays inside the axes (the nearest free place of :data:`_LABEL_OFFSETS`; a thin line joins
    a label set further away). Call it once the axes' limits and the figure's layout are final.

    Returns
    -------
    list of the :class:`matplotlib.text.Annotation` drawn
    """
    fig = ax.figure
    fig.canvas.draw()                                  # the final layout: display coordinates hold
    renderer = fig.canvas.get_renderer()
    inside = ax.get_window_extent(renderer)
    points = ax.transData.transform(np.column_stack([xs, ys]))

    def note(i, dx, dy, ha):
        far = abs(dy) > 11
        return ax.annotate(labels[i], (xs[i], ys[i]), xytext=(dx, dy), textcoords="offset points",
                           ha=ha, va="center", fontsize=fontsize, annotation_clip=False,
                           arrowprops=dict(arrowstyle="-", color="0.5", lw=0.6, shrinkA=0, shrinkB=3)
                           if far else None)

    taken, drawn = [], []
    for i in range(len(labels)):
        others = [Bbox.from_extents(px - 3, py - 3, px + 3, py + 3)
                  for j, (px, py) in enumerate(points) if j != i]
        for place in _LABEL_OFFSETS:
            text = note(i, *place)
            box = text.get_window_extent(renderer)
            if (inside.contains(box.x0, box.y0) and inside.contains(box.x1, box.y1)
                    and not _overlaps(box, taken) and not _overlaps(box, others, pad=0.0)):
                break
            text.remove()
        else:                                          # nowhere free: the nearest place
            text = note(i, *_LABEL_OFFSETS[0])
            box = text.get_window_extent(renderer)
        text.set_in_layout(False)                      # the layout was fixed before the labels
        taken.append(box)
        drawn.append(text)
    return drawn


def plot_accuracy_cost(curves, summary, title, n_seeds):
    """Test loss per epoch (left) and final loss against time per epoch (right), one style per row.

    Parameters
    ----------
    curves : dict row label -> list over seeds of (steps (E,), test loss / baseline (E,))
    summary : dict row label -> (seconds per epoch, final test loss / baseline), medians over seeds
    title : str
    n_seeds : int, how many seeds the medians are over (said in the y label)

    Returns
    -------
    matplotlib.figure.Figure
    """
    if not curves:
        raise ValueError("curves is empty: nothing to plot")
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.8), layout="constrained")
    for row, runs in curves.items():
        style = line_style(row)                         # colour, marker: the version; RNN solid, LSTM dashed
        for n, (steps, values) in enumerate(runs):
            axes[0].semilogy(steps, values, lw=1.2, ms=4, markevery=max(1, len(steps) // 6),
                             label=row if n == 0 else None, **style)
        axes[1].scatter(*summary[row], color=style["color"], marker=style["marker"], s=50, zorder=3)
    axes[0].axhline(1.0, color="k", ls=":", lw=0.8, label="predict the mean")
    axes[0].set(xlabel="training step", ylabel="test MSE / baseline (one line per seed)")
    axes[0].legend(fontsize=8, ncol=2)
    axes[1].set_yscale("log")
    axes[1].margins(0.15)
    axes[1].set(xlabel="seconds per epoch (this machine, now)",
                ylabel=f"final test MSE / baseline\nmedian of {n_seeds} seed(s)"
                       + (" (= their mean)" if n_seeds == 2 else ""))
    axes[1].grid(alpha=0.3)
    fig.suptitle(title)
    rows = list(curves)
    label_points(axes[1], [summary[r][0] for r in rows], [summary[r][1] for r in rows], rows)
    return fig
