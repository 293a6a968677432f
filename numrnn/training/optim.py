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
import inspect

import numpy as np

from .._checks import NonFiniteError, check_int, check_real


def global_norm(grads):
    r""":math:`\sqrt{\sum_k \lVert g_k \rVert^2}` over every array of ``grads`` (a dict), as a float.

    Finite gradients whose sum of squares overflows float64 are rescaled by their largest entry
    first, so the norm is finite whenever it is representable; NaN or inf entries give NaN or inf.
    """
    with np.errstate(over="ignore"):
        total = sum(float(np.sum(np.square(g, dtype=np.float64))) for g in grads.values())
    if np.isfinite(total) or not all(np.all(np.isfinite(g)) for g in grads.values()):
        return float(np.sqrt(total))
    big = max(float(np.max(np.abs(g), initial=0.0)) for g in grads.values())
    scaled = sum(float(np.sum(np.square(np.asarray(g, dtype=np.float64) / big))) for g in grads.values())
    return big * float(np.sqrt(scaled))


def clip_by_global_norm(grads, max_norm):
    """Scale all gradients together so that their global norm is at most ``max_norm``.

    Parameters
    ----------
    grads : dict name -> ndarray, finite
    max_norm : float > 0

    Returns
    -------
    clipped : dict, new arrays (the input is not modified)
    norm : float, the global norm *before* clipping

    Raises
    ------
    NonFiniteError (a ValueError)
        If a gradient holds NaN or inf, naming it: no scale makes such a gradient finite (inf times
        a scale below 1 stays inf, and NaN stays NaN), so clipping cannot rescue the step.
    """
    max_norm = check_real("max_norm", max_norm, low=0, low_open=True)
    _check_arrays("grads", grads)
    for name, g in grads.items():
        if not np.all(np.isfinite(g)):
            raise NonFiniteError(f"gradient {name} contains NaN or inf: clipping cannot scale it")
    norm = global_norm(grads)
    scale = min(1.0, max_norm / norm) if norm > 0 else 1.0
    return {k: g * g.dtype.type(scale) for k, g in grads.items()}, norm


def _check_arrays(name, table):
    if not isinstance(table, dict):
        raise TypeError(f"{name} must be a dict name -> ndarray, got {type(table).__name__}")
    for key, value in table.items():
        if not isinstance(value, np.ndarray) or not np.issubdtype(value.dtype, np.floating):
            raise TypeError(f"{name}[{key!r}] must be a float ndarray, got "
                            f"{getattr(value, 'dtype', type(value).__name__)}")


def is_bias(name):
    """True for parameter names whose last component is "b" ("b", "layer.b", "readout.b")."""
    return name.split(".")[-1] == "b"


#: Parameters weight decay leaves alone: biases, and the learned skip scale alpha
#: (``RNN(learn_skip_scale=True)``), which decay would pull towards 0, i.e. towards no skip at all.
NO_DECAY = ("b", "alpha")


def is_decayed(name):
    """True if weight decay acts on the parameter ``name`` (not a bias, not the skip scale alpha)."""
    return name.split(".")[-1] not in NO_DECAY


