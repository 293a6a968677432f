"""The gradient-flow explorer of notebook 03, headless: its update function recomputes and redraws
exactly the path decomposition, clipping rescales every lag alike, and the widgets drive it."""
import io
import sys

import matplotlib.pyplot as plt
import numpy as np
import pytest

from numrnn.analysis import gradients, plots
from numrnn.analysis.explorer import GradientFlowExplorer, gradient_flow
from numrnn.nn.rnn import RNN

SMALL = dict(steps=12, hidden_size=5, seeds=range(2))


def direct(K, S, scale, activation, seed, T=12, H=5, D=6, B=8):
    """The decomposition computed here, independently of the explorer (same draws)."""
    layer = RNN(D, H, n_matrices=K, skip=S, activation=activation, scale=scale, seed=seed)
    rng = np.random.default_rng(1000 + seed)
    x = rng.uniform(-1, 1, size=(B, T, D))
    dhs = gradients.last_step_dhs(rng.standard_normal((B, H)), T)
    total = gradients.hidden_grads_by_lag(layer, x, dhs)["h"]          # from the layer's own backward
    _, grads = layer.backward(dhs, layer.forward(x)[1])
    return layer, x, dhs, total, np.sqrt(sum(np.sum(g ** 2) for g in grads.values()))


def test_update_draws_the_exact_split_for_a_version():
    explorer = GradientFlowExplorer(**SMALL)
    result = explorer.update(version="D", scale=0.7, activation="tanh")
    assert (result["K"], result["S"]) == (2, 2)
    norm = lambda g: np.sqrt(np.sum(g ** 2, axis=(1, 2)))
    for i, seed in enumerate(SMALL["seeds"]):
        layer, x, dhs, total, _ = direct(2, 2, 0.7, "tanh", seed)
        np.testing.assert_allclose(result["total"][i], norm(total) / norm(total)[0], rtol=1e-10)
        split = gradients.path_decomposition_by_lag(layer, x, dhs)
        np.testing.assert_allclose(result["skip"][i], norm(split["skip"]) / norm(total)[0], rtol=1e-10)
    assert result["skip"][:, :2].max() == 0 and result["skip"][:, 2:].min() > 0   # first skip edge at lag 2
    medians = {line.get_label(): line for line in explorer.ax.get_lines() if not line.get_label().startswith("_")}
    assert set(medians) == {"ReLU path (no skip edge)", "skip path (>= 1 skip edge)", "total"}
    np.testing.assert_allclose(medians["total"].get_ydata(), plots.log_median(result["total"]))
    title = explorer.ax.get_title()
    assert "D: K=2, S=2, scale 0.7, tanh, no clipping" in title and explorer.ax.get_yscale() == "log"


def test_clipping_lowers_every_lag_by_the_same_factor():
    explorer = GradientFlowExplorer(**SMALL)
    free = explorer.update(n_matrices=1, skip=2, scale=1.5)
    clipped = explorer.update(n_matrices=1, skip=2, scale=1.5, clip=0.01)
    for i, seed in enumerate(SMALL["seeds"]):
        norm = direct(1, 2, 1.5, "relu", seed)[-1]
        assert clipped["grad_norm"][i] == pytest.approx(norm, rel=1e-12) and norm > 0.01
        np.testing.assert_allclose(clipped["total"][i], free["total"][i] * 0.01 / norm, rtol=1e-12)
    assert "clip at 0.01" in explorer.ax.get_title()
    unclipped = explorer.update(n_matrices=1, skip=2, scale=1.5, clip=1e12)     # above the norm: no change
    np.testing.assert_array_equal(unclipped["total"], free["total"])


def test_static_view_and_bad_settings():
    explorer = GradientFlowExplorer(**SMALL)
    shown = explorer.show(interactive=False, version="A", scale=0.5)
    assert shown is explorer.fig and not plt.fignum_exists(explorer.fig.number)  # displayed, not left to pyplot
    assert explorer.result["skip"].max() == 0                    # A has no skip edge
    with pytest.raises(ValueError, match="version must be one of"):
        explorer.update(version="E")
    with pytest.raises(ValueError, match="activation must be one of"):
        gradient_flow(activation="sigmoid")
    with pytest.raises(ValueError, match="clip must be a positive number"):
        gradient_flow(clip=0)


