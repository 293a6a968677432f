"""No text runs into other text in the figures the review found crowded: notebook 05's accuracy and
cost figure (its y label ran into the title, LSTM A's and B's labels collided) and notebook 03's
gradient by lag (special's dip was flattened by a 60-decade axis; now a panel zoomed to 1e-3..1e3).

Overlap is measured as a reader would see it: the figure is drawn with matplotlib's Agg renderer and
each visible text's bounding box (``get_window_extent``) is compared with every other's.
"""
import itertools

import matplotlib.pyplot as plt
import numpy as np
import pytest

from numrnn.analysis import plots


def texts(fig):
    """Every visible, non-empty text of the figure: titles, axis labels, drawn tick labels, legends,
    annotations, the suptitle."""
    found = [t for t in (fig._suptitle, *fig.texts) if t is not None]
    for ax in fig.axes:
        if not ax.get_visible():
            continue
        found += [ax.title, ax._left_title, ax._right_title, ax.xaxis.label, ax.yaxis.label, *ax.texts]
        for axis in (ax.xaxis, ax.yaxis):
            for tick in axis._update_ticks():              # the ticks drawn, not every tick made
                found += [tick.label1, tick.label2]
        if ax.get_legend() is not None:
            found += ax.get_legend().get_texts()
    unique = {id(t): t for t in found}                               # the suptitle is in fig.texts too
    return [t for t in unique.values() if t.get_visible() and t.get_text().strip()]


def overlapping(fig, pad=0.5):
    """Pairs of texts whose boxes overlap by more than ``pad`` pixels each way."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    boxes = [(t.get_text(), t.get_window_extent(renderer)) for t in texts(fig)]
    return [(a, b) for (a, p), (b, q) in itertools.combinations(boxes, 2)
            if min(p.x1, q.x1) - max(p.x0, q.x0) > pad and min(p.y1, q.y1) - max(p.y0, q.y0) > pad]


def test_the_check_finds_text_on_text():
    fig, ax = plt.subplots(figsize=(4, 3))
    ax.set(xlim=(0, 2), ylim=(0, 2))
    ax.annotate("LSTM A", (1.0, 1.0), xytext=(4, 4), textcoords="offset points")
    ax.annotate("LSTM B", (1.01, 1.0), xytext=(4, 4), textcoords="offset points")
    assert ("LSTM A", "LSTM B") in overlapping(fig)
    fig, ax = plt.subplots(figsize=(4, 3))
    ax.set_ylabel("final test MSE / baseline, median of 2 seed(s) (= their mean)")  # taller than the axes
    fig.suptitle("First-element task, T=50, 4000 sequences")
    fig.tight_layout()
    assert overlapping(fig)
    plt.close("all")


#: The points of the committed nb05_accuracy_cost.png (seconds per epoch, final loss / baseline):
#: LSTM A and B close together, RNN C and D too.
CROWDED = {"RNN C": (1.02, 0.006), "RNN D": (1.06, 0.0035), "LSTM A": (2.31, 0.77),
           "LSTM B": (2.36, 0.625), "LSTM C": (2.41, 0.054), "LSTM D": (2.47, 0.022)}


def accuracy_cost(summary, n_seeds=2):
    curves = {row: [(np.arange(1, 21) * 40, np.geomspace(1.0, mse, 20)) for _ in range(n_seeds)]
              for row, (_, mse) in summary.items()}
    return plots.plot_accuracy_cost(curves, summary, "First-element task, T=50, 4000 sequences, 20 epochs, "
                                    "Adam lr 0.003, seeds [0, 1]", n_seeds)


@pytest.mark.parametrize("summary", [CROWDED, {row: (1.0 + 0.001 * i, 0.5) for i, row in enumerate(CROWDED)}],
                         ids=["the committed points", "six points on one spot"])
def test_accuracy_cost_labels_overlap_nothing(summary):
    fig = accuracy_cost(summary)
    assert overlapping(fig) == []
    right = fig.axes[1]
    labels = {t.get_text() for t in right.texts}
    assert labels == set(summary)                                    # every point labelled
    assert right.get_ylabel().startswith("final test MSE / baseline\nmedian of 2 seed(s)")
    plt.close(fig)


def test_grad_by_lag_zoom_panel_shows_specials_dip_and_no_text_overlaps():
    lags = np.arange(100)
    rng = np.random.default_rng(0)
    dip = np.where(lags % 4 == 3, 1.0, 0.04)                         # special at scale 0.5: 4e-2 off its skips
    curves = {"A": (lags, 10.0 ** (-0.5 * lags) * rng.uniform(0.5, 2, (5, 1))),
              "B": (lags, 10.0 ** (-0.5 * lags) * rng.uniform(0.5, 2, (5, 1))),
              "C": (lags, np.ones((5, 100))), "D": (lags, np.ones((5, 100))),
              "special": (lags, dip * rng.uniform(0.8, 1.2, (5, 1)))}
    exploding = {v: (lags, c * 10.0 ** (0.12 * lags)) for v, (_, c) in curves.items()}
    zoom = "init scale 0.5, zoomed to 1e-3..1e3"
    fig = plots.plot_lag_curves({"init scale 1.0": exploding, "init scale 0.5": curves, zoom: curves},
                                "Gradient reaching h(T-1-lag) / gradient at h(T-1); T=100, H=32, 5 seeds",
                                "||dL/dh(t)|| / ||dL/dh(T-1)||", ylims={zoom: (1e-3, 1e3)}, shared_legend=True)
    full, half, zoomed = fig.axes
    assert zoomed.get_ylim() == pytest.approx((1e-3, 1e3)) and zoomed.get_title() == zoom
    assert full.get_ylim() == half.get_ylim() and half.get_ylim()[0] < 1e-40    # one range for the others

    def height(ax):                                                 # special's dip, as a share of the panel
        low, high = np.log10(ax.get_ylim())
        return np.log10(1 / 0.04) / (high - low)
    assert height(zoomed) > 0.2 and height(half) < 0.03
    assert overlapping(fig) == []
    with pytest.raises(ValueError, match="ylims names panels that do not exist"):
        plots.plot_lag_curves({"a": curves}, "t", "y", ylims={"b": (1, 2)})
    plt.close("all")
