"""Regenerate the gradient-flow figures and their numbers.

    numrnn figures [--quick] [--out .]

writes ``OUT/figures/diagnostics/*.png`` and ``OUT/figures/diagnostics/summary.json`` (every number quoted in
the README, with the settings and seeds that made it), and ``OUT/figures/tbptt/grad_norm_truncated.png``
(:func:`numrnn.analysis.truncation.grad_norm_truncation_study` drawn by
:func:`numrnn.analysis.plots.plot_truncation_study`). The setting is the paper's first-element task
(:func:`numrnn.data.tasks.first_element`: inputs U[-1, 1]^6, target x[0, 0], MSE, T = 100 for A-D and
T = 500 for special) with a :class:`numrnn.training.model.SequenceModel` (hidden size H, linear readout of
h(T-1)). The loss gradient is the model's own: :math:`\\delta h(T-1) = W_{out}^\\top
\\partial L/\\partial \\hat y`, so every curve is divided by its value at lag 0 to compare settings.

"After training" means a short Adam run (``PRESETS``, the initialisation and optimiser of
``numrnn.experiments.reproduce``) by :class:`numrnn.training.trainer.Trainer`: long enough to see C and D learn and the
gradient picture change, not the paper's full experiment (that is ``numrnn reproduce``).
"""
import json
import os
import sys
import time

import numpy as np
from threadpoolctl import threadpool_limits

from .._io import atomic_write_text, save_figure
from . import common
from ..analysis import gradients as dg
from ..analysis.truncation import grad_norm_truncation_study
from ..training.model import SequenceModel
from ..training.optim import Adam
from ..data.tasks import first_element
from ..training.trainer import Trainer

# matplotlib (and ..analysis.plots with it) is imported inside the drawing functions: importing it
# takes about a second, which every `numrnn` command, `--help` included, would otherwise pay.

VERSION_NAMES = ("A", "B", "C", "D", "special")
LENGTHS = {"A": 100, "B": 100, "C": 100, "D": 100, "special": 500}

#: The training setting follows ``numrnn.experiments.reproduce.FULL`` (recurrent init N(0, 0.25²/H), a zero
#: readout, Adam lr 3e-3, no clipping, H = 32), shorter: one pass over train_steps x batch fresh
#: sequences. Models at initialisation get a readout drawn N(0, 1/H) instead of zeros, so that a
#: loss gradient exists; their recurrent layer is the one training starts from (same seed, same draws).
PRESETS = {
    "full": dict(seeds=4, hidden=32, probe=16, scale=0.25, train_steps=600, batch=50, lr=3e-3,
                 clip=None, record_every=30, lag_stride_special=5,
                 scales=[0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 1.75, 2.0, 2.5, 3.0]),
    "quick": dict(seeds=2, hidden=16, probe=8, scale=0.25, train_steps=40, batch=20, lr=3e-3,
                  clip=None, record_every=10, lag_stride_special=25, scales=[0.25, 0.5, 1.0, 1.5, 2.0]),
}


# ---------------------------------------------------------------------------- computing
def probe(version, cfg):
    """A fixed batch of the first-element task (float64, its own seed 10_000), x and y."""
    task = first_element(T=LENGTHS[version], n_train=cfg["probe"], n_test=1, seed=10_000,
                         dtype=np.float64)
    return task.x_train, task.y_train


def lags_of(version, cfg):
    """Every lag for T = 100; every ``lag_stride_special``-th (and the last) for special."""
    T = LENGTHS[version]
    return np.arange(T) if T <= 100 else np.unique(np.r_[np.arange(0, T, cfg["lag_stride_special"]), T - 1])


def new_model(version, seed, cfg, dtype=np.float64, readout_init="normal", **layer_kwargs):
    """A first-element model; the recurrent init scale is ``cfg["scale"]`` unless given."""
    layer_kwargs.setdefault("scale", cfg["scale"])
    return SequenceModel(6, cfg["hidden"], 1, version=version, seed=seed, dtype=dtype,
                         readout_init=readout_init, **layer_kwargs)


def model_dhs(model, x, y):
    """The model's direct gradient on h(t): nonzero only at T-1 for the "last" readout."""
    return model.loss_and_grads(x, y, train=False)[2]["dhs"]