def test_clipping_says_so_on_the_y_axis_and_draws_the_unclipped_curve_faintly():
    explorer = GradientFlowExplorer(**SMALL)
    explorer.update(version="D", scale=1.5)
    assert explorer.ax.get_ylabel() == "||dL/dh(T-1-lag)|| / ||dL/dh(T-1)||"
    free = explorer.result
    clipped = explorer.update(version="D", scale=1.5, clip=0.01)
    assert "× clip factor" in explorer.ax.get_ylabel()
    lines = {line.get_label(): line for line in explorer.ax.get_lines()}
    faint = lines["total, without clipping"]
    np.testing.assert_allclose(faint.get_ydata(), plots.log_median(free["total"]), rtol=1e-12)
    np.testing.assert_allclose(lines["total"].get_ydata(), plots.log_median(clipped["total"]))
    assert faint.get_alpha() < 0.5 and lines["total"].get_ydata()[0] < 1e-2      # lag 0 is the factor, not 1
    explorer.update(compare=("A", "C"), scale=1.5, clip=0.01)
    assert "× clip factor" in explorer.ax.get_ylabel()
    assert {"A, without clipping", "C, without clipping"} <= {l.get_label() for l in explorer.ax.get_lines()}


def test_compare_overlays_versions_in_their_colours():
    explorer = GradientFlowExplorer(**SMALL)
    result = explorer.update(compare=("A", "C", "special"), scale=0.5)
    assert set(result) == {"A", "C", "special"} and (result["special"]["K"], result["special"]["S"]) == (4, 4)
    medians = {l.get_label(): l for l in explorer.ax.get_lines() if not l.get_label().startswith("_")}
    assert set(medians) == {"A", "C", "special"}
    for v in medians:
        assert medians[v].get_color() == plots.VERSION_COLOURS[v]
        np.testing.assert_allclose(medians[v].get_ydata(), plots.log_median(result[v]["total"]))
    assert explorer.ax.get_title().startswith("compare A, C, special: scale 0.5")
    with pytest.raises(ValueError, match="compare must name versions"):
        explorer.update(compare=("E",))


def png(fig):
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=50)
    return buffer.getvalue()


def medians(explorer):
    return {l.get_label(): l.get_ydata().copy() for l in explorer.ax.get_lines() if not l.get_label().startswith("_")}


def test_widgets_drive_the_figure():
    import ipywidgets                                              # the test extra installs it
    explorer = GradientFlowExplorer(**SMALL)
    box = explorer.widgets()
    assert isinstance(box, ipywidgets.HBox)
    c = explorer.controls
    sliders = [c[k] for k in ("K", "S", "scale", "T", "H", "seeds")]
    assert [s.continuous_update for s in sliders] == [False] * 6     # redraw on release: no queue
    assert (explorer.result["K"], explorer.result["S"]) == (1, 2)   # starts at version C
    before, shown = png(explorer.fig), medians(explorer)

    def changed(control, value):
        nonlocal before, shown
        c[control].value = value
        now, lines = png(explorer.fig), medians(explorer)
        assert now != before, f"{control} = {value!r} left the picture as it was"
        assert any(k not in shown or len(lines[k]) != len(shown[k]) or not np.allclose(lines[k], shown[k])
                   for k in lines), f"{control} = {value!r} left every curve as it was"
        before, shown = now, lines
        return explorer.ax.get_title()

    assert "special: K=4, S=4" in changed("version", "special")
    assert "custom: K=4, S=3" in changed("S", 3) and c["version"].value == "custom"
    assert "scale 1.3" in changed("scale", 1.3)
    assert "tanh" in changed("activation", "tanh")
    assert "T=30," in changed("T", 30) and len(explorer.result["lags"]) == 30
    assert "H=8," in changed("H", 8) and explorer.hidden_size == 8
    assert "seeds 2..4" in changed("seeds", (2, 4)) and explorer.result["total"].shape == (3, 30)
    assert "clip at 0.1" in changed("clip", 0.1) and "× clip factor" in explorer.ax.get_ylabel()
    assert changed("compare", ("A", "B", "C", "D")).startswith("compare A, B, C, D: scale 1.3, tanh, clip at 0.1")
    assert set(explorer.result) == {"A", "B", "C", "D"}
    assert {"A", "B", "C", "D"} <= set(medians(explorer))
    assert "T=30, H=8, seeds 2..4" in explorer.ax.get_title()
    assert explorer.seconds is not None and explorer.seconds > 0


def test_without_ipywidgets_show_says_so_and_draws_one_static_view(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "ipywidgets", None)             # import ipywidgets -> ImportError
    explorer = GradientFlowExplorer(**SMALL)
    shown = explorer.show(version="B", scale=0.7)
    assert "ipywidgets is not installed (pip install ipywidgets): one static view instead" in capsys.readouterr().out
    assert shown is explorer.fig and explorer.controls is None
    assert (explorer.result["K"], explorer.result["S"]) == (2, 0)
    assert explorer.ax.get_title().startswith("B: K=2, S=0, scale 0.7")
