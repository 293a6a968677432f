"""One colour-blind-safe palette (Okabe-Ito) everywhere, and no matplotlib default colour left.

Colour-vision deficiency is simulated with Machado, Oliveira & Fernandes (2009) at severity 1,
applied in linear sRGB (as colorspacious does); colours are compared by CIE76 ΔE in CIELAB (D65).
The simulation is checked against numbers measured independently in the course review of
2026-12-06 (tab10's C-D at ΔE 7.3 under deuteranopia), so the palette test compares like with like,
and tab10 itself fails the test that Okabe-Ito passes.
"""
import ast
import dataclasses
import itertools
import json
import re
from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.collections import QuadMesh
from matplotlib.colors import to_rgb, to_rgba_array

from numrnn.analysis import plots
from numrnn.analysis.explorer import GradientFlowExplorer
from numrnn.experiments import reproduce_plots
from numrnn.experiments.reproduce import RunSpec

ROOT = Path(__file__).resolve().parent.parent

#: Machado et al. (2009), Table 1 at severity 1.0, on linear RGB.
MACHADO = {"protanopia": np.array([[0.152286, 1.052583, -0.204868],
                                   [0.114503, 0.786281, 0.099216],
                                   [-0.003882, -0.048116, 1.051998]]),
           "deuteranopia": np.array([[0.367322, 0.860646, -0.227968],
                                     [0.280085, 0.672501, 0.047413],
                                     [-0.011820, 0.042940, 0.968881]])}
VISIONS = ("normal", *MACHADO)
#: Smallest CIE76 distance between two colours that must be told apart by colour alone; a pair
#: between SHARED and DISTINCT must also differ in line style.
DISTINCT, SHARED = 20.0, 15.0

TAB10 = {name: to_rgb(f"tab:{name}") for name in
         ("blue", "orange", "green", "red", "purple", "brown", "pink", "gray", "olive", "cyan")}
TAB10_HEX = {matplotlib.colors.to_hex(c).lower() for c in TAB10.values()}


def linear(rgb):
    rgb = np.asarray(rgb, dtype=float)
    return np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)


def lab(colour, vision="normal"):
    """CIELAB (D65) of a matplotlib colour as seen with ``vision``."""
    rgb = linear(to_rgb(colour))
    if vision != "normal":
        rgb = np.clip(MACHADO[vision] @ rgb, 0, 1)
    xyz = np.array([[0.4124564, 0.3575761, 0.1804375],
                    [0.2126729, 0.7151522, 0.0721750],
                    [0.0193339, 0.1191920, 0.9503041]]) @ rgb / np.array([0.95047, 1.0, 1.08883])
    f = np.where(xyz > (6 / 29) ** 3, np.cbrt(xyz), xyz / (3 * (6 / 29) ** 2) + 4 / 29)
    return np.array([116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])])


def delta_e(a, b, vision="normal"):
    return float(np.linalg.norm(lab(a, vision) - lab(b, vision)))


def confusable(colours, line_styles):
    """Pairs of names a reader could mix up: (a, b, vision, ΔE) below DISTINCT, unless above SHARED
    with different line styles."""
    bad = []
    for (a, ca), (b, cb) in itertools.combinations(colours.items(), 2):
        for vision in VISIONS:
            d = delta_e(ca, cb, vision)
            if d < DISTINCT and not (d >= SHARED and line_styles[a] != line_styles[b]):
                bad.append((a, b, vision, round(d, 1)))
    return bad


def test_the_simulation_reproduces_the_reviews_measurements():
    assert delta_e("tab:green", "tab:red", "deuteranopia") == pytest.approx(7.3, abs=0.05)
    assert delta_e("tab:blue", "tab:purple", "deuteranopia") == pytest.approx(8.0, abs=0.05)
    assert delta_e("tab:blue", "tab:purple", "protanopia") == pytest.approx(5.7, abs=0.05)
    assert delta_e("tab:orange", "tab:green", "protanopia") == pytest.approx(4.6, abs=0.05)
    assert delta_e("#009E73", "#D55E00", "deuteranopia") == pytest.approx(53.3, abs=0.05)  # review: 53
    assert delta_e("white", "white", "protanopia") == 0 and delta_e("black", "white") == pytest.approx(100)


def version_line_styles():
    return {v: s["ls"] for v, s in plots.VERSION_STYLES.items()}


