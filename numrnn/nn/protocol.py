r"""The layer protocol, declared once: what a recurrent cell must offer to be trained and checked.

numrnn never asks what class a layer is; it asks what the layer can do. The two
:class:`typing.Protocol` classes below are the declaration; everything else reads them:
:func:`require_protocol` checks a layer against them at every entry point (one message naming
what is missing), :func:`protocol_table` renders them as the table in the README ("Write your own
cell"), and the course's ``SkipRNN`` is tested against :class:`Layer`.

- :class:`Layer`, the **minimal part**: what the course's finished ``SkipRNN`` and a cell written
  from scratch in plain NumPy (``tests/scratch_cell.py``) have. Enough for ``SequenceModel(layer=)``,
  ``Trainer``, ``gradcheck_layer`` and the input-gradient diagnostics.
- :class:`StatefulLayer`, the **richer part**: a carried state (chunks, truncated BPTT) and the
  gradient on the initial state. numrnn's RNN, LSTM and GRU have it through
  :class:`~numrnn.nn.base.RecurrentLayer`.

``input_size``, ``hidden_size`` and ``dtype`` are optional: when a layer has no such attribute they
are read from its ``params`` (:func:`layer_sizes`): D from ``Wx`` (rows x D), H from ``W1`` (rows x
H) or else from ``b`` (H,), the dtype from the arrays. A layer with a ``config`` property (its
constructor's keyword arguments, JSON-able) can be saved in a checkpoint and rebuilt.

The classes are not ``runtime_checkable``: ``isinstance`` would look at names only, not at the
keywords a method takes; :func:`missing_members` and :func:`require_protocol` check both.

.. math:: (h(0), \dots, h(T-1)) = \text{forward}(x(0), \dots, x(T-1);\ h(-1)), \qquad
          (\delta x, \delta\theta) = \text{backward}(\partial L / \partial h,\ \text{cache})
"""
import inspect
from typing import NamedTuple, Protocol

import numpy as np


class Layer(Protocol):
    """The minimal part: a cell numrnn can train, gradient-check and diagnose."""

    params: dict
    """name -> float ndarray; updated *in place* by the optimiser, so ``forward`` reads it each time."""

    def forward(self, x, h0=None):
        """x (B, T, D), h0 = h(-1) (B, H) or None for zeros -> hs (B, T, H), cache (anything
        backward needs)."""

    def backward(self, dhs, cache):
        """dhs = dL/dh(t) (B, T, H), the direct part -> dx (B, T, D), grads keyed and shaped like
        params: fresh arrays; calling it twice gives the same answer and changes neither cache nor
        params."""


class StatefulLayer(Layer, Protocol):
    """The richer part: carried state across chunks and the gradient on the initial state."""

    def forward(self, x, h0=None, state=None):
        """Start from a carried ``state`` instead of h0; the cache offers ``cache.state`` (after the
        last step) and ``cache.state_at(n)`` (after the first n steps)."""

    def backward(self, dhs, cache, return_dinit=False):
        """With ``return_dinit=True`` also dinit: "h0" (B, H) = dL/dh(-1), "history" (P, B, H) the
        gradient on a carried history (and "c0" for the LSTM)."""


#: The optional attributes and where they are read from when a layer lacks them.
OPTIONAL = {"input_size": "D, else read from params['Wx'] (rows x D)",
            "hidden_size": "H, else read from params['W1'] (rows x H) or params['b'] (H,)",
            "dtype": "float dtype, else read from the params' arrays",
            "config": "constructor kwargs (JSON-able): lets a checkpoint rebuild the layer",
            "check_state(state, batch_size)": "refuse a carried state this layer cannot continue from "
                                              "(StatefulLayer; without it a state is trusted)"}

