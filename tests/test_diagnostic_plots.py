"""The diagnostic figures, headless (Agg): each returns its Figure, draws what it was given and
writes a PNG; the recorder feeds the heat map from a real (tiny) training run."""
import os

import numpy as np
import pytest

from numrnn.analysis import plots
from numrnn.analysis import gradients as dg
from numrnn import cli
from numrnn._io import default_file_mode
from numrnn.experiments import figures
from numrnn.training.model import SequenceModel
from numrnn.training.optim import Adam
from numrnn.data.tasks import first_element
from numrnn.training.trainer import Trainer

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def saved_png(fig, tmp_path, name="figure.png"):
    path = plots.save_figure(fig, os.path.join(tmp_path, "sub", name))
    with open(path, "rb") as f:
        assert f.read(8) == PNG_MAGIC
    assert not [f for f in os.listdir(os.path.dirname(path)) if f.startswith(".tmp")]  # no temp file left
    assert os.stat(path).st_mode & 0o777 == default_file_mode()
    return path


def curves(n_seeds=3, lags=10, rate=0.5, seed=0):
    rng = np.random.default_rng(seed)
    return np.arange(lags), rate ** np.arange(lags) * rng.uniform(0.5, 2, (n_seeds, 1))


def test_lag_curves_draw_seeds_thin_and_the_median_bold(tmp_path):
    lags, values = curves()
    values[0, 3] = 0.0                                # a zero must not break the log scale
    fig = plots.plot_lag_curves({"init": {"A": (lags, values)}, "trained": {"C": curves(rate=1.0)}},
                                title="setting", ylabel="norm")
    ax = fig.axes[0]
    assert ax.get_yscale() == "log" and ax.get_title() == "init" and ax.get_ylabel() == "norm"
    assert ax.get_xlabel().startswith("lag") and fig._suptitle.get_text().startswith("setting")
    assert "median" in fig._suptitle.get_text()        # says what the bold line is
    lines = ax.get_lines()
    assert len(lines) == 4 and lines[-1].get_label() == "A" and lines[-1].get_linewidth() > 2
    assert lines[-1].get_color() == plots.VERSION_COLOURS["A"] and lines[-1].get_marker() == "o"
    np.testing.assert_allclose(lines[-1].get_ydata(), plots.log_median(values))
    saved_png(fig, tmp_path)


def test_log_median_is_the_geometric_median_and_skips_zeros():
    np.testing.assert_allclose(plots.log_median([[1.0, 0.0], [100.0, 4.0], [1e4, 0.0]]), [100.0, 4.0])
    np.testing.assert_allclose(plots.log_median([[1.0], [100.0]]), [10.0])
    assert np.isnan(plots.log_median([[0.0], [-1.0]]))[0]


def test_four_panels_make_a_grid_and_every_left_panel_has_the_ylabel(tmp_path):
    panels = {f"p{i}": {"A": curves(seed=i)} for i in range(4)}
    fig = plots.plot_lag_curves(panels, title="t", ylabel="norm")
    assert len(fig.axes) == 4
    assert [ax.get_ylabel() for ax in fig.axes] == ["norm", "", "norm", ""]
    saved_png(fig, tmp_path)


def test_weight_contributions_colour_each_matrix_on_its_own_steps(tmp_path):
    k = np.array([1, 2] * 5)
    norms = np.vstack([np.arange(1.0, 11.0), np.arange(2.0, 12.0)])
    fig = plots.plot_weight_contributions({"B": (norms, k)}, title="B at init")
    medians = [line for line in fig.axes[0].get_lines() if line.get_label().startswith("W")]
    assert [line.get_label()[:2] for line in medians] == ["W1", "W2"]
    np.testing.assert_array_equal(medians[0].get_xdata(), [0, 2, 4, 6, 8])
    saved_png(fig, tmp_path)