def test_every_pair_of_versions_stays_apart_for_colour_blind_readers():
    colours = dict(plots.VERSION_COLOURS, **plots.BASELINE_COLOURS)     # they share reproduce's figures
    styles = dict(version_line_styles(), **{b: "-" for b in plots.BASELINE_COLOURS})
    assert confusable(colours, styles) == []
    assert set(plots.VERSION_COLOURS.values()) <= set(plots.OKABE_ITO.values())


def test_tab10_would_fail_the_same_test():
    tab10 = {"A": "tab:blue", "B": "tab:orange", "C": "tab:green", "D": "tab:red", "special": "tab:purple"}
    bad = {(a, b, vision) for a, b, vision, _ in confusable(tab10, version_line_styles())}
    assert {("C", "D", "deuteranopia"), ("A", "special", "protanopia"), ("B", "C", "protanopia")} <= bad


@pytest.mark.parametrize("name, colours", [
    ("matrices", dict(enumerate(plots.MATRIX_COLOURS))),
    ("paths", {k: s["color"] for k, s in plots.PATH_STYLES.items()}),
    ("other curves", dict(enumerate(plots.OTHER_COLOURS)))])
def test_the_other_colour_sets_stay_apart_and_off_the_versions(name, colours):
    assert confusable(colours, {k: k for k in colours}) == []   # line styles not counted on
    assert not set(colours.values()) & set(plots.VERSION_COLOURS.values()), name


def test_seeds_are_shades_of_one_neutral_colour():
    shades = [to_rgb(plots.seed_colour(i, 5)) for i in range(5)]
    assert all(r == g == b for r, g, b in shades)                 # grey: no hue to read as a version
    assert len(set(shades)) == 5 and delta_e(shades[0], shades[-1]) > 40


# --------------------------------------------------------------- no tab10 colour left anywhere
TAB10_TEXT = re.compile(r"(?i:tab:(" + "|".join(TAB10) + r"|grey)\b)|[\"']C\d[\"']|f[\"']C\{|(?i:"
                        + "|".join(TAB10_HEX) + ")")
PLOT_CALLS = {"plot", "semilogy", "semilogx", "loglog", "bar", "barh", "scatter", "errorbar",
              "fill_between", "hist", "stem", "axhline", "axvline", "axhspan", "axvspan"}  # not "step": optimizers


def package_sources():
    return sorted((ROOT / "numrnn").rglob("*.py"))


def notebook_code():
    """(name, source) of every code cell of the notebooks, IPython magics commented out."""
    for path in sorted((ROOT / "notebooks").rglob("*.ipynb")):
        for i, cell in enumerate(json.loads(path.read_text())["cells"]):
            if cell["cell_type"] == "code":
                source = "".join(cell["source"])
                yield f"{path.name} cell {i}", re.sub(r"^(\s*)[%!]", r"\1#", source, flags=re.M)


def uncoloured_plot_calls(source):
    """Lines of plotting calls that take their colour from matplotlib's default cycle (tab10)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr in PLOT_CALLS):
            keys = {k.arg for k in node.keywords}
            if not keys & {"color", "c", "colors", None}:              # None: a **style
                found.append(node.lineno)
    return found


def test_the_checks_catch_what_they_look_for():
    assert TAB10_TEXT.search('ax.plot(x, color="tab:green")') and TAB10_TEXT.search("color='C3'")
    assert TAB10_TEXT.search("#1F77B4") and not TAB10_TEXT.search('color="0.3"')
    assert uncoloured_plot_calls("ax.semilogy(x, y, lw=0.7)\nax.plot(x, **s)\nax.bar(x, y, color='k')") == [1]


def test_no_tab10_colour_in_the_package_or_the_notebooks_code():
    sources = [(str(p.relative_to(ROOT)), p.read_text()) for p in package_sources()]
    sources += list(notebook_code())
    named = {name: [m.group(0) for m in TAB10_TEXT.finditer(src)] for name, src in sources}
    assert {k: v for k, v in named.items() if v} == {}
    default = {name: uncoloured_plot_calls(src) for name, src in sources}
    assert {k: v for k, v in default.items() if v} == {}, "a plot call takes matplotlib's default colour"


def drawn_colours(fig):
    """Every RGB colour the figure's artists draw with (colour maps of heat maps left out)."""
    colours = []
    for artist in fig.findobj():
        if isinstance(artist, QuadMesh) or not artist.get_visible():
            continue
        for getter in ("get_color", "get_markerfacecolor", "get_markeredgecolor", "get_facecolor",
                       "get_edgecolor"):
            value = getattr(artist, getter, lambda: None)()
            if value is None or (isinstance(value, str) and value in ("none", "auto")):
                continue
            try:
                rgba = to_rgba_array(value)
            except (ValueError, TypeError):
                continue
            colours += [tuple(c[:3]) for c in rgba if c[3] > 0]
    return colours