#: What each numrnn feature needs: (feature, the protocol class or None, a note).
FEATURES = (
    ("`SequenceModel(output_size=O, layer=my_cell)`, `Trainer`", Layer, ""),
    ("`numrnn.gradcheck_layer`", Layer, "params and x; with `return_dinit` it checks h0 too"),
    ("`analysis.gradients.input_grads_by_lag`, `grad_norm_by_lag(..., wrt=\"x\")`, "
     "`LagNormRecorder(..., wrt=\"x\")`, `analysis.truncation.input_grad_norm_by_lag` (no window)", Layer, ""),
    ("`save_checkpoint`, `load_checkpoint`", Layer, "and `config` (else the save is refused by name)"),
    ("`analysis.gradients.hidden_grads_by_lag`, `grad_norm_by_lag` and `LagNormRecorder` "
     "(wrt \"h\", the default)", StatefulLayer, ""),
    ("truncated BPTT (`training.tbptt`, `Trainer(tbptt=...)`), `input_grad_norm_by_lag(..., window=k)`, "
     "`SequenceModel.forward(state=...)`", StatefulLayer, ""),
    ("Jacobians, path split, per-matrix accounting (`analysis.gradients`)", None,
     "numrnn's `RNN` itself (they read its pre-activations)"),
)


def members(protocol):
    """The members a protocol class declares, in order: [(name, signature or None for data)]."""
    out = {}
    for cls in reversed(protocol.__mro__):
        if cls in (Protocol, object) or not getattr(cls, "_is_protocol", False):
            continue
        for name in getattr(cls, "__annotations__", {}):
            out[name] = None
        for name, value in vars(cls).items():
            if inspect.isfunction(value) and not name.startswith("_"):
                out[name] = inspect.signature(value)
    return list(out.items())


def _keywords(signature):
    """The keyword arguments (those with defaults) a protocol method declares."""
    return [p.name for p in signature.parameters.values() if p.default is not p.empty]


def _describe(name, signature):
    if signature is None:
        return name
    params = [p for p in signature.parameters.values() if p.name != "self"]
    return f"{name}({', '.join(str(p) for p in params)})"


def missing_members(layer, protocol):
    """What ``layer`` lacks of ``protocol``: ["forward(x, h0=None)", "params", ...] (empty if none)."""
    missing = []
    for name, signature in members(protocol):
        value = getattr(layer, name, None)
        if signature is None:
            ok = hasattr(layer, name) and (name != "params" or isinstance(value, dict))
            missing += [] if ok else [name + (" (a dict of float arrays)" if name == "params" else "")]
        elif not callable(value) or not all(accepts(value, kw) for kw in _keywords(signature)):
            missing.append(_describe(name, signature))
    return missing


def require_protocol(layer, feature, state=False, dinit=False):
    """Refuse ``layer`` up front if it lacks a part of the protocol ``feature`` needs.

    Parameters
    ----------
    layer : any object
    feature : str
        How the error names what was asked, e.g. "numrnn.gradcheck_layer".
    state : bool
        The feature needs ``forward(x, h0=None, state=None)`` (and a cache with ``state``/``state_at``).
    dinit : bool
        The feature needs ``backward(dhs, cache, return_dinit=True)``.

    Returns
    -------
    LayerSizes (input_size, hidden_size, dtype), read from the layer or its params.

    Raises
    ------
    TypeError naming the feature, the layer's class and every missing method or attribute.
    """
    missing = missing_members(layer, Layer)
    if not missing and (state or dinit):
        wanted = ("forward(" if state else "-", "backward(" if dinit else "-")
        missing = [m for m in missing_members(layer, StatefulLayer) if m.startswith(wanted)]
    sizes = None
    if not missing:
        sizes, missing = _sizes(layer)
    if missing:
        part = "the richer layer protocol" if (state or dinit) else "the layer protocol"
        raise TypeError(f"{feature} needs {part}; {type(layer).__name__} lacks {', '.join(missing)} "
                        f"(see numrnn.nn.protocol or the README, 'Write your own cell')")
    return sizes


class LayerSizes(NamedTuple):
    """(input_size, hidden_size, dtype) of a layer, by attribute or read from its params."""
    input_size: int
    hidden_size: int
    dtype: np.dtype


def layer_sizes(layer):
    """(input_size, hidden_size, dtype) of a layer with the minimal protocol: its attributes, or
    read from ``params`` when it has none (see :data:`OPTIONAL`). Raises TypeError naming what
    can be read from neither."""
    return require_protocol(layer, "numrnn")