def relative_norms(model, x, y, lags):
    """:math:`\\lVert\\delta h(T-1-lag)\\rVert / \\lVert\\delta h(T-1)\\rVert` from the layer's backward."""
    lags, norms = dg.grad_norm_by_lag(model.layer, x, model_dhs(model, x, y), lags=lags)
    return norms / norms[0]


def path_norms(model, x, y):
    """Norms by lag of the total, ReLU-path and skip-path gradient, relative to lag 0 (T,) each."""
    parts = dg.path_decomposition_by_lag(model.layer, x, model_dhs(model, x, y))
    total = parts["relu"] + parts["skip"]
    norm = lambda g: np.sqrt(np.sum(g ** 2, axis=(1, 2)))
    scale = norm(total)[0]
    return {"ReLU path (no skip edge)": norm(parts["relu"]) / scale,
            "skip path (>= 1 skip edge)": norm(parts["skip"]) / scale, "total": norm(total) / scale}


def contribution_norms(model, x, y):
    """||C(t)||_F of each step's term of dW_k, relative to the last step's, and k (T,)."""
    C, k = dg.weight_grad_contributions(model.layer, x, model_dhs(model, x, y))
    norms = np.sqrt(np.sum(C ** 2, axis=(1, 2)))
    return norms / norms[-1], k


def train(version, seed, cfg, callback=None):
    """One epoch of ``train_steps`` Adam steps on fresh first-element data (float32); the trained
    model in float64 and a record of the run."""
    task = first_element(T=LENGTHS[version], n_train=cfg["train_steps"] * cfg["batch"], n_test=200, seed=seed)
    model = new_model(version, seed, cfg, dtype=np.float32, readout_init="zeros")
    trainer = Trainer(model, Adam(cfg["lr"]), batch_size=cfg["batch"], clip=cfg["clip"], seed=seed,
                      progress=False, callback=callback, callback_every=cfg["record_every"])
    trainer.fit(task.x_train, task.y_train, epochs=1, x_test=task.x_test, y_test=task.y_test)
    test = trainer.history["test"][-1][1] if trainer.history["test"] else float("nan")
    run = dict(seed=seed, steps=trainer.step, diverged=str(trainer.diverged) if trainer.diverged else None,
               test_mse=test, normalised_test_mse=task.normalised(test))
    return dg.as_float64(model), run


# ------------------------------------------------------------------------------ figures
def _save(fig, path):
    """Write the figure atomically (folder created) and close it: a long run keeps no figures open."""
    import matplotlib.pyplot as plt
    save_figure(fig, path)
    plt.close(fig)


def grad_norm_figures(cfg, out, summary):
    """Gradient norm by lag at init and after training; heat maps during training."""
    from ..analysis import plots
    init, trained, records, models = {}, {}, {}, {}
    summary["training"] = {}
    for v in VERSION_NAMES:
        x, y = probe(v, cfg)
        lags = lags_of(v, cfg)
        init[v] = (lags, np.array([relative_norms(new_model(v, s, cfg), x, y, lags) for s in range(cfg["seeds"])]))
        recorder = dg.LagNormRecorder(x, y, lags)                  # seed 0's run feeds the heat map
        runs = [train(v, s, cfg, recorder if s == 0 else None) for s in range(cfg["seeds"])]
        models[v] = [model for model, _ in runs]
        summary["training"][v] = [run for _, run in runs]
        trained[v] = (lags, np.array([relative_norms(m, x, y, lags) for m in models[v]]))
        steps, lags_r, norms = recorder.as_arrays()
        records[v] = (steps, lags_r, norms / norms[:, :1])
    summary["grad_norm_ratio_last_lag"] = {
        when: {v: _median_last(curves[v][1]) for v in VERSION_NAMES} for when, curves in
        (("init", init), ("trained", trained))}
    setting = (f"first-element task, H={cfg['hidden']}, init scale {cfg['scale']:g}, {cfg['probe']} probe "
               f"sequences, seeds 0..{cfg['seeds'] - 1}")
    fig = plots.plot_lag_curves({
        "A-D (T=100), at initialisation": {v: init[v] for v in "ABCD"},
        f"A-D, after {cfg['train_steps']} Adam steps (lr {cfg['lr']:g})": {v: trained[v] for v in "ABCD"},
        "special (T=500)": {"special, init": init["special"], "special, trained": trained["special"]}},
        title=f"Gradient reaching h(T-1-lag) from a loss at the last step ({setting})",
        ylabel="||dL/dh(T-1-lag)|| / ||dL/dh(T-1)||",
        colours=dict.fromkeys(("special, init", "special, trained"), plots.VERSION_COLOURS["special"]),
        styles={"special, init": dict(ls=":", marker="D"), "special, trained": dict(ls="-", marker="x")})
    _save(fig, os.path.join(out, "grad_norm_by_lag.png"))
    fig = plots.plot_lag_heatmap(records, label="log10 ||dL/dh(T-1-lag)|| / ||dL/dh(T-1)||",
                                 title=f"Gradient norm by lag during training (seed 0, init scale {cfg['scale']:g}, "
                                       f"recorded every {cfg['record_every']} Adam steps, lr {cfg['lr']:g}, "
                                       f"{'no clipping' if cfg['clip'] is None else 'clip %g' % cfg['clip']})")
    _save(fig, os.path.join(out, "grad_heatmap_training.png"))
    return models


