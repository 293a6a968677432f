"""numrnn: recurrent networks with hand-written backpropagation through time, in NumPy.

The public API:

- :class:`RNN` — the paper's family: K alternating matrices, skip period S (versions A..D, special).
- :mod:`numrnn.layers`, :mod:`numrnn.losses` — readout, embedding, dropout; MSE, cross-entropy.
- :mod:`numrnn.gradcheck` — finite-difference checks.
- :func:`version` — (n_matrices, skip) of a paper version by name.
"""
from . import gradcheck, layers, losses, schedule
from .rnn import RNN, RNNCache, RNNState
from .schedule import VERSIONS, version

__version__ = "0.1.0"
__all__ = ["RNN", "RNNCache", "RNNState", "VERSIONS", "version", "gradcheck", "layers", "losses",
           "schedule"]
