r"""An interactive gradient-flow explorer: gradient norm against lag, split into skip and ReLU path.

Notebook 03 opens it::

    from numrnn.analysis.explorer import GradientFlowExplorer
    GradientFlowExplorer().show()

With ipywidgets (the ``notebooks`` extra) it draws controls for the version or K and S, the initial
scale, the activation, gradient clipping, T, H and the seeds, and a "compare" list that draws
several versions over one another; it redraws when a slider is released (not for every value
passed while dragging). Without ipywidgets, or with ``show(interactive=False)``, it draws one
static view. :meth:`GradientFlowExplorer.update` is
the function the sliders call: it recomputes and redraws, and returns the numbers it drew.

What is drawn (:func:`gradient_flow`): for a loss at the last step of a sequence of T steps (inputs
uniform in [-1, 1], a random :math:`\delta h(T-1)`, as in notebook 03), the norm of the gradient
reaching h(T-1-lag), split exactly into the **ReLU path** (paths with no skip edge) and the **skip
path** (paths with at least one), :func:`numrnn.analysis.gradients.path_decomposition_by_lag`, all
divided by :math:`\lVert \delta h(T-1) \rVert`. Clipping at norm c rescales the *whole* gradient by
:math:`\min(1, c / \lVert \nabla_\theta L \rVert)` (the norm over every parameter, as
:class:`numrnn.training.trainer.Trainer` clips): every lag alike, so it can lower an exploding curve
but never lift a vanished one.
"""
import time

import matplotlib.pyplot as plt
import numpy as np

from .._checks import check_int
from ..nn.activations import ACTIVATIONS
from ..nn.rnn import RNN
from ..nn.schedule import VERSIONS
from . import gradients
from .plots import PATH_STYLES, line_style, log_median

#: Choices of the clipping control: None (no clipping) or a maximum gradient norm.
CLIP_CHOICES = (None, 100.0, 10.0, 1.0, 0.1)


def gradient_flow(n_matrices=1, skip=0, scale=1.0, activation="relu", clip=None, steps=100,
                  hidden_size=32, input_size=6, batch_size=8, seeds=range(3)):
    r"""Gradient norm against lag, total, ReLU path and skip path, for RNNs at initialisation.

    Parameters
    ----------
    n_matrices, skip : int
        K and S of the RNN (:class:`numrnn.nn.rnn.RNN`).
    scale : float
        Initial scale of the recurrent matrices (entries N(0, scale²/H)).
    activation : "relu" or "tanh"
    clip : float or None
        Clip the parameter gradient to this global norm; None for no clipping.
    steps, hidden_size, input_size, batch_size : int
        T, H, D, B.
    seeds : iterable of int
        One network and one batch per seed (inputs and :math:`\delta h(T-1)` from seed 1000 + seed).

    Returns
    -------
    dict
        "lags" (T,); "total", "relu", "skip" (n_seeds, T): norms by lag divided by the unclipped
        :math:`\lVert \delta h(T-1) \rVert` and multiplied by the clipping factor; "clip_factor"
        (n_seeds,); "grad_norm" (n_seeds,): the unclipped parameter-gradient norm.
    """
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {activation!r}")
    if clip is not None and not clip > 0:
        raise ValueError(f"clip must be a positive number or None, got {clip!r}")
    seeds = list(seeds)
    if not seeds:
        raise ValueError("seeds is empty: give at least one seed")
    out = {"total": [], "relu": [], "skip": [], "clip_factor": [], "grad_norm": []}
    norm = lambda g: np.sqrt(np.sum(g ** 2, axis=(1, 2)))            # (T, B, H) by lag -> (T,)
    for seed in seeds:
        layer = RNN(input_size, hidden_size, n_matrices=n_matrices, skip=skip, activation=activation,
                    scale=scale, seed=seed)
        rng = np.random.default_rng(1000 + seed)
        x = rng.uniform(-1, 1, size=(batch_size, steps, input_size))
        dhs = gradients.last_step_dhs(rng.standard_normal((batch_size, hidden_size)), steps)
        parts = gradients.path_decomposition_by_lag(layer, x, dhs)
        _, grads = layer.backward(dhs, layer.forward(x)[1])
        grad_norm = float(np.sqrt(sum(np.sum(g ** 2) for g in grads.values())))
        factor = 1.0 if clip is None or grad_norm <= clip else clip / grad_norm
        total = parts["relu"] + parts["skip"]
        reference = norm(total)[0]
        out["total"].append(factor * norm(total) / reference)
        out["relu"].append(factor * norm(parts["relu"]) / reference)
        out["skip"].append(factor * norm(parts["skip"]) / reference)
        out["clip_factor"].append(factor)
        out["grad_norm"].append(grad_norm)
    result = {name: np.array(values) for name, values in out.items()}
    result["lags"] = np.arange(steps)
    return result