def path_figure(cfg, out, summary, trained):
    """Skip path vs ReLU path for C and D, at init and after training."""
    from ..analysis import plots
    panels, summary["paths"] = {}, {}
    for v in "CD":
        x, y = probe(v, cfg)
        lags = np.arange(LENGTHS[v])
        for when in ("init", "trained"):
            models = [new_model(v, s, cfg) for s in range(cfg["seeds"])] if when == "init" else trained[v]
            parts = [path_norms(m, x, y) for m in models]
            panels[f"{v}, {when}"] = {name: (lags, np.array([p[name] for p in parts])) for name in parts[0]}
            summary["paths"][f"{v}, {when}"] = {name: _median_last(c[1]) for name, c in panels[f"{v}, {when}"].items()}
    fig = plots.plot_lag_curves(panels, ylabel="norm / ||dL/dh(T-1)||",   # plots.PATH_STYLES
                                title=f"Where the gradient travels: paths with no skip edge vs at least one "
                                      f"(H={cfg['hidden']}, init scale {cfg['scale']:g}, trained "
                                      f"{cfg['train_steps']} steps, seeds 0..{cfg['seeds'] - 1})")
    _save(fig, os.path.join(out, "path_decomposition.png"))


def contribution_figure(cfg, out, summary, trained):
    """Per-step contributions to dW1, dW2 for B and D, at initialisation and after training."""
    from ..analysis import plots
    panels, summary["contributions"] = {}, {}
    for v in "BD":
        x, y = probe(v, cfg)
        for when in ("init", "trained"):
            models = [new_model(v, s, cfg) for s in range(cfg["seeds"])] if when == "init" else trained[v]
            rows = [contribution_norms(m, x, y) for m in models]
            panels[f"{v}, {when}"] = (np.array([r[0] for r in rows]), rows[0][1])
            T = LENGTHS[v]
            summary["contributions"][f"{v}, {when}"] = {
                f"step {t}": float(plots.log_median([r[0][t] for r in rows])) for t in (1, 2, T // 2, T // 2 + 1, T - 2)}
    fig = plots.plot_weight_contributions(
        panels, ylabel="||δa(t) h(t-1)ᵀ||_F / same at t = T-1",
        title=f"Each step's share of dW_k, relative to the last step's (T=100, H={cfg['hidden']}, "
              f"init scale {cfg['scale']:g}, trained {cfg['train_steps']} steps, seeds 0..{cfg['seeds'] - 1})")
    _save(fig, os.path.join(out, "per_matrix_contributions.png"))


def jacobian_figure(cfg, out, summary, trained=None):
    """Exact ||dh(T-1)/dh(t)|| (spectral and Frobenius) for one sequence, A and C at two init
    scales, beside Pascanu's bound sigma_max(W)^lag."""
    from ..analysis import plots
    panels, summary["jacobians"] = {}, {}
    for v, scale in (("A", cfg["scale"]), ("A", 1.0), ("C", cfg["scale"]), ("C", 1.0)):
        x, _ = probe(v, cfg)
        layer = new_model(v, 0, cfg, scale=scale).layer
        norms = dg.jacobian_norms(dg.jacobians_by_lag(layer, x[:1]))
        lags = np.arange(LENGTHS[v])
        sigma = dg.spectral_norms(layer)["W1"]
        name = f"version {v}, init scale {scale:g} (σ_max(W) = {sigma:.2f})"
        panels[name] = {
            "spectral norm": (lags, norms["spectral"].T), "Frobenius norm": (lags, norms["frobenius"].T),
            "σ_max(W)^lag (Pascanu's bound; holds without skips)": (lags, sigma ** lags[None])}
        summary["jacobians"][name] = {kind: float(norms[kind][-1, 0]) for kind in norms}
    fig = plots.plot_lag_curves(panels, ylabel="||dh(T-1) / dh(T-1-lag)||",
                                colours={"σ_max(W)^lag (Pascanu's bound; holds without skips)": "0.5",
                                         "spectral norm": "black", "Frobenius norm": plots.OKABE_ITO["sky blue"]},
                                styles={"σ_max(W)^lag (Pascanu's bound; holds without skips)": dict(ls=":"),
                                        "Frobenius norm": dict(ls="--", lw=1.5, marker="s"),
                                        "spectral norm": dict(marker="o")},
                                title=f"Exact Jacobian products (per-step diag(relu'(a)) W plus identity skips), "
                                      f"one sequence, H={cfg['hidden']}, T=100, seed 0")
    _save(fig, os.path.join(out, "jacobian_norms.png"))


def lstm_figure(cfg, out, summary, trained=None):
    """The LSTM's gradient by lag at initialisation: h and the cell path c, versions A and D."""
    from ..analysis import plots
    panels, summary["lstm"] = {}, {}
    for v in "AD":
        x, y = probe(v, cfg)
        lags = lags_of(v, cfg)
        rows = {"δh(t)": [], "δc(t), the cell path": []}
        for s in range(cfg["seeds"]):
            model = new_model(v, s, cfg, cell="lstm", scale=1.0)     # the LSTM init of numrnn.experiments.reproduce
            grads = dg.hidden_grads_by_lag(model.layer, x, model_dhs(model, x, y), lags=lags)
            scale = np.linalg.norm(grads["h"][0])
            rows["δh(t)"].append(np.sqrt(np.sum(grads["h"] ** 2, axis=(1, 2))) / scale)
            rows["δc(t), the cell path"].append(np.sqrt(np.sum(grads["c"] ** 2, axis=(1, 2))) / scale)
        panels[f"LSTM, version {v}, at initialisation"] = {k: (lags, np.array(r)) for k, r in rows.items()}
        summary["lstm"][v] = {k: _median_last(r) for k, r in rows.items()}
    fig = plots.plot_lag_curves(panels, ylabel="norm / ||dL/dh(T-1)||",
                                colours={"δh(t)": "black", "δc(t), the cell path": plots.OKABE_ITO["sky blue"]},
                                styles={"δh(t)": dict(marker="o"), "δc(t), the cell path": dict(ls="--", marker="s")},
                                title=f"LSTM (forget bias 1, init scale 1): gradient on h and on the cell state by lag "
                                      f"(H={cfg['hidden']}, T=100, seeds 0..{cfg['seeds'] - 1})")
    _save(fig, os.path.join(out, "lstm_grad_norm_by_lag.png"))


def sweep_figures(cfg, out, summary, trained=None):
    """The initial scale of W from vanishing to exploding, for A and for C."""
    from ..analysis import plots
    panels, ratios, summary["sweep"] = {}, {}, {}
    colours = {}
    for v in "AC":
        x, y = probe(v, cfg)
        lags = np.arange(LENGTHS[v])
        curves, last = {}, []
        for i, scale in enumerate(cfg["scales"]):
            models = [new_model(v, s, cfg, scale=scale) for s in range(cfg["seeds"])]
            rows = np.array([relative_norms(m, x, y, lags) for m in models])
            label = f"scale {scale:g}"
            curves[label] = (lags, rows)
            colours[label] = plots.scale_colour(i, len(cfg["scales"]))
            last.append(rows[:, -1])
            summary["sweep"].setdefault(v, {})[label] = dict(
                ratio_last_lag=_median_last(rows),
                sigma_max=float(np.median([dg.spectral_norms(m.layer)["W1"] for m in models])))
        panels[f"version {v}"] = curves
        ratios[v] = np.array(last)
    title = f"Initial scale of W (entries N(0, scale²/H)), H={cfg['hidden']}, T=100, seeds 0..{cfg['seeds'] - 1}"
    fig = plots.plot_lag_curves(panels, title=title, ylabel="||dL/dh(T-1-lag)|| / ||dL/dh(T-1)||",
                                colours=colours, shared_legend=True)
    _save(fig, os.path.join(out, "spectral_sweep.png"))
    sigma = [summary["sweep"]["A"][f"scale {c:g}"]["sigma_max"] for c in cfg["scales"]]
    marks = {"σ_max(W) = 1: left of it A must vanish (Pascanu)": np.interp(1.0, sigma, cfg["scales"]),
             "He gain √2 (ReLU keeps the norm on average)": np.sqrt(2)}
    fig = plots.plot_sweep_summary(cfg["scales"], ratios, title=title, marks=marks,
                                   ylabel="||dL/dh(0)|| / ||dL/dh(T-1)|| (lag T-1)")
    _save(fig, os.path.join(out, "spectral_sweep_summary.png"))


def _median_last(rows):
    """Median (on log scale), min and max over seeds of the last column (the largest lag)."""
    from ..analysis import plots
    last = np.asarray(rows)[:, -1]
    return dict(median=float(plots.log_median(last)), min=float(np.min(last)), max=float(np.max(last)))


def tbptt_figure(out, quick, summary):
    """Gradient by lag with and without truncation at k = 20 (T = 60, seeds 0-4; quick: 0-1), at
    numrnn's default init (scale 1.0) and at the training scale 0.25 of ``numrnn reproduce``."""
    from ..analysis import plots
    seeds = range(2) if quick else range(5)
    studies = {f"init scale {scale:g}{note}": grad_norm_truncation_study(steps=60, window=20, seeds=seeds,
                                                                          scale=scale)
               for scale, note in ((1.0, " (default)"), (0.25, " (training)"))}
    fig = plots.plot_truncation_study(
        studies, window=20,
        title=f"What truncated BPTT at k=20 cuts from a loss at the last step: RNNs at initialisation, "
              f"T=60, H=32, ||dL/dx|| averaged over a batch of 8, median of seeds 0..{len(seeds) - 1}")
    _save(fig, os.path.join(out, "tbptt", "grad_norm_truncated.png"))
    for (label, study), key in zip(studies.items(), ("tbptt_cut_fraction_k20", "tbptt_cut_fraction_k20_scale0.25")):
        summary[key] = {name: curves["cut_fraction"] for name, curves in study.items()}


def add_parser(subparsers):
    p = subparsers.add_parser("figures", help="regenerate the gradient-flow figures in figures/",
                              description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="few seeds and steps: a smoke run")
    common.add_out_flag(p, "OUT/figures/diagnostics/*.png and summary.json, "
                           "OUT/figures/tbptt/grad_norm_truncated.png")
    p.add_argument("--quiet", action="store_true", help="no progress output")
    p.set_defaults(func=run)
    return p


def run(args):
    """Compute every diagnostic, draw and save its figure, and write summary.json; returns 0."""
    cfg = PRESETS["quick" if args.quick else "full"]
    root = common.figures_dir(args.out, "")
    out = common.figures_dir(args.out, "diagnostics")
    os.makedirs(out, exist_ok=True)
    say = (lambda text: None) if args.quiet else (lambda text: print(text, flush=True))
    summary = {"command": "numrnn figures" + (" --quick" if args.quick else ""), "settings": cfg}
    started, cpu = time.perf_counter(), time.process_time()
    with threadpool_limits(1), np.errstate(over="ignore", invalid="ignore"):
        trained = grad_norm_figures(cfg, out, summary)
        say(f"gradient norm by lag and heat map: {time.perf_counter() - started:.0f} s")
        for make in (path_figure, contribution_figure, jacobian_figure, lstm_figure, sweep_figures):
            make(cfg, out, summary, trained)
            say(f"{make.__name__}: {time.perf_counter() - started:.0f} s")
        tbptt_figure(root, args.quick, summary)
    summary["seconds"], summary["cpu_seconds"] = time.perf_counter() - started, time.process_time() - cpu
    atomic_write_text(os.path.join(out, "summary.json"), json.dumps(summary, indent=1, default=float))
    print(f"wrote {out}/*.png and summary.json in {summary['seconds']:.0f} s")
    return common.EXIT_OK


def main(argv=None):
    """``python -m numrnn.experiments.figures [--quick] [--out OUT]`` = ``numrnn figures ...``."""
    return common.main(add_parser, argv, command="figures")


if __name__ == "__main__":
    sys.exit(main())
