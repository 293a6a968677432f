"""The gradient-flow explorer of notebook 03, headless: its update function recomputes and redraws
exactly the path decomposition, clipping rescales every lag alike, and the widgets drive it."""
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


def test_widgets_drive_the_update(capsys):
    pytest.importorskip("ipywidgets", reason="the notebooks extra installs ipywidgets")
    explorer = GradientFlowExplorer(**SMALL)
    explorer.widgets()
    c = explorer.controls
    assert (explorer.result["K"], explorer.result["S"]) == (1, 2)   # starts at version C
    c["version"].value = "special"
    assert (explorer.result["K"], explorer.result["S"]) == (4, 4)
    c["S"].value = 3                                                 # by hand: no longer a paper version
    assert c["version"].value == "custom" and explorer.result["S"] == 3
    c["activation"].value = "tanh"
    c["clip"].value = 1.0
    assert "custom: K=4, S=3" in explorer.ax.get_title() and "tanh, clip at 1" in explorer.ax.get_title()
