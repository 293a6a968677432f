"""The registry of cell types: each entry carries the whole cell, so a new cell is one module and one entry.

``CELLS[name]`` is the cell's class (what ``SequenceModel(cell=...)``, ``make_layer`` and every
``--cell`` flag build); ``CELLS.entry(name)`` is the whole :class:`CellEntry`: the class, its plain
reference forward and backward (:mod:`numrnn.nn.reference`, the oracle the fast code is tested
against) and :class:`TestHints`, what a test must know about the cell's *function* (not its code):
whether it has a kink, which options to draw, which finite-difference step suits it. The cell
contract in ``tests/test_cells.py`` reads nothing else, so a cell registered with its reference
functions is tested like numrnn's own (``CELLS.register`` / ``CELLS.unregister``).
"""
from dataclasses import dataclass, field, fields
from typing import Callable, Optional

import numpy as np


@dataclass(frozen=True)
class TestHints:
    """What the cell-contract tests must know about a cell's function.

    draw : dict option -> values
        Constructor options the tests draw (the RNN's ``activation``).
    eps : float
        Finite-difference step: 1e-6 for a piecewise-linear cell (no truncation error, and a
        perturbation must not cross a kink), 1e-5 for smooth curved cells (round-off ~1e-16/eps
        against truncation ~eps^2).
    kink : callable (layer) -> bool, optional
        True when the layer's activation has a kink at 0 (ReLU): tests keep ``pre_activations``
        at least a margin from 0. False: smooth, and tests keep them below saturation instead.
    pre_activations : callable (cache) -> ndarray, optional
        Where the activation acts (the RNN's ``cache.a``); None for cells whose gates are smooth
        and not checked for saturation.
    live_bias : float
        Standard deviation of a random bias that keeps units alive (ReLU: no W_k gradient lost
        in round-off); 0 leaves the bias at its initial value.
    bounded : dict
        Options under which the state stays bounded over long sequences (the RNN's tanh; a ReLU
        skip RNN grows with T), for tests that compare float32 with float64 over 50 steps.
    """
    __test__ = False                                  # not a pytest test class

    draw: dict = field(default_factory=dict)
    eps: float = 1e-5
    kink: Optional[Callable] = None
    pre_activations: Optional[Callable] = None
    live_bias: float = 0.0
    bounded: dict = field(default_factory=dict)


@dataclass(frozen=True)
class CellEntry:
    """One cell type: its class, its reference forward/backward and its test hints.

    The reference functions have :mod:`numrnn.nn.reference`'s signatures:
    ``forward(params, x, n_matrices, skip, h0=None, history=None, step0=0, **options, **initial)``
    -> (hs, cache) and ``backward(dhs, cache)`` -> ``(dx, grads, dh, *carried)``, where ``options``
    are the layer attributes named in ``reference_options`` (the RNN's activation), ``initial``
    the other carried tensors' starts by name + "0" (the LSTM's c0), and ``carried`` their
    gradients, dicts keyed by t (the LSTM's dc).
    """
    layer: type
    reference_forward: Callable
    reference_backward: Callable
    reference_options: tuple = ()
    hints: TestHints = TestHints()

    def reference(self, layer, x, dhs, h0=None, state=None, **initial):
        """hs, dx, grads and dinit ("h0", "history" and each carried "<name>0") of the reference
        for ``layer``'s parameters, from h0 (and ``initial``) or a carried ``state``."""
        carried = [f.name for f in fields(layer.state_class) if f.name not in ("history", "step0")]
        if state is None:
            start = dict(h0=h0, **{f"{n}0": initial.get(f"{n}0") for n in carried})
        else:
            start = dict(history=state.history, step0=state.step0,
                         **{f"{n}0": getattr(state, n) for n in carried})
        options = {name: getattr(layer, name) for name in self.reference_options}
        hs, cache = self.reference_forward(layer.params, x, layer.n_matrices, layer.skip, **start, **options)
        dx, grads, dh, *others = self.reference_backward(dhs, cache)
        P = layer.n_history
        dinit = {"h0": dh[-1], "history": np.stack([dh[t] for t in range(-P, 0)])}
        dinit.update({f"{n}0": other[-1] for n, other in zip(carried, others)})
        return hs, dx, grads, dinit


class Registry(dict):
    """name -> cell class (a dict, as before), plus the whole :class:`CellEntry` of each name."""

    def __init__(self):
        super().__init__()
        self._entries = {}

    def register(self, name, entry):
        """Add a cell type under ``name``; refuses a name already taken or an entry of another kind."""
        if not isinstance(entry, CellEntry):
            raise TypeError(f"a cell is registered as a CellEntry (class, reference functions, hints), "
                            f"got {type(entry).__name__}")
        if name in self:
            raise ValueError(f"cell {name!r} is registered already ({self[name].__name__})")
        self[name], self._entries[name] = entry.layer, entry

    def unregister(self, name):
        """Remove a cell type (for tests that register one for a while)."""
        del self[name], self._entries[name]

    def entry(self, name):
        """The whole :class:`CellEntry` of ``name``."""
        if name not in self._entries:
            raise KeyError(f"unknown cell {name!r}; registered: {sorted(self)}")
        return self._entries[name]


__all__ = ["CellEntry", "TestHints", "Registry"]
