"""numrnn: recurrent networks with hand-written backpropagation through time, in NumPy.

The package, in reading order (dependencies run one way, top to bottom of this list never upward):

- :mod:`numrnn.nn`: the cells and what a forward/backward pair needs. :class:`RNN` (K alternating
  matrices, skip period S: versions A..D, special), :class:`LSTM`, :class:`GRU`; the plain
  :mod:`~numrnn.nn.reference` BPTT they are tested against; layers, losses, gradcheck;
  :data:`CELLS`, the registry of cell types; :func:`version` gives (K, S) by name.
- :mod:`numrnn.data`: synthetic tasks, text streams, the Stanford Sentiment Treebank.
- :mod:`numrnn.training`: :class:`SequenceModel`, optimisers, :class:`Trainer`, truncated BPTT,
  atomic checkpoints.
- :mod:`numrnn.analysis`: gradient norm against lag, Jacobians, path and per-matrix splits,
  what truncation cuts, the figures.
- :mod:`numrnn.experiments`: the drivers behind the ``numrnn`` command (reproduce, figures, sst,
  charlm, demo).
"""
from .nn import CELLS, gradcheck, layers, losses, reference, schedule
from .nn.gru import GRU
from .nn.lstm import LSTM, LSTMCache, LSTMState
from .nn.rnn import RNN, RNNCache, RNNState
from .nn.schedule import VERSIONS, version
from .training.model import SequenceModel, make_layer
from .training.trainer import Trainer

__version__ = "0.1.0"
__all__ = ["RNN", "RNNCache", "RNNState", "LSTM", "LSTMCache", "LSTMState", "GRU",
           "SequenceModel", "make_layer", "Trainer", "VERSIONS", "version",
           "CELLS", "gradcheck", "layers", "losses", "reference", "schedule"]
