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
``SequenceModel(cell=...)`` reads it. Adding a cell type is one module and one line here.
"""
from .base import RecurrentLayer
from .gru import GRU
from .lstm import LSTM
from .rnn import RNN

#: The registry of cell types, by the name the command line and ``SequenceModel(cell=...)`` use.
CELLS = {"rnn": RNN, "lstm": LSTM, "gru": GRU}

__all__ = ["CELLS", "RecurrentLayer", "RNN", "LSTM", "GRU"]