def _settings(version, n_matrices, skip):
    if version in (None, "custom"):
        return n_matrices, skip
    if version not in VERSIONS:
        raise ValueError(f"version must be one of {list(VERSIONS)} or 'custom', got {version!r}")
    return VERSIONS[version]


#: The y quantity of every curve, and what clipping multiplies it by.
YLABEL = "||dL/dh(T-1-lag)|| / ||dL/dh(T-1)||"
CLIPPED_YLABEL = YLABEL + "\n× clip factor min(1, c / ||grad||)"


class GradientFlowExplorer:
    """Sliders (or one static view) over :func:`gradient_flow`.

    Parameters
    ----------
    steps, hidden_size, seeds : the starting T, H and seeds (T = 100, H = 32, seeds 0-2 by default);
        the sliders change them, and so does :meth:`update`.
    """

    def __init__(self, steps=100, hidden_size=32, seeds=range(3)):
        self.steps, self.hidden_size, self.seeds = steps, hidden_size, list(seeds)
        self.fig, self.ax = plt.subplots(figsize=(8.5, 4.6), layout="constrained")
        plt.close(self.fig)            # shown on demand (display), never twice by the inline backend
        self.result = None
        self.controls = None
        self.seconds = None            # how long the last redraw took (computing and drawing)

    def update(self, version=None, n_matrices=1, skip=0, scale=1.0, activation="relu", clip=None,
               steps=None, hidden_size=None, seeds=None, compare=()):
        """Recompute :func:`gradient_flow` and redraw; ``version`` ("A" ... "special") overrides K, S.

        ``steps``, ``hidden_size`` and ``seeds`` replace T, H and the seeds (kept for the next
        call). With ``compare`` (version names, e.g. ("A", "B", "C", "D")) the total of each of
        those versions is drawn over one another at the same scale, activation, clipping, T, H and
        seeds, in the versions' colours, instead of the path split of one setting. With clipping
        the y axis says "× clip factor" and the unclipped total is drawn faintly beside the
        clipped one.

        Returns the dict of :func:`gradient_flow` with "K" and "S" added (also kept as
        ``self.result``); with ``compare``, a dict version -> such a dict.
        """
        started = time.perf_counter()
        if steps is not None:
            self.steps = check_int("steps", steps, 2)
        if hidden_size is not None:
            self.hidden_size = check_int("hidden_size", hidden_size, 1)
        if seeds is not None:
            self.seeds = list(seeds)
        unknown = [v for v in compare if v not in VERSIONS]
        if unknown:
            raise ValueError(f"compare must name versions among {list(VERSIONS)}, got {unknown}")
        run = dict(scale=scale, activation=activation, clip=clip, steps=self.steps,
                   hidden_size=self.hidden_size, seeds=self.seeds)
        ax = self.ax
        ax.clear()
        clipped = "no clipping" if clip is None else f"clip at {clip:g}"
        if compare:
            self.result = {}
            every = max(1, self.steps // 8)
            for i, v in enumerate(compare):               # markers staggered: C's show between D's
                K, S = VERSIONS[v]
                result = dict(gradient_flow(K, S, **run), K=K, S=S)
                self.result[v] = result
                self._curve(result, "total", v, dict(line_style(v), markevery=(i * every // len(compare), every)),
                            clip)
            what = f"compare {', '.join(compare)}: scale {scale:g}, {activation}, {clipped}"
            if clip is not None:
                what += " (faint: without clipping)"
        else:
            K, S = _settings(version, n_matrices, skip)
            self.result = dict(gradient_flow(K, S, **run), K=K, S=S)
            for key, label in (("relu", "ReLU path (no skip edge)"),
                               ("skip", "skip path (>= 1 skip edge)"), ("total", "total")):
                self._curve(self.result, key, label, dict(PATH_STYLES[label.split(" (")[0]]),
                            clip if key == "total" else None)
            name = version if version not in (None, "custom") else "custom"
            what = f"{name}: K={K}, S={S}, scale {scale:g}, {activation}, {clipped}"
            if clip is not None:
                what += f": gradient x {log_median(self.result['clip_factor']):.2g}"
        ax.axhline(1.0, color="0.5", lw=0.8, ls=":")
        ax.set_yscale("log", nonpositive="mask")
        ax.set_xlabel("lag T-1-t (steps before the loss)")
        ax.set_ylabel(YLABEL if clip is None else CLIPPED_YLABEL)
        ax.grid(True, which="major", alpha=0.3)
        ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.01, 0.5))
        ax.set_title(f"{what}\nT={self.steps}, H={self.hidden_size}, seeds {_seed_text(self.seeds)} "
                     f"(thin: seeds, bold: median)", fontsize=10)
        self.seconds = time.perf_counter() - started
        return self.result

    def _curve(self, result, key, label, style, clip):
        """Seeds thin, their median bold; with ``clip``, also the unclipped median, faint."""
        ax, lags = self.ax, result["lags"]
        for row in result[key] if len(self.seeds) > 1 else ():
            ax.plot(lags, row, color=style["color"], lw=0.5, alpha=0.3)
        ax.plot(lags, log_median(result[key]), label=label, ms=5,
                **dict({"markevery": max(1, len(lags) // 8)}, **style))
        if clip is not None:
            unclipped = result[key] / result["clip_factor"][:, None]
            ax.plot(lags, log_median(unclipped), color=style["color"], lw=1.2, alpha=0.35,
                    ls=style.get("ls", "-"), label=f"{label}, without clipping")

    def widgets(self):
        """The controls and the redrawn figure as one ipywidgets box (needs ipywidgets).

        Every slider redraws when it is released (``continuous_update=False``), not for every value
        passed while dragging; the figure is redrawn in place in an ``Output``.
        """
        import ipywidgets as w
        from IPython.display import display

        slider = dict(continuous_update=False, style={"description_width": "initial"})
        version = w.Dropdown(options=["custom", *VERSIONS], value="C", description="version")
        K = w.IntSlider(value=1, min=1, max=4, description="K matrices", **slider)
        S = w.IntSlider(value=2, min=0, max=6, description="skip S", **slider)
        scale = w.FloatSlider(value=0.5, min=0.1, max=2.5, step=0.05, description="init scale", **slider)
        activation = w.Dropdown(options=sorted(ACTIVATIONS), value="relu", description="activation")
        clip = w.Dropdown(options=[("none", None)] + [(f"{c:g}", c) for c in CLIP_CHOICES[1:]],
                          value=None, description="clip norm")
        T = w.IntSlider(value=self.steps, min=10, max=max(300, self.steps), step=10,
                        description="T steps", **slider)
        H = w.IntSlider(value=self.hidden_size, min=2, max=max(64, self.hidden_size), step=2,
                        description="H hidden", **slider)
        first, last = self.seeds[0], self.seeds[-1]
        seeds = w.IntRangeSlider(value=(first, last), min=0, max=max(9, last), description="seeds",
                                 **slider)
        compare = w.SelectMultiple(options=list(VERSIONS), value=(), rows=len(VERSIONS),
                                   description="compare",
                                   tooltip="versions drawn over one another (none: the path split)")
        out = w.Output()

        def redraw(*_):
            self.update(None if version.value == "custom" else version.value, K.value, S.value,
                        scale.value, activation.value, clip.value, steps=T.value, hidden_size=H.value,
                        seeds=range(seeds.value[0], seeds.value[1] + 1), compare=compare.value)
            with out:
                out.clear_output(wait=True)
                display(self.fig)

        setting_version = []                           # non-empty while a version sets K and S

        def pick_version(change):
            if change["new"] != "custom":
                setting_version.append(True)
                try:
                    K.value, S.value = VERSIONS[change["new"]]
                finally:
                    setting_version.pop()
            redraw()

        def pick_schedule(change):
            if setting_version:
                return
            if version.value != "custom" and (K.value, S.value) != VERSIONS[version.value]:
                version.value = "custom"               # K or S moved by hand: no longer a paper version
            else:
                redraw()

        version.observe(pick_version, names="value")
        for control in (K, S):
            control.observe(pick_schedule, names="value")
        for control in (scale, activation, clip, T, H, seeds, compare):
            control.observe(redraw, names="value")
        redraw()
        self.controls = dict(version=version, K=K, S=S, scale=scale, activation=activation, clip=clip,
                             T=T, H=H, seeds=seeds, compare=compare, output=out)
        return w.HBox([w.VBox([version, K, S, scale, activation, clip]), w.VBox([T, H, seeds, compare]),
                       out])

    def show(self, interactive=True, **settings):
        """Display the sliders, or (without ipywidgets, or ``interactive=False``) one static view of
        :meth:`update` with ``settings`` (default: version C at scale 0.5). Returns what it displayed."""
        from IPython.display import display
        if interactive:
            try:
                box = self.widgets()
            except ImportError:
                print("ipywidgets is not installed (pip install ipywidgets): one static view instead")
            else:
                display(box)
                return box
        self.update(**({"version": "C", "scale": 0.5} | settings))
        display(self.fig)
        return self.fig


def _seed_text(seeds):
    return f"{seeds[0]}..{seeds[-1]}" if len(seeds) > 1 else f"{seeds[0]}"


__all__ = ["gradient_flow", "GradientFlowExplorer", "CLIP_CHOICES"]
