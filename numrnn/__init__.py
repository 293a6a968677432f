"""numrnn: recurrent networks with hand-written backpropagation through time, in NumPy.

The package, in reading order (dependencies run one way, top to bottom of this list never upward):

- :mod:`numrnn.nn`: the cells and what a forward/backward pair needs. The layer protocol
  (:mod:`~numrnn.nn.protocol`: :class:`Layer`, :class:`StatefulLayer`); :class:`RNN` (K alternating
  matrices, skip period S: versions A..D, special), :class:`LSTM`, :class:`GRU` on
  :class:`RecurrentLayer`; the plain :mod:`~numrnn.nn.reference` BPTT they are tested against;
  layers, losses, :func:`gradcheck_layer`; :data:`CELLS`, the registry of cell types;
  :func:`version` gives (K, S) by name.
- :mod:`numrnn.data`: synthetic tasks (:func:`make_task`), text streams, the Stanford Sentiment Treebank.
- :mod:`numrnn.training`: :class:`SequenceModel`, optimisers (:class:`SGD`, :class:`Momentum`,
  :class:`RMSProp`, :class:`Adam`), :class:`Trainer`, truncated BPTT, atomic checkpoints
  (:func:`save_checkpoint`, :func:`load_checkpoint`).
- :mod:`numrnn.analysis`: gradient norm against lag, Jacobians, path and per-matrix splits,
  what truncation cuts, the figures.
- :mod:`numrnn.course`: the course: templates to fill in, graders (``numrnn check``), notebooks.
- :mod:`numrnn.experiments`: the drivers behind the ``numrnn`` command (reproduce, figures, sst,
  charlm, demo).

Everything a five-line training script needs is importable from here (the README's "Five lines",
which a test runs verbatim).
"""
from .data.tasks import make_task
from .nn import CELLS, gradcheck, layers, losses, reference, schedule
from .nn.base import RecurrentLayer
from .nn.gradcheck import gradcheck_layer
from .nn.gru import GRU, GRUCache
from .nn.lstm import LSTM, LSTMCache, LSTMState
from .nn.protocol import Layer, StatefulLayer
from .nn.rnn import RNN, RNNCache, RNNState
from .nn.schedule import VERSIONS, version
from .training.checkpoint import load_checkpoint, save_checkpoint
from .training.model import SequenceModel, make_layer
from .training.optim import SGD, Adam, Momentum, RMSProp
from .training.trainer import Trainer

__version__ = "0.1.0"
__all__ = ["RNN", "RNNCache", "RNNState", "LSTM", "LSTMCache", "LSTMState", "GRU", "GRUCache",
           "RecurrentLayer", "Layer", "StatefulLayer", "SequenceModel", "make_layer", "Trainer",
           "SGD", "Momentum", "RMSProp", "Adam", "make_task", "save_checkpoint", "load_checkpoint",
           "gradcheck_layer", "VERSIONS", "version", "CELLS", "gradcheck", "layers", "losses",
           "reference", "schedule"]
