r"""Optimisers, each update written as its equation, and gradient clipping by global norm.

Every optimiser updates the parameter arrays *in place* (so the model sees the change) from a dict of
gradients with the same keys. With L2 weight decay :math:`\lambda`, the gradient first becomes

.. math:: g \leftarrow g + \lambda\, \theta \qquad \text{(weights only; names ending in "b" are biases and are not decayed)}

and then, with learning rate :math:`\eta` and step count :math:`t = 1, 2, \dots`:

- SGD: :math:`\theta \leftarrow \theta - \eta g`
- Momentum: :math:`v \leftarrow \mu v + g,\; \theta \leftarrow \theta - \eta v`
- RMSProp: :math:`s \leftarrow \rho s + (1-\rho) g^2,\; \theta \leftarrow \theta - \eta\, g / (\sqrt{s} + \epsilon)`
- Adam: :math:`m \leftarrow \beta_1 m + (1-\beta_1) g,\; v \leftarrow \beta_2 v + (1-\beta_2) g^2,\;
  \theta \leftarrow \theta - \eta\, \hat m / (\sqrt{\hat v} + \epsilon)` with
  :math:`\hat m = m / (1-\beta_1^t),\; \hat v = v / (1-\beta_2^t)`

Clipping is separate (:func:`clip_by_global_norm`), applied by the trainer before ``step``:

.. math:: g \leftarrow g \cdot \min\!\left(1, \frac{c}{\lVert g \rVert}\right), \qquad
          \lVert g \rVert = \sqrt{\textstyle\sum_{\text{arrays}} \sum_i g_i^2}

An optimiser's state (step count and per-parameter slots) is a dict of plain numbers and arrays,
:meth:`Optimizer.state_dict`, so a checkpoint can save it and training can resume bit for bit.
"""
import numpy as np


def global_norm(grads):
    r""":math:`\sqrt{\sum_k \lVert g_k \rVert^2}` over every array of ``grads`` (a dict), as a float."""
    return float(np.sqrt(sum(float(np.sum(np.square(g, dtype=np.float64))) for g in grads.values())))


def clip_by_global_norm(grads, max_norm):
    """Scale all gradients together so that their global norm is at most ``max_norm``.

    Parameters
    ----------
    grads : dict name -> ndarray
    max_norm : float > 0

    Returns
    -------
    clipped : dict, new arrays (the input is not modified)
    norm : float, the global norm *before* clipping
    """
    if not max_norm > 0:
        raise ValueError(f"max_norm must be > 0, got {max_norm}")
    norm = global_norm(grads)
    scale = min(1.0, max_norm / norm) if norm > 0 else 1.0
    return {k: g * g.dtype.type(scale) for k, g in grads.items()}, norm


def is_bias(name):
    """True for parameter names whose last component is "b" ("b", "layer.b", "readout.b")."""
    return name.split(".")[-1] == "b"


class Optimizer:
    """Base class: weight decay, the step counter, per-parameter state slots, save/load.

    Parameters
    ----------
    lr : float > 0
        Learning rate :math:`\\eta`.
    weight_decay : float >= 0
        L2 coefficient :math:`\\lambda`, added to the gradient of every non-bias parameter.
    """

    name = "base"
    slots = ()          # names of the per-parameter state arrays, e.g. ("m", "v")

    def __init__(self, lr, weight_decay=0.0):
        if not lr > 0 or not np.isfinite(lr):
            raise ValueError(f"lr must be a positive number, got {lr}")
        if not weight_decay >= 0:
            raise ValueError(f"weight_decay must be >= 0, got {weight_decay}")
        self.lr, self.weight_decay = float(lr), float(weight_decay)
        self.t = 0
        self.state = {slot: {} for slot in self.slots}

    @property
    def hyper(self):
        """The hyperparameters, JSON-able (enough to rebuild with :func:`make_optimizer`)."""
        return dict(lr=self.lr, weight_decay=self.weight_decay)

    def step(self, params, grads):
        """Update every array of ``params`` in place from ``grads`` (same keys and shapes)."""
        if set(grads) != set(params):
            raise ValueError(f"grads keys {sorted(grads)} differ from params keys {sorted(params)}")
        self.t += 1
        for name, theta in params.items():
            g = grads[name]
            if g.shape != theta.shape:
                raise ValueError(f"gradient of {name} has shape {g.shape}; parameter {theta.shape}")
            if self.weight_decay and not is_bias(name):
                g = g + self.weight_decay * theta
            self._update(name, theta, g.astype(theta.dtype, copy=False))

    def _slot(self, slot, name, theta):
        """The state array ``slot`` of parameter ``name``, zeros on first use."""
        table = self.state[slot]
        if name not in table:
            table[name] = np.zeros_like(theta)
        return table[name]

    def _update(self, name, theta, g):
        raise NotImplementedError

    def state_dict(self):
        """{"name", "hyper", "t", "slots": {slot: {param: array}}}, copies."""
        return {"name": self.name, "hyper": self.hyper, "t": self.t,
                "slots": {s: {k: v.copy() for k, v in table.items()} for s, table in self.state.items()}}

    def load_state_dict(self, state):
        """Restore from :meth:`state_dict` of an optimiser of the same kind and hyperparameters."""
        if state.get("name") != self.name:
            raise ValueError(f"optimiser state is for {state.get('name')!r}, not {self.name!r}")
        if set(state["slots"]) != set(self.slots):
            raise ValueError(f"optimiser state has slots {sorted(state['slots'])}; expected {sorted(self.slots)}")
        self.t = int(state["t"])
        self.state = {s: {k: np.array(v) for k, v in table.items()} for s, table in state["slots"].items()}

    def __repr__(self):
        args = ", ".join(f"{k}={v}" for k, v in self.hyper.items())
        return f"{type(self).__name__}({args})"