def test_sweep_summary_and_heatmap(tmp_path):
    scales = np.array([0.5, 1.0, 2.0])
    fig = plots.plot_sweep_summary(scales, {"A": np.array([[1e-9, 1e-8], [1e-2, 1e-1], [1e5, 1e6]])},
                                   title="sweep", ylabel="ratio")
    assert fig.axes[0].get_yscale() == "log"
    saved_png(fig, tmp_path, "sweep.png")
    records = {"A": (np.array([10, 20]), np.arange(5), 10.0 ** -np.arange(10.0).reshape(2, 5)),
               "C": (np.array([10, 20]), np.arange(5), np.ones((2, 5)))}
    fig = plots.plot_lag_heatmap(records, title="heat")
    assert [ax.get_title() for ax in fig.axes[:2]] == ["A", "C"]
    meshes = [ax.collections[0] for ax in fig.axes[:2]]
    assert meshes[0].get_clim()[0] < -8 and meshes[0].get_clim()[1] > -1   # A's own range: ~ -9 .. 0
    low, high = meshes[1].get_clim()                  # C is flat at log10 1 = 0: a one-decade range around it,
    assert (low, high) == (-0.5, 0.5)                 # not a sliver of a range shared with A
    assert meshes[0].get_cmap().name.startswith("viridis")   # sequential: no white middle that looks blank
    assert "grey" not in fig._suptitle.get_text()
    saved_png(fig, tmp_path, "heat.png")
    records["C"][2][0, 0] = 0.0                       # log10 0 = -inf: drawn grey and explained
    fig = plots.plot_lag_heatmap(records, title="heat")
    assert fig.axes[1].collections[0].get_array().mask[0, 0] and "grey" in fig._suptitle.get_text()


def test_plots_refuse_empty_or_mismatched_input():
    with pytest.raises(ValueError, match="panels is empty"):
        plots.plot_lag_curves({}, title="t", ylabel="y")
    with pytest.raises(ValueError, match="5 points but there are 3 lags"):
        plots.plot_lag_curves({"p": {"A": (np.arange(3), np.ones((2, 5)))}}, title="t", ylabel="y")
    with pytest.raises(ValueError, match="records is empty"):
        plots.plot_lag_heatmap({}, title="t")


def test_save_figure_leaves_the_old_file_when_writing_fails(tmp_path):
    path = os.path.join(tmp_path, "fig.png")
    with open(path, "wb") as f:
        f.write(b"old")

    class Broken:
        def savefig(self, *args, **kwargs):
            raise RuntimeError("disk full")
    with pytest.raises(RuntimeError, match="disk full"):
        plots.save_figure(Broken(), path)
    assert open(path, "rb").read() == b"old" and os.listdir(tmp_path) == ["fig.png"]


def test_recorder_fed_by_the_trainer_callback_matches_a_direct_computation():
    task = first_element(T=12, n_train=40, n_test=10, seed=0)
    model = SequenceModel(6, 5, 1, version="D", seed=0, dtype=np.float32)
    x, y = task.x_test[:4].astype(np.float64), task.y_test[:4]
    recorder = dg.LagNormRecorder(x, y, lags=[0, 5, 11])
    trainer = Trainer(model, Adam(1e-2), batch_size=10, seed=0, progress=False, callback=recorder,
                      callback_every=2)
    trainer.fit(task.x_train, task.y_train, epochs=1)
    steps, lags, norms = recorder.as_arrays()
    assert steps.tolist() == [2, 4] and lags.tolist() == [0, 5, 11] and norms.shape == (2, 3)
    final = dg.as_float64(model)                      # the last record is of the final parameters
    dhs = final.loss_and_grads(x, y, train=False)[2]["dhs"]
    np.testing.assert_allclose(norms[-1], dg.grad_norm_by_lag(final.layer, x, dhs, lags=[0, 5, 11])[1],
                               rtol=1e-12)


def test_as_float64_copies_parameters_without_sharing_them():
    model = SequenceModel(3, 4, 1, version="C", seed=1, dtype=np.float32)
    copy = dg.as_float64(model)
    assert copy.layer.dtype == np.float64 and copy.config == dict(model.config, dtype="float64")
    for name, value in model.params.items():
        np.testing.assert_array_equal(copy.params[name], value)
        assert not np.shares_memory(copy.params[name], value)


def test_figures_command_quick_writes_every_figure_and_the_summary(tmp_path, monkeypatch):
    tiny = dict(figures.PRESETS["quick"], seeds=2, hidden=4, probe=2, train_steps=4, batch=5,
                record_every=2, lag_stride_special=100, scales=[0.5, 2.0])
    monkeypatch.setitem(figures.PRESETS, "quick", tiny)
    monkeypatch.setitem(figures.LENGTHS, "special", 40)  # the real command uses 500
    for v in "ABCD":
        monkeypatch.setitem(figures.LENGTHS, v, 20)
    assert cli.main(["figures", "--quick", "--out", str(tmp_path)]) == 0
    out = tmp_path / "figures" / "diagnostics"
    assert sorted(os.listdir(out)) == sorted(
        ["grad_norm_by_lag.png", "grad_heatmap_training.png", "path_decomposition.png",
         "per_matrix_contributions.png", "jacobian_norms.png", "lstm_grad_norm_by_lag.png",
         "spectral_sweep.png", "spectral_sweep_summary.png", "summary.json"])
    import json
    summary = json.loads((out / "summary.json").read_text())
    assert summary["command"] == "numrnn figures --quick"
    assert os.listdir(tmp_path / "figures" / "tbptt") == ["grad_norm_truncated.png"]
    assert summary["tbptt_cut_fraction_k20"]["C"] > summary["tbptt_cut_fraction_k20"]["A"]
    assert set(summary["grad_norm_ratio_last_lag"]["init"]) == {"A", "B", "C", "D", "special"}
    assert [run["steps"] for run in summary["training"]["A"]] == [4, 4]