class Optimizer:
    r"""Base class: weight decay, the step counter, per-parameter state slots, save/load.

    A step is all or nothing: every new parameter value and state slot is computed first, and
    only if all are finite are they written (in place for the parameters); otherwise
    :class:`~numrnn._checks.NonFiniteError` names the parameter and nothing changes, not even
    the step count.

    Parameters
    ----------
    lr : float > 0
        Learning rate :math:`\eta`.
    weight_decay : float >= 0
        L2 coefficient :math:`\lambda`, added to the gradient of every parameter but the biases and
        the learned skip scale (:func:`is_decayed`).
    """

    name = "base"
    slots = ()          # names of the per-parameter state arrays, e.g. ("m", "v")
    lazy = ()           # parameters updated only on the rows given to step (Adam's option)

    def __init__(self, lr, weight_decay=0.0):
        self.lr = check_real("lr", lr, low=0, low_open=True)
        self.weight_decay = check_real("weight_decay", weight_decay, low=0)
        self.t = 0
        self.state = {slot: {} for slot in self.slots}

    @property
    def hyper(self):
        """The hyperparameters, JSON-able (enough to rebuild with :func:`make_optimizer`)."""
        return dict(lr=self.lr, weight_decay=self.weight_decay)

    def step(self, params, grads, rows=None):
        """Update every array of ``params`` in place from ``grads`` (same keys and shapes).

        Parameters
        ----------
        params, grads : dict name -> ndarray
        rows : dict name -> int ndarray (R,), optional
            For the optimiser's ``lazy`` parameters only, and required for them: the distinct rows
            to update; their gradient is then given for those rows only, shape (R, ...).

        Raises
        ------
        NonFiniteError
            If a gradient, or a new value of a parameter or state slot, holds NaN or inf (nothing
            is changed).
        """
        _check_arrays("params", params)
        _check_arrays("grads", grads)
        if set(grads) != set(params):
            raise ValueError(f"grads keys {sorted(grads)} differ from params keys {sorted(params)}")
        if rows is not None and not isinstance(rows, dict):
            raise TypeError(f"rows must be a dict name -> int array, got {type(rows).__name__}")
        rows = {} if rows is None else dict(rows)
        for name in rows:
            if name not in self.lazy:
                raise ValueError(f"rows given for {name!r}, which is not a lazy parameter of this "
                                 f"{type(self).__name__} (lazy: {list(self.lazy)})")
        t, pending = self.t + 1, {}
        for name, theta in params.items():
            g, where = grads[name], None
            if name in self.lazy:
                where = self._rows(name, theta, rows.get(name))
                expected = (len(where),) + theta.shape[1:]
            else:
                expected = theta.shape
            if g.shape != expected:
                raise ValueError(f"gradient of {name} has shape {g.shape}; expected {expected}")
            if not np.all(np.isfinite(g)):
                raise NonFiniteError(f"gradient of {name} contains NaN or inf")
            current = theta if where is None else theta[where]
            if self.weight_decay and is_decayed(name):
                g = g + self.weight_decay * current
            slots = {s: self._slot(s, name, theta) for s in self.slots}
            if where is not None:
                slots = {s: v[where] for s, v in slots.items()}
            new, new_slots = self._update(current, g.astype(theta.dtype, copy=False), slots, t)
            if not (np.all(np.isfinite(new)) and all(np.all(np.isfinite(v)) for v in new_slots.values())):
                raise NonFiniteError(f"the update of {name} overflowed to NaN or inf")
            pending[name] = (where, new, new_slots)
        self.t = t                                            # every value is finite: commit
        for name, (where, new, new_slots) in pending.items():
            if where is None:
                params[name][...] = new
                for s, v in new_slots.items():
                    self.state[s][name] = v
            else:
                params[name][where] = new
                for s, v in new_slots.items():
                    self.state[s].setdefault(name, np.zeros_like(params[name]))[where] = v

    @staticmethod
    def _rows(name, theta, where):
        if where is None:
            raise ValueError(f"{name} is updated lazily: step needs rows={{{name!r}: the rows to update}}")
        where = np.asarray(where)
        if where.ndim != 1 or not np.issubdtype(where.dtype, np.integer):
            raise ValueError(f"rows of {name} must be a 1-d integer array, got {where.dtype} {where.shape}")
        if where.size and (where.min() < 0 or where.max() >= len(theta)):
            raise ValueError(f"rows of {name} must lie in 0..{len(theta) - 1}")
        if len(np.unique(where)) != len(where):
            raise ValueError(f"rows of {name} must be distinct")
        return where

    def _slot(self, slot, name, theta):
        """The state array ``slot`` of parameter ``name``; zeros (not yet stored) before its first step."""
        table = self.state[slot]
        if name not in table:
            return np.zeros_like(theta)
        if table[name].shape != theta.shape:
            raise ValueError(f"{type(self).__name__} state {slot}[{name!r}] has shape {table[name].shape}, "
                             f"but parameter {name} has shape {theta.shape}: the optimiser state was "
                             f"loaded from another model")
        return table[name]

    def _update(self, theta, g, slots, t):
        """(new theta, {slot: new value}) from the current values; never writes in place."""
        raise NotImplementedError

    def state_dict(self):
        """{"name", "hyper", "t", "slots": {slot: {param: array}}}, copies."""
        return {"name": self.name, "hyper": self.hyper, "t": self.t,
                "slots": {s: {k: v.copy() for k, v in table.items()} for s, table in self.state.items()}}

    def load_state_dict(self, state):
        """Restore from :meth:`state_dict` of an optimiser of the same kind and hyperparameters."""
        if not isinstance(state, dict) or not {"name", "t", "slots"} <= set(state):
            raise ValueError("optimiser state must be a dict with 'name', 't' and 'slots' (from state_dict)")
        if state.get("name") != self.name:
            raise ValueError(f"optimiser state is for {state.get('name')!r}, not {self.name!r}")
        if not isinstance(state["slots"], dict) or set(state["slots"]) != set(self.slots):
            raise ValueError(f"optimiser state has slots {sorted(state['slots'])}; expected {sorted(self.slots)}")
        self.t = check_int("optimiser state t", state["t"], 0)
        for slot, table in state["slots"].items():
            if not isinstance(table, dict):
                raise ValueError(f"optimiser state slot {slot!r} must be a dict name -> array, got "
                                 f"{type(table).__name__}")
        self.state = {s: {k: np.array(v) for k, v in table.items()} for s, table in state["slots"].items()}

    def __repr__(self):
        args = ", ".join(f"{k}={v}" for k, v in self.hyper.items())
        return f"{type(self).__name__}({args})"