def record(row, seed, clip):
    spec = dataclasses.asdict(RunSpec(row=row, version=row.split()[-1] if row[-1] in "ABCD" else "A",
                                      T=100, seed=seed, clip=clip))
    return {"spec": spec, "baseline_mse": 0.33, "normalised_mse": 0.5 / (seed + 1), "diverged_step": None,
            "loss": [0.3, 0.2, 0.1] * 5, "test": [[5, 0.3], [10, 0.1]], "grad_norm": [1.0, 2.0]}


def explorer_figure(**settings):
    explorer = GradientFlowExplorer(steps=8, hidden_size=4, seeds=range(2))
    explorer.update(**settings)
    return explorer.fig


rng = np.random.default_rng(0)
LAGS = np.arange(12)
CURVES = {v: (LAGS, rng.uniform(0.1, 2, (3, 12))) for v in plots.VERSION_COLOURS}
RESULTS = [record(row, s, c) for row in ("A", "C", "D", "special", "IRNN", "tanh RNN", "LSTM C")
           for s in (0, 1) for c in (None, 1.0)]
#: Every figure the package draws, from small made-up inputs.
FIGURES = {
    "lag curves": lambda: plots.plot_lag_curves(
        {"p": CURVES, "paths": {k: CURVES["A"] for k in plots.PATH_STYLES},
         "other": {"x": CURVES["A"], "y": CURVES["B"]}}, "t", "y", ylims={"other": (1e-3, 1e3)}),
    "weights": lambda: plots.plot_weight_contributions(
        {"special": (rng.uniform(0.1, 1, (2, 8)), np.arange(8) % 4 + 1)}, "t"),
    "sweep": lambda: plots.plot_sweep_summary(
        np.array([0.5, 1.0]), {"A": rng.uniform(0.1, 1, (2, 3)), "C": rng.uniform(0.1, 1, (2, 3))},
        "t", "y", marks={"sigma=1": 1.0}),
    "heat map": lambda: plots.plot_lag_heatmap({"A": (np.arange(3), LAGS, rng.uniform(0.1, 1, (3, 12)))}, "t"),
    "truncation": lambda: plots.plot_truncation_study(
        {"s": {v: dict(full=np.linspace(1, 2, 12), truncated=np.linspace(1, 2, 12), cut_fraction=0.5)
               for v in "AC"}}, window=4, title="t"),
    "skip graph": plots.plot_skip_step_graph,
    "accuracy cost": lambda: plots.plot_accuracy_cost(
        {r: [(np.array([5, 10]), np.array([1.0, 0.5]))] for r in ("RNN C", "LSTM A", "LSTM D")},
        {"RNN C": (0.1, 0.01), "LSTM A": (0.2, 0.7), "LSTM D": (0.25, 0.02)}, "t", 1),
    "loss curves": lambda: reproduce_plots.plot_loss_curves(RESULTS),
    "final": lambda: reproduce_plots.plot_final(RESULTS, 0.01),
    "length sweep": lambda: reproduce_plots.plot_length_sweep(RESULTS, 0.01),
    "explorer": lambda: explorer_figure(version="D", clip=0.01),
    "explorer overlay": lambda: explorer_figure(compare=tuple(plots.VERSION_COLOURS), clip=0.01),
}


def test_the_colour_check_sees_a_default_colour():
    fig, ax = plt.subplots()
    ax.plot([0, 1], [0, 1])                                         # matplotlib's first default: tab:blue
    assert to_rgb("tab:blue") in drawn_colours(fig)
    plt.close(fig)


@pytest.mark.parametrize("name", FIGURES)
def test_no_figure_draws_a_tab10_colour(name):
    fig = FIGURES[name]()
    fig.canvas.draw()
    drawn = drawn_colours(fig)
    assert drawn, name
    hues = [t for name, t in TAB10.items() if name != "gray"]      # a grey is a grey, whoever names it
    near = [c for c in drawn for t in hues if np.allclose(c, t, atol=2 / 255)]
    plt.close(fig)
    assert near == [], f"{name} draws tab10 colours {sorted(set(near))}"
