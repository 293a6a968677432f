r"""An interactive gradient-flow explorer: gradient norm against lag, split into skip and ReLU path.

Notebook 03 opens it::

    from numrnn.analysis.explorer import GradientFlowExplorer
    GradientFlowExplorer().show()

With ipywidgets (the ``notebooks`` extra) it draws sliders for the version or K and S, the initial
scale, the activation and gradient clipping, and redraws on every change; without ipywidgets, or
with ``show(interactive=False)``, it draws one static view. :meth:`GradientFlowExplorer.update` is
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
import matplotlib.pyplot as plt
import numpy as np

from ..nn.activations import ACTIVATIONS
from ..nn.rnn import RNN
from ..nn.schedule import VERSIONS
from . import gradients
from .plots import PATH_STYLES, log_median

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


class GradientFlowExplorer:
    """Sliders (or one static view) over :func:`gradient_flow`.

    Parameters
    ----------
    steps, hidden_size, seeds : as in :func:`gradient_flow` (T = 100, H = 32, seeds 0-2 by default)
    """

    def __init__(self, steps=100, hidden_size=32, seeds=range(3)):
        self.steps, self.hidden_size, self.seeds = steps, hidden_size, list(seeds)
        self.fig, self.ax = plt.subplots(figsize=(8.5, 4.4), layout="constrained")
        plt.close(self.fig)            # shown on demand (display), never twice by the inline backend
        self.result = None
        self.controls = None

    def update(self, version=None, n_matrices=1, skip=0, scale=1.0, activation="relu", clip=None):
        """Recompute :func:`gradient_flow` and redraw; ``version`` ("A" ... "special") overrides K, S.

        Returns the dict of :func:`gradient_flow` with "K" and "S" added (also kept as ``self.result``).
        """
        K, S = _settings(version, n_matrices, skip)
        result = gradient_flow(K, S, scale, activation, clip, steps=self.steps,
                               hidden_size=self.hidden_size, seeds=self.seeds)
        ax = self.ax
        ax.clear()
        lags = result["lags"]
        for key, label in (("relu", "ReLU path (no skip edge)"), ("skip", "skip path (>= 1 skip edge)"),
                           ("total", "total")):
            style = dict(PATH_STYLES[label.split(" (")[0]])
            for row in result[key] if len(self.seeds) > 1 else ():
                ax.plot(lags, row, color=style["color"], lw=0.5, alpha=0.3)
            ax.plot(lags, log_median(result[key]), label=label, markevery=max(1, len(lags) // 8), ms=5, **style)
        ax.axhline(1.0, color="0.5", lw=0.8, ls=":")
        ax.set_yscale("log", nonpositive="mask")
        ax.set_xlabel("lag T-1-t (steps before the loss)")
        ax.set_ylabel("||dL/dh(T-1-lag)|| / ||dL/dh(T-1)||")
        ax.grid(True, which="major", alpha=0.3)
        ax.legend(fontsize=8, loc="best")
        name = version if version not in (None, "custom") else "custom"
        clipped = ("no clipping" if clip is None else
                   f"clip at {clip:g}: gradient x {log_median(result['clip_factor']):.2g}")
        ax.set_title(f"{name}: K={K}, S={S}, scale {scale:g}, {activation}, {clipped}\n"
                     f"T={self.steps}, H={self.hidden_size}, seeds {self.seeds[0]}..{self.seeds[-1]} "
                     f"(thin: seeds, bold: median)", fontsize=10)
        self.result = dict(result, K=K, S=S)
        return self.result

    def widgets(self):
        """The controls and the redrawn figure as one ipywidgets box (needs ipywidgets)."""
        import ipywidgets as w
        from IPython.display import display

        version = w.Dropdown(options=["custom", *VERSIONS], value="C", description="version")
        K = w.IntSlider(value=1, min=1, max=4, description="K matrices")
        S = w.IntSlider(value=2, min=0, max=6, description="skip S")
        scale = w.FloatSlider(value=0.5, min=0.1, max=2.5, step=0.05, description="init scale")
        activation = w.Dropdown(options=sorted(ACTIVATIONS), value="relu", description="activation")
        clip = w.Dropdown(options=[("none", None)] + [(f"{c:g}", c) for c in CLIP_CHOICES[1:]],
                          value=None, description="clip norm")
        out = w.Output()

        def redraw(*_):
            self.update(None if version.value == "custom" else version.value, K.value, S.value,
                        scale.value, activation.value, clip.value)
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
        for control in (scale, activation, clip):
            control.observe(redraw, names="value")
        redraw()
        self.controls = dict(version=version, K=K, S=S, scale=scale, activation=activation, clip=clip,
                             output=out)
        return w.HBox([w.VBox([version, K, S, scale, activation, clip]), out])

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


__all__ = ["gradient_flow", "GradientFlowExplorer", "CLIP_CHOICES"]