class SGD(Optimizer):
    r""":math:`\theta \leftarrow \theta - \eta g`."""

    name = "sgd"

    def _update(self, name, theta, g):
        theta -= self.lr * g


class Momentum(Optimizer):
    r""":math:`v \leftarrow \mu v + g,\; \theta \leftarrow \theta - \eta v` (heavy ball; ``momentum`` = μ)."""

    name, slots = "momentum", ("v",)

    def __init__(self, lr, momentum=0.9, weight_decay=0.0):
        super().__init__(lr, weight_decay)
        if not 0 <= momentum < 1:
            raise ValueError(f"momentum must lie in [0, 1), got {momentum}")
        self.momentum = float(momentum)

    @property
    def hyper(self):
        return dict(super().hyper, momentum=self.momentum)

    def _update(self, name, theta, g):
        v = self._slot("v", name, theta)
        v *= self.momentum
        v += g                                   # v = mu v + g
        theta -= self.lr * v                     # theta = theta - lr v


class RMSProp(Optimizer):
    r""":math:`s \leftarrow \rho s + (1-\rho) g^2,\; \theta \leftarrow \theta - \eta g / (\sqrt s + \epsilon)`."""

    name, slots = "rmsprop", ("s",)

    def __init__(self, lr, rho=0.9, eps=1e-8, weight_decay=0.0):
        super().__init__(lr, weight_decay)
        if not 0 <= rho < 1:
            raise ValueError(f"rho must lie in [0, 1), got {rho}")
        self.rho, self.eps = float(rho), float(eps)

    @property
    def hyper(self):
        return dict(super().hyper, rho=self.rho, eps=self.eps)

    def _update(self, name, theta, g):
        s = self._slot("s", name, theta)
        s *= self.rho
        s += (1 - self.rho) * g * g              # s = rho s + (1 - rho) g^2
        theta -= self.lr * g / (np.sqrt(s) + self.eps)


class Adam(Optimizer):
    r"""Adam (Kingma & Ba 2015) with bias correction; see the module docstring for the equations."""

    name, slots = "adam", ("m", "v")

    def __init__(self, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0):
        super().__init__(lr, weight_decay)
        for arg, beta in (("beta1", beta1), ("beta2", beta2)):
            if not 0 <= beta < 1:
                raise ValueError(f"{arg} must lie in [0, 1), got {beta}")
        self.beta1, self.beta2, self.eps = float(beta1), float(beta2), float(eps)

    @property
    def hyper(self):
        return dict(super().hyper, beta1=self.beta1, beta2=self.beta2, eps=self.eps)

    def _update(self, name, theta, g):
        m, v = self._slot("m", name, theta), self._slot("v", name, theta)
        m *= self.beta1
        m += (1 - self.beta1) * g                # m = b1 m + (1 - b1) g
        v *= self.beta2
        v += (1 - self.beta2) * g * g            # v = b2 v + (1 - b2) g^2
        m_hat = m / (1 - self.beta1 ** self.t)   # bias corrections
        v_hat = v / (1 - self.beta2 ** self.t)
        theta -= self.lr * m_hat / (np.sqrt(v_hat) + self.eps)


OPTIMIZERS = {cls.name: cls for cls in (SGD, Momentum, RMSProp, Adam)}


def make_optimizer(name, **hyper):
    """Build an optimiser by name ("sgd", "momentum", "rmsprop", "adam") and hyperparameters."""
    if name not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {name!r}; choose one of {sorted(OPTIMIZERS)}")
    return OPTIMIZERS[name](**hyper)


__all__ = ["SGD", "Momentum", "RMSProp", "Adam", "OPTIMIZERS", "make_optimizer", "global_norm",
           "clip_by_global_norm", "is_bias"]