class SGD(Optimizer):
    r""":math:`\theta \leftarrow \theta - \eta g`."""

    name = "sgd"

    def _update(self, theta, g, slots, t):
        return theta - self.lr * g, {}


class Momentum(Optimizer):
    r""":math:`v \leftarrow \mu v + g,\; \theta \leftarrow \theta - \eta v` (heavy ball; ``momentum`` = μ)."""

    name, slots = "momentum", ("v",)

    def __init__(self, lr, momentum=0.9, weight_decay=0.0):
        super().__init__(lr, weight_decay)
        self.momentum = check_real("momentum", momentum, low=0, high=1, high_open=True)

    @property
    def hyper(self):
        return dict(super().hyper, momentum=self.momentum)

    def _update(self, theta, g, slots, t):
        v = slots["v"] * self.momentum + g                # v = mu v + g
        return theta - self.lr * v, {"v": v}              # theta = theta - lr v


class RMSProp(Optimizer):
    r""":math:`s \leftarrow \rho s + (1-\rho) g^2,\; \theta \leftarrow \theta - \eta g / (\sqrt s + \epsilon)`."""

    name, slots = "rmsprop", ("s",)

    def __init__(self, lr, rho=0.9, eps=1e-8, weight_decay=0.0):
        super().__init__(lr, weight_decay)
        self.rho = check_real("rho", rho, low=0, high=1, high_open=True)
        self.eps = check_real("eps", eps, low=0, low_open=True)

    @property
    def hyper(self):
        return dict(super().hyper, rho=self.rho, eps=self.eps)

    def _update(self, theta, g, slots, t):
        s = slots["s"] * self.rho + (1 - self.rho) * g * g      # s = rho s + (1 - rho) g^2
        return theta - self.lr * g / (np.sqrt(s) + self.eps), {"s": s}


class Adam(Optimizer):
    r"""Adam (Kingma & Ba 2015) with bias correction; see the module docstring for the equations.

    ``lazy`` names parameters updated only on the rows a batch touched (the rows are given to
    :meth:`~Optimizer.step`; the rule of PyTorch's SparseAdam / TensorFlow's LazyAdam): for every
    given row r the dense equations on :math:`\theta_r, m_r, v_r` with the common step count t;
    other rows, and their moments, do not move (no decay either). For an embedding of V ~ 10^4
    rows of which a batch uses a few hundred, a dense step would cost most of the training time.
    """

    name, slots = "adam", ("m", "v")

    def __init__(self, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0, lazy=()):
        super().__init__(lr, weight_decay)
        self.beta1 = check_real("beta1", beta1, low=0, high=1, high_open=True)
        self.beta2 = check_real("beta2", beta2, low=0, high=1, high_open=True)
        self.eps = check_real("eps", eps, low=0, low_open=True)
        if isinstance(lazy, str) or not all(isinstance(n, str) for n in lazy):
            raise TypeError(f"lazy must be a list of parameter names, got {lazy!r}")
        self.lazy = tuple(lazy)

    @property
    def hyper(self):
        hyper = dict(super().hyper, beta1=self.beta1, beta2=self.beta2, eps=self.eps)
        if self.lazy:
            hyper["lazy"] = list(self.lazy)
        return hyper

    def _update(self, theta, g, slots, t):
        m = slots["m"] * self.beta1 + (1 - self.beta1) * g        # m = b1 m + (1 - b1) g
        v = slots["v"] * self.beta2 + (1 - self.beta2) * g * g    # v = b2 v + (1 - b2) g^2
        m_hat = m / (1 - self.beta1 ** t)                         # bias corrections
        v_hat = v / (1 - self.beta2 ** t)
        return theta - self.lr * m_hat / (np.sqrt(v_hat) + self.eps), {"m": m, "v": v}


OPTIMIZERS = {cls.name: cls for cls in (SGD, Momentum, RMSProp, Adam)}


def make_optimizer(name, **hyper):
    """Build an optimiser by name ("sgd", "momentum", "rmsprop", "adam") and hyperparameters."""
    if not isinstance(name, str) or name not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {name!r}; choose one of {sorted(OPTIMIZERS)}")
    cls = OPTIMIZERS[name]
    known = [p for p in inspect.signature(cls.__init__).parameters if p != "self"]
    for key in hyper:
        if key not in known:
            raise TypeError(f"{key!r} is not a hyperparameter of the {name} optimizer; it takes {known}")
    return cls(**hyper)


__all__ = ["SGD", "Momentum", "RMSProp", "Adam", "OPTIMIZERS", "make_optimizer", "global_norm",
           "clip_by_global_norm", "is_bias", "is_decayed", "NO_DECAY"]
