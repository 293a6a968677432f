"""numrnn: recurrent networks with hand-written backpropagation through time, in NumPy.

The public API, one module per idea:

- cells: :class:`RNN` (K alternating matrices, skip period S: versions A..D, special),
  :class:`LSTM`, :class:`GRU` with the same schedule; :func:`version` gives (K, S) by name.
- :mod:`numrnn.layers`, :mod:`numrnn.losses` — readout, embedding, dropout; MSE, cross-entropy.
- :mod:`numrnn.gradcheck` — finite-difference checks.
- :mod:`numrnn.model` (:class:`SequenceModel`), :mod:`numrnn.optim`, :mod:`numrnn.train`
  (:class:`Trainer`), :mod:`numrnn.checkpoint`, :mod:`numrnn.tasks` — training.
- :mod:`numrnn.diagnostics`, :mod:`numrnn.diagnostic_plots` — gradient flow against time lag.
- :mod:`numrnn.tbptt`, :mod:`numrnn.charlm` — truncated BPTT and a character language model.
- :mod:`numrnn.data.sst`, :mod:`numrnn.sst` — Stanford Sentiment Treebank.
"""
from . import gradcheck, layers, losses, schedule
from .gru import GRU
from .lstm import LSTM, LSTMCache, LSTMState
from .model import SequenceModel, make_layer
from .rnn import RNN, RNNCache, RNNState
from .schedule import VERSIONS, version
from .train import Trainer

__version__ = "0.1.0"
__all__ = ["RNN", "RNNCache", "RNNState", "LSTM", "LSTMCache", "LSTMState", "GRU",
           "SequenceModel", "make_layer", "Trainer", "VERSIONS", "version",
           "gradcheck", "layers", "losses", "schedule"]