def _sizes(layer):
    """LayerSizes and [] or None and the list of what could not be found."""
    params = layer.params
    arrays = [v for v in params.values() if isinstance(v, np.ndarray)]

    def shape_of(key, axis):
        value = params.get(key)
        return value.shape[axis] if isinstance(value, np.ndarray) and value.ndim > axis else None

    D = getattr(layer, "input_size", None) or shape_of("Wx", 1)
    H = getattr(layer, "hidden_size", None) or shape_of("W1", 1) or shape_of("b", 0)
    dtype = getattr(layer, "dtype", None)
    if dtype is None and arrays and all(a.dtype == arrays[0].dtype for a in arrays):
        dtype = arrays[0].dtype
    missing = [f"{name} ({where})" for name, value, where in (
        ("input_size", D, "or params['Wx'] of shape (rows, D)"),
        ("hidden_size", H, "or params['W1'] (rows, H) or params['b'] (H,)"),
        ("dtype", dtype, "or params arrays of one float dtype")) if value is None]
    if missing:
        return None, missing
    return LayerSizes(int(D), int(H), np.dtype(dtype)), []


def require_cache_state(cache, feature, method="state_at"):
    """Refuse a cache without ``state``/``state_at(n)``, naming the feature that needs it."""
    if not hasattr(cache, method):
        what = "state_at(n) (the carried state after n steps)" if method == "state_at" else "state"
        raise TypeError(f"{feature} needs the richer layer protocol: the cache of forward must offer "
                        f"{what}; a {type(cache).__name__} has none (see numrnn.nn.protocol or the "
                        f"README, 'Write your own cell')")


def accepts(function, name):
    """True if ``function`` takes a keyword argument ``name`` (or any keyword, ``**kwargs``)."""
    try:
        parameters = inspect.signature(function).parameters.values()
    except (TypeError, ValueError):                   # a builtin without a signature: assume yes
        return True
    return any(p.name == name or p.kind is p.VAR_KEYWORD for p in parameters)


def layer_repr(layer):
    """``repr(layer)`` if its class defines one, else ``ClassName(input_size=D, hidden_size=H)``."""
    if type(layer).__repr__ is not object.__repr__:
        return repr(layer)
    sizes, _ = _sizes(layer)
    inside = "" if sizes is None else f"input_size={sizes.input_size}, hidden_size={sizes.hidden_size}"
    return f"{type(layer).__name__}({inside})"


def protocol_table():
    """The protocol as a Markdown table (the README's "Write your own cell" shows exactly this)."""
    rows = ["| part | member | what |", "|---|---|---|"]
    for protocol in (Layer, StatefulLayer):
        own = members(protocol) if protocol is Layer else [m for m in members(protocol)
                                                           if m not in members(Layer)]
        for name, signature in own:
            doc = _member_doc(protocol, name)
            rows.append(f"| {protocol.__name__} | `{_describe(name, signature)}` | {doc} |")
    for name, where in OPTIONAL.items():
        rows.append(f"| optional | `{name}` | {where.replace('``', '`')} |")
    rows += ["", "| feature | needs |", "|---|---|"]
    for feature, part, note in FEATURES:
        needs = part.__name__ if part is not None else ""
        rows.append(f"| {feature} | {', '.join(w for w in (needs, note) if w)} |")
    return "\n".join(rows)


def _member_doc(protocol, name):
    """The one-line description of a member: a method's docstring, or a data member's string."""
    value = vars(protocol).get(name)
    if callable(value):
        text = inspect.getdoc(value)
    else:
        text = inspect.getsource(protocol).split(f"    {name}:", 1)[1].split('"""')[1]
    return " ".join(text.split()).replace("``", "`")


__all__ = ["Layer", "StatefulLayer", "OPTIONAL", "FEATURES", "require_protocol", "require_cache_state",
           "accepts", "layer_sizes", "LayerSizes", "layer_repr", "protocol_table", "missing_members"]
