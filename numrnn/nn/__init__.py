"""The cells and everything a forward/backward pair needs: what a student reads first.

- :mod:`~numrnn.nn.schedule`: which matrix and which skip at step t (versions A-D, special);
- :mod:`~numrnn.nn.activations`, :mod:`~numrnn.nn.init`: relu/tanh/sigmoid, seeded initialisations;
- :mod:`~numrnn.nn.protocol`: the layer protocol, declared once (the minimal part any cell needs,
  the richer part for carried state) and checked at every entry point;
- :mod:`~numrnn.nn.base`: :class:`~numrnn.nn.base.RecurrentLayer`, the base of the three cells
  (constructor checks, ``from_version``, ``config``, the start state, the per-matrix gradient
  sums), and the state and cache types; :mod:`~numrnn.nn.kernels`: the fast kernels they share;
- :mod:`~numrnn.nn.rnn`, :mod:`~numrnn.nn.lstm`, :mod:`~numrnn.nn.gru`: the cells, forward and
  hand-written BPTT (fast, chunked), equations numbered in each module docstring;
- :mod:`~numrnn.nn.reference`: the same cells as the equations read, one step function each and
  one plain reversed loop: the oracle the fast cells are tested against;
- :mod:`~numrnn.nn.layers`, :mod:`~numrnn.nn.losses`: readout, embedding, dropout; MSE, cross-entropy;
- :mod:`~numrnn.nn.gradcheck`: centred finite differences with a relative error defined at 0.

:data:`CELLS` is the one registry of cell types: every command-line ``--cell`` and every
``SequenceModel(cell=...)`` reads it. Adding a cell type is one module and one entry here (the
class, its reference forward/backward, its test hints: :mod:`~numrnn.nn.registry`); the cell
contract of ``tests/test_cells.py`` then tests it with no edit.
"""
from . import reference
from .base import RecurrentLayer
from .gru import GRU
from .lstm import LSTM
from .registry import CellEntry, Registry, TestHints
from .rnn import RNN

#: The registry of cell types, by the name the command line and ``SequenceModel(cell=...)`` use:
#: ``CELLS[name]`` the class, ``CELLS.entry(name)`` the class with its reference and test hints.
CELLS = Registry()
CELLS.register("rnn", CellEntry(RNN, reference.rnn_forward, reference.rnn_backward,
                                ("activation", "skip_scale"),
                                TestHints(draw={"activation": ("relu", "tanh"),
                                                "skip_scale": (1.0, 0.0, 0.5, 0.9, 1.3)}, eps=1e-6,
                                          kink=lambda layer: layer.activation == "relu",
                                          pre_activations=lambda cache: cache.a, live_bias=0.5,
                                          bounded={"activation": "tanh"})))
CELLS.register("lstm", CellEntry(LSTM, reference.lstm_forward, reference.lstm_backward))
CELLS.register("gru", CellEntry(GRU, reference.gru_forward, reference.gru_backward))

__all__ = ["CELLS", "CellEntry", "TestHints", "RecurrentLayer", "RNN", "LSTM", "GRU"]