def test_figures_are_made_through_pyplot_so_jupyter_renders_them():
    """A Figure built without pyplot shows as the text <Figure ...> in a fresh kernel (issue 14)."""
    import matplotlib.pyplot as plt
    lags, values = curves()
    made = [plots.plot_lag_curves({"p": {"A": (lags, values)}}, title="t", ylabel="y"),
            plots.plot_weight_contributions({"B": (np.ones((2, 4)), np.array([1, 2, 1, 2]))}, title="t"),
            plots.plot_sweep_summary(np.array([0.5, 1.0]), {"A": np.ones((2, 3))}, title="t", ylabel="y"),
            plots.plot_lag_heatmap({"A": (np.arange(2), np.arange(3), np.ones((2, 3)))}, title="t"),
            plots.plot_truncation_study({"s": {"A": dict(full=np.ones(5), truncated=np.ones(5),
                                                         cut_fraction=0.5)}}, window=2, title="t"),
            plots.plot_skip_step_graph()]
    for fig in made:
        assert plt.fignum_exists(fig.number), fig
        plt.close(fig)


@pytest.mark.parametrize("label, colour, ls, marker", [             # Okabe-Ito: bluish green, vermillion, sky blue
    ("C", "#009E73", "-", "^"), ("D", "#D55E00", "--", "v"), ("LSTM C", "#009E73", "--", "^"),
    ("RNN D", "#D55E00", "-", "v"), ("total", "black", "--", None), ("skip path (>= 1 skip edge)", "#56B4E9", "-", None)])
def test_one_palette_with_line_styles_per_version(label, colour, ls, marker):
    style = plots.line_style(label)
    assert (style["color"], style["ls"], style["marker"]) == (colour, ls, marker)


def test_overlapping_versions_differ_in_line_style_and_matrices_avoid_version_colours():
    styles = [(plots.VERSION_STYLES[v]["ls"], plots.VERSION_STYLES[v]["marker"]) for v in plots.VERSION_COLOURS]
    assert len(set(styles)) == len(styles)
    assert plots.VERSION_STYLES["A"]["ls"] != plots.VERSION_STYLES["B"]["ls"]
    assert plots.VERSION_STYLES["C"]["ls"] != plots.VERSION_STYLES["D"]["ls"]
    assert not set(plots.MATRIX_COLOURS) & set(plots.VERSION_COLOURS.values())


@pytest.mark.parametrize("fraction, text", [(0.9975, "99.75%"), (0.0002, "0.02%"), (1.0, "100.00%"),
                                            (0.99999, ">99.99%"), (1e-7, "<0.01%"), (0.0, "0.00%")])
def test_percentages_never_read_1e02(fraction, text):
    assert plots.format_percent(fraction) == text


def test_truncation_study_figure_titles_and_rows(tmp_path):
    study = {v: dict(full=np.linspace(1, 2, 10), truncated=np.linspace(1, 2, 10), cut_fraction=f)
             for v, f in (("A", 0.0002), ("C", 0.9975))}
    fig = plots.plot_truncation_study({"scale 1": study, "scale 0.25": study}, window=4, title="cut")
    titles = [ax.get_title() for ax in fig.axes]
    assert titles == ["A: 0.02% of the norm cut", "C: 99.75% of the norm cut"] * 2
    assert fig.axes[0].get_ylabel().startswith("scale 1") and fig.axes[2].get_ylabel().startswith("scale 0.25")
    full = fig.axes[1].get_lines()[0]
    assert full.get_color() == plots.VERSION_COLOURS["C"]
    assert len(fig.axes[1].get_lines()[1].get_xdata()) == 4          # truncated: only lags < k
    saved_png(fig, tmp_path, "trunc.png")


def test_skip_step_graph_draws_forward_and_backward(tmp_path):
    fig = plots.plot_skip_step_graph(S=2)
    forward, backward = fig.axes
    texts = " ".join(t.get_text() for t in backward.texts)
    assert "h(t-2)" in texts and "unchanged, no relu'" in texts and r"\delta a = \delta h(t) \odot [a > 0]" in texts
    assert len(forward.patches) == len(backward.patches) == 8     # the same eight edges, reversed
    saved_png(fig, tmp_path, "graph.png")
