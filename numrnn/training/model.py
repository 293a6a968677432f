r"""A whole sequence model: optional embedding, a recurrent layer, dropout, a linear readout, a loss.

Forward (train mode), for inputs x of shape (B, T, D) or tokens of shape (B, T):

.. math::

    x(t) &= E[\text{token}(t)] \odot m_E \quad \text{(only with an embedding; } m_E \text{ a dropout mask)} \\
    h(0..T-1) &= \text{layer}(x(0..T-1)) \\
    r &= h(T_i - 1) \;\text{("last")} \quad\text{or}\quad \tfrac{1}{T_i}\textstyle\sum_{t<T_i} h(t)
         \;\text{("mean")} \quad\text{or}\quad h(t) \;\text{for every t ("all")} \\
    \hat y &= (r \odot m_R)\, W^\top + b, \qquad L = \text{mse}(\hat y, y) \;\text{or}\; \text{ce}(\hat y, y)

With ``bidirectional=True`` a second layer of the same kind (its own parameters, "layer_rev.*")
reads each sequence's real steps in reverse order (:func:`numrnn.nn.layers.reverse_padded`: the
padding stays at the end), and the readout sees both poolings side by side,
:math:`r = [\,\text{pool}(h) ;\ \text{pool}(h^{\leftarrow})\,]` of size 2H: for "last" the forward
layer's state at the last word and the reverse layer's after reading back to the first word.

Backward runs the same chain in reverse order, each piece by its own backward function:

.. math::

    \delta \hat y = \partial L/\partial \hat y, \quad
    \delta r = (\delta \hat y\, W) \odot m_R, \quad
    \delta h = \text{scatter}(\delta r), \quad
    \delta x = \text{layer.backward}(\delta h), \quad
    \delta E = \textstyle\sum_{b,t:\ \text{token}=v} \delta x(b, t) \odot m_E

The loss returns its exact gradient and never clips: clipping is the trainer's job
(:func:`numrnn.training.optim.clip_by_global_norm`), so gradient checks of this model stay meaningful.

Parameters live in the layer, the readout and the embedding; :attr:`SequenceModel.params` is a flat
dict of the *same* arrays ("layer.W1", "layer.Wx", "layer.b", "readout.W", "readout.b", "embed.E"),
so an optimiser that updates them in place trains the model.
"""
import importlib
import inspect

import numpy as np

from ..nn import CELLS
from ..nn import init as initialisers
from ..nn import layers
from .._checks import NonFiniteError, check_array, check_choice, check_dtype, check_int, check_real, check_seed
from ..nn.protocol import layer_repr, require_protocol
from ..nn.losses import mse_loss, softmax_cross_entropy
from ..nn.schedule import version as version_of

READOUTS = ("last", "mean", "all")
LOSSES = ("mse", "ce")
#: Arguments every cell class of :data:`numrnn.nn.CELLS` takes; the others are its own options.
COMMON_LAYER_ARGS = ("self", "input_size", "hidden_size", "n_matrices", "skip", "seed", "dtype")


def layer_options(cell):
    """The options particular to a cell type, with their defaults, read from its class.

    e.g. ``layer_options("rnn") == {"activation": "relu", "init": "normal", "scale": 1.0}``; the
    command line offers these flags for the cells that take them, never by a list of cell names.
    """
    check_choice("cell", cell, CELLS)
    signature = inspect.signature(CELLS[cell].__init__)
    return {name: p.default for name, p in signature.parameters.items()
            if name not in COMMON_LAYER_ARGS and p.kind is p.POSITIONAL_OR_KEYWORD}


def make_layer(cell="rnn", version=None, *, input_size, hidden_size, n_matrices=None, skip=None,
               seed=None, dtype=np.float64, **layer_kwargs):
    """Build a recurrent layer by cell name (a key of :data:`numrnn.nn.CELLS`) and paper version.

    Parameters
    ----------
    cell : str, a name of :data:`numrnn.nn.CELLS` ("rnn", "lstm", "gru", or one registered)
        :class:`numrnn.nn.rnn.RNN`, :class:`numrnn.nn.lstm.LSTM` or :class:`numrnn.nn.gru.GRU`: the
        registry :data:`numrnn.nn.CELLS`.
    version : {"A", "B", "C", "D", "special"}, optional
        Sets (n_matrices, skip) from the paper; give either ``version`` or ``n_matrices``/``skip``.
    input_size, hidden_size : int
        D and H.
    n_matrices, skip : int, optional
        K >= 1 and S >= 0; default 1 and 0 when no version is given.
    seed : int or numpy.random.Generator, optional
    dtype : float32 or float64
    **layer_kwargs
        Passed to the layer, e.g. ``activation``, ``init``, ``scale`` for the RNN.

    Returns
    -------
    an instance of ``CELLS[cell]`` (RNN, LSTM, GRU, or a registered cell)
    """
    check_choice("cell", cell, CELLS)
    if version is not None:
        if n_matrices is not None or skip is not None:
            raise ValueError("give either version or n_matrices/skip, not both")
        n_matrices, skip = version_of(version)
    n_matrices = 1 if n_matrices is None else n_matrices
    skip = 0 if skip is None else skip
    options = layer_options(cell)
    for name in layer_kwargs:
        if name not in options:
            raise TypeError(f"{name!r} is not an option of the {cell} cell; it takes {sorted(options) or 'none'}")
    return CELLS[cell](input_size, hidden_size, n_matrices=n_matrices, skip=skip, seed=seed, dtype=dtype,
                 **layer_kwargs)


class SequenceModel:
    """Embedding (optional) -> recurrent layer -> dropout -> linear readout -> loss.

    Parameters
    ----------
    input_size : int
        D, the size of each x(t); with ``vocab_size`` it is the embedding dimension. May be left
        out (None) with ``layer``, which then says it.
    hidden_size : int
        H (None with ``layer``: the layer's).
    output_size : int
        O: regression outputs for "mse", classes for "ce".
    cell : str, default "rnn", a name of :data:`numrnn.nn.CELLS` ("rnn", "lstm", "gru", ...)
        A key of the registry :data:`numrnn.nn.CELLS`.
    version : str, optional
        Paper version "A".."D" or "special"; or give ``n_matrices`` and ``skip``.
    n_matrices, skip : int, optional
    readout : {"last", "mean", "all"}, default "last"
        "last": predict from h at each sequence's last real step, pred of shape (B, O).
        "mean": predict from the mean of h over each sequence's real steps (padding excluded), (B, O).
        "all": predict at every step, pred of shape (B, T, O).
    loss : {"mse", "ce"}, default "mse"
        Mean squared error on float targets, or softmax cross-entropy on integer labels.
    vocab_size : int, optional
        V; when given, inputs are integer tokens (B, T) looked up in an embedding E of shape (V, D),
        initialised N(0, 1/D).
    bidirectional : bool, default False
        Add a second layer of the same cell and version reading each sequence backwards (real steps
        reversed, padding left at the end); the readout sees both layers' pooled states (2H). For
        the "last" and "mean" readouts only, and not with a carried ``state`` or your own ``layer``.
    dropout : float in [0, 1), default 0
        Inverted dropout on the embeddings and on the readout input, in training mode only.
    readout_init : {"normal", "zeros"}, default "normal"
        Readout W drawn N(0, 1/H), or zeros (then the first prediction is b = 0 whatever the
        hidden state, and the first loss is the baseline's).
    seed : int or numpy.random.Generator, optional
        Seeds every initialisation and the dropout masks: same seed, same bits.
    dtype : float32 or float64, default float64
    layer : object, optional
        Your own recurrent layer instead of ``cell``/``version``: any object with the minimal layer
        protocol (:class:`numrnn.nn.protocol.Layer`: ``params``, ``forward(x, h0=None) -> (hs, cache)``,
        ``backward(dhs, cache) -> (dx, grads)``; sizes and dtype read from ``params`` if the layer
        has no ``input_size``, ``hidden_size``, ``dtype``). It is
        trained like numrnn's cells; features that need the richer part (a carried ``state``:
        chunks, truncated BPTT) say what the layer lacks. Its :attr:`config` names the layer's class and
        its ``config`` if it has one (checkpoints then rebuild it), else it is refused by name.
    **layer_kwargs
        Passed to the recurrent layer: the options of its class (:func:`layer_options`), e.g.
        ``activation``, ``init``, ``scale`` for the RNN, ``forget_bias`` for the LSTM.

    Attributes
    ----------
    layer : the registry's cell (RNN, LSTM, GRU, ...) or the given layer
    layer_reverse : the second layer of a bidirectional model, or None
    readout : dict "W" (O, H) (or (O, 2H) bidirectional), "b" (O,); W drawn N(0, 1/H) (or zeros), b zeros.
    embedding : dict "E" (V, D), or None.
    dropout_rng : numpy.random.Generator for the dropout masks.
    """

    def __init__(self, input_size=None, hidden_size=None, output_size=None, cell="rnn", version=None,
                 n_matrices=None, skip=None, readout="last", loss="mse", vocab_size=None,
                 dropout=0.0, readout_init="normal", seed=None, dtype=np.float64, layer=None,
                 bidirectional=False, **layer_kwargs):
        if output_size is None:
            raise TypeError("output_size is required (O: regression outputs or classes)")
        self.output_size = check_int("output_size", output_size, 1)
        self.readout_mode = check_choice("readout", readout, READOUTS)
        self.loss_name = check_choice("loss", loss, LOSSES)
        self.vocab_size = None if vocab_size is None else check_int("vocab_size", vocab_size, 1)
        self.dropout = check_real("dropout", dropout, low=0, high=1, high_open=True)
        if not isinstance(bidirectional, (bool, np.bool_)):
            raise TypeError(f"bidirectional must be True or False, got {type(bidirectional).__name__}")
        self.bidirectional = bool(bidirectional)
        if self.bidirectional and self.readout_mode == "all":
            raise ValueError('bidirectional needs readout="last" or "mean": with readout="all" the '
                             'prediction at step t would see the words after t')
        if self.bidirectional and layer is not None:
            raise TypeError("bidirectional builds a second layer from numrnn's cell settings; it cannot "
                            "copy your own layer= (build the model with cell=/version= instead)")
        rng = initialisers.as_generator(check_seed("seed", seed))
        if layer is None:
            if input_size is None or hidden_size is None:
                raise TypeError("input_size and hidden_size are required (or give your own layer=)")
            self.dtype = check_dtype("dtype", dtype)
            self.cell, self.version = check_choice("cell", cell, CELLS), version
            self.layer = make_layer(cell, version, input_size=input_size, hidden_size=hidden_size,
                                    n_matrices=n_matrices, skip=skip, seed=rng, dtype=self.dtype,
                                    **layer_kwargs)
        else:
            self.layer = self._own_layer(layer, input_size, hidden_size, cell, version, n_matrices,
                                         skip, layer_kwargs)
            self.cell, self.version = None, None
            input_size, hidden_size, dtype = require_protocol(layer, "SequenceModel(layer=...)")
            self.dtype = check_dtype("layer.dtype", dtype)
        self.input_size, self.hidden_size, _ = require_protocol(self.layer, "SequenceModel")
        H, O = self.hidden_size * (2 if self.bidirectional else 1), self.output_size
        self.readout_init = check_choice("readout_init", readout_init, ("normal", "zeros"))
        W = initialisers.normal(rng, (O, H))           # drawn either way: the same seed, same layer
        self.readout = {"W": (W if readout_init == "normal" else np.zeros_like(W)).astype(self.dtype),
                        "b": np.zeros(O, dtype=self.dtype)}
        self.embedding = None
        if self.vocab_size is not None:
            self.embedding = {"E": initialisers.normal(rng, (self.vocab_size, input_size)).astype(self.dtype)}
        self.dropout_rng = np.random.default_rng(rng.integers(2**63))
        self.layer_reverse = None                      # drawn last: a one-way model's bits unchanged
        if self.bidirectional:
            self.layer_reverse = make_layer(cell, version, input_size=input_size, hidden_size=hidden_size,
                                            n_matrices=n_matrices, skip=skip, seed=rng, dtype=self.dtype,
                                            **layer_kwargs)
        self._layer_kwargs = dict(layer_kwargs)

    @staticmethod
    def _own_layer(layer, input_size, hidden_size, cell, version, n_matrices, skip, layer_kwargs):
        """Check a user's layer: the minimal protocol, and no settings that only numrnn's cells take."""
        sizes = require_protocol(layer, "SequenceModel(layer=...)")
        given = [name for name, value in (("version", version), ("n_matrices", n_matrices),
                                          ("skip", skip)) if value is not None]
        given += [f"cell={cell!r}"] if cell != "rnn" else []
        given += sorted(layer_kwargs)
        if given:
            raise TypeError(f"give either layer= or numrnn's cell settings, not both: {', '.join(given)} "
                            f"would be ignored with layer=")
        for name, value in (("input_size", input_size), ("hidden_size", hidden_size)):
            if value is not None and value != getattr(sizes, name):
                raise ValueError(f"{name}={value} differs from the layer's {name} {getattr(sizes, name)}")
        return layer

    # ------------------------------------------------------------ parameters
    @property
    def params(self):
        """Flat dict name -> array, the same array objects the model computes with."""
        flat = {f"layer.{k}": v for k, v in self.layer.params.items()}
        if self.layer_reverse is not None:
            flat.update({f"layer_rev.{k}": v for k, v in self.layer_reverse.params.items()})
        flat.update({f"readout.{k}": v for k, v in self.readout.items()})
        if self.embedding is not None:
            flat["embed.E"] = self.embedding["E"]
        return flat

    def set_params(self, values):
        """Copy ``values`` (name -> array, every name of :attr:`params`) into the model, in place.

        Every value is checked (names, shapes, real and finite: a NaN or inf is refused naming the
        parameter) before any is copied, so a refused call leaves the model as it was.
        """
        if not isinstance(values, dict):
            raise TypeError(f"set_params takes a dict name -> array, got {type(values).__name__}")
        own = self.params
        if set(values) != set(own):
            raise ValueError(f"parameter names differ: expected {sorted(own)}, got {sorted(values)}")
        checked = {}
        for name, target in own.items():
            value = np.asarray(values[name])
            if value.shape != target.shape:
                raise ValueError(f"parameter {name} has shape {value.shape}; expected {target.shape}")
            if not (np.issubdtype(value.dtype, np.floating) or np.issubdtype(value.dtype, np.integer)):
                raise TypeError(f"parameter {name} must hold real numbers, got dtype {value.dtype}")
            if not np.all(np.isfinite(value)):
                raise NonFiniteError(f"parameter {name} contains NaN or inf ({int(np.sum(~np.isfinite(value)))} "
                                     f"of {value.size} entries); set_params takes finite values only")
            checked[name] = value
        for name, target in own.items():
            target[...] = checked[name]

    def n_params(self):
        """Total number of scalar parameters."""
        return int(sum(v.size for v in self.params.values()))

    @property
    def config(self):
        """JSON-able constructor arguments (without seed), enough to rebuild the model."""
        if self.cell is None:
            return dict(layer=own_layer_config(self.layer), output_size=self.output_size,
                        readout=self.readout_mode, loss=self.loss_name, vocab_size=self.vocab_size,
                        dropout=self.dropout, readout_init=self.readout_init, dtype=self.dtype.name)
        layer = dict(self.layer.config)
        config = dict(input_size=layer.pop("input_size"), hidden_size=layer.pop("hidden_size"),
                      output_size=self.output_size, cell=self.cell,
                      n_matrices=layer.pop("n_matrices"), skip=layer.pop("skip"),
                      readout=self.readout_mode, loss=self.loss_name, vocab_size=self.vocab_size,
                      dropout=self.dropout, readout_init=self.readout_init, dtype=self.dtype.name)
        layer.pop("dtype", None)
        if self.bidirectional:
            config["bidirectional"] = True       # only when set: one-way configs stay as they were
        config.update(layer)  # activation, init, scale, ... of the layer
        return config

    @classmethod
    def from_config(cls, config, seed=None):
        """Rebuild a model (fresh parameters) from :attr:`config`; a layer of your own is rebuilt by
        importing its class (:func:`build_own_layer`)."""
        config = dict(config)
        if isinstance(config.get("layer"), dict):
            config["layer"] = build_own_layer(config["layer"])
            config.pop("dtype", None)
        return cls(**config, seed=seed)

    def __repr__(self):
        return (f"SequenceModel({layer_repr(self.layer)}, readout={self.readout_mode!r}, loss={self.loss_name!r}, "
                f"{'bidirectional=True, ' if self.bidirectional else ''}"
                f"output_size={self.output_size}, vocab_size={self.vocab_size})")

    # ---------------------------------------------------------------- forward
    def forward(self, x, lengths=None, state=None, train=True):
        """Predictions and the cache the backward needs.

        Parameters
        ----------
        x : ndarray, shape (B, T, D) floats, or (B, T) integer tokens with an embedding
        lengths : int ndarray, shape (B,), optional
            Real lengths of right-padded sequences ("last" and "mean" readouts).
        state : carried layer state (``info["state"]`` of the previous chunk), optional
        train : bool
            Dropout only in training mode.

        Returns
        -------
        pred : ndarray, shape (B, O) for "last", (B, T, O) for "all"
        cache : dict
        """
        if state is not None and self.layer_reverse is not None:
            raise ValueError("a bidirectional model reads whole sequences: it cannot carry a state")
        p = self.dropout if train else 0.0
        cache = {}
        if self.embedding is not None:
            x, cache["embed"] = layers.embedding_forward(x, self.embedding["E"])
            x, cache["embed_drop"] = layers.dropout_forward(x, p, self.dropout_rng)
        hs, cache["layer"] = self._layer_forward(x, state)
        if self.readout_mode == "all":
            if lengths is not None:
                raise ValueError('lengths apply to readout="last" or "mean"; use mask with readout="all"')
            r = hs
        else:
            pool = layers.last_step_forward if self.readout_mode == "last" else layers.mean_pool_forward
            r, cache["pool"] = pool(hs, lengths)
        if self.layer_reverse is not None:
            hs_rev, cache["layer_rev"] = self.layer_reverse.forward(layers.reverse_padded(x, lengths))
            r_rev, cache["pool_rev"] = pool(hs_rev, lengths)
            r, cache["lengths"] = np.concatenate([r, r_rev], axis=-1), lengths
        r, cache["read_drop"] = layers.dropout_forward(r, p, self.dropout_rng)
        pred, cache["readout"] = layers.linear_forward(r, self.readout["W"], self.readout["b"])
        return pred, cache

    def _layer_forward(self, x, state):
        if state is None:
            return self.layer.forward(x)
        require_protocol(self.layer, "a carried state (SequenceModel.forward(state=...))", state=True)
        return self.layer.forward(x, state=state)

    def backward(self, dpred, cache):
        """Gradients of every parameter, fresh arrays keyed as :attr:`params`.

        Parameters
        ----------
        dpred : ndarray, shape of pred
        cache : dict from :meth:`forward`

        Returns
        -------
        grads : dict
            Every layer (and embedding) gradient all nan if dhs overflowed to nan/inf: the layer's
            backward is not asked to run on it.
        dhs : ndarray, shape (B, T, H), the loss's direct gradient on the (forward) layer's outputs
        """
        dr, g_read = layers.linear_backward(dpred, cache["readout"])
        dr = layers.dropout_backward(dr, cache["read_drop"])
        pool_backward = {"last": layers.last_step_backward, "mean": layers.mean_pool_backward,
                         "all": lambda d, _: d}[self.readout_mode]
        if self.layer_reverse is not None:
            dr, dr_rev = np.split(dr, 2, axis=-1)
            dhs_rev = pool_backward(dr_rev, cache["pool_rev"])
        dhs = pool_backward(dr, cache.get("pool"))
        if not np.all(np.isfinite(dhs)) or (self.layer_reverse is not None and not np.all(np.isfinite(dhs_rev))):
            grads = {k: np.full_like(v, np.nan) for k, v in self.params.items()}  # overflowed before
            grads.update({f"readout.{k}": v for k, v in g_read.items()})         # the layer: say so
            return grads, dhs
        dx, g_layer = self.layer.backward(dhs, cache["layer"])
        grads = {f"layer.{k}": v for k, v in g_layer.items()}
        if self.layer_reverse is not None:
            dx_rev, g_rev = self.layer_reverse.backward(dhs_rev, cache["layer_rev"])
            dx = dx + layers.reverse_padded(dx_rev, cache["lengths"])
            grads.update({f"layer_rev.{k}": v for k, v in g_rev.items()})
        grads.update({f"readout.{k}": v for k, v in g_read.items()})
        if self.embedding is not None:
            dx = layers.dropout_backward(dx, cache["embed_drop"])
            grads["embed.E"] = layers.embedding_backward(dx, cache["embed"])["E"]
        return grads, dhs

    # ------------------------------------------------------------------ loss
    def loss(self, pred, y, mask=None):
        """(loss, dpred) of "mse" (float targets, shape of pred) or "ce" (int labels, pred.shape[:-1])."""
        if self.loss_name == "ce":
            return softmax_cross_entropy(pred, y, mask)
        try:
            y = np.asarray(y, dtype=self.dtype)
        except (TypeError, ValueError):
            raise TypeError(f"y must be real numbers for loss='mse', got {np.asarray(y).dtype}") from None
        y = check_array("y", y, pred.ndim, pred.shape)
        if mask is None:
            return mse_loss(pred, y)
        return _masked_mse(pred, y, mask)

    def loss_and_grads(self, x, y, lengths=None, mask=None, state=None, train=True):
        """One forward and backward pass.

        Parameters
        ----------
        x : ndarray, shape (B, T, D), or (B, T) tokens
        y : ndarray
            "mse": floats of the shape of pred, (B, O) or (B, T, O).
            "ce": int labels, (B,) for "last" or (B, T) for "all".
        lengths : int ndarray (B,), optional ("last" and "mean" readouts)
        mask : ndarray (B, T) of 0/1, optional ("all" readout only): positions with 0 do not count.
        state : carried state from ``info["state"]`` of the previous chunk, optional.
            The gradient stops at the chunk boundary (truncated BPTT): the incoming state is treated
            as a constant.
        train : bool, default True

        Returns
        -------
        loss : float
            Exact, never clipped. May be nan/inf: the trainer decides what a divergence means.
        grads : dict name -> ndarray, fresh arrays keyed as :attr:`params`
            All nan when the loss is not finite (the gradient is then undefined).
        info : dict
            "pred" the predictions, "state" the layer state to carry into the next chunk,
            "dhs" (B, T, H) the loss's direct gradient on the hidden states (None if the loss is
            not finite).
        """
        if mask is not None and self.readout_mode != "all":
            raise ValueError(f'mask applies to readout="all"; use lengths with readout="{self.readout_mode}"')
        pred, cache = self.forward(x, lengths=lengths, state=state, train=train)
        loss, dpred = self.loss(pred, y, mask)
        state = getattr(cache["layer"], "state", None)    # None for a layer without carried state
        if not np.isfinite(loss):             # the gradient is undefined: say so with nan, no crash
            grads = {k: np.full_like(v, np.nan) for k, v in self.params.items()}
            return loss, grads, {"pred": pred, "state": state, "dhs": None}
        grads, dhs = self.backward(dpred, cache)
        return loss, grads, {"pred": pred, "state": state, "dhs": dhs}

    def predict(self, x, lengths=None, state=None):
        """Predictions in evaluation mode (no dropout): (B, O) or (B, T, O); logits for "ce"."""
        return self.forward(x, lengths=lengths, state=state, train=False)[0]

    def evaluate(self, x, y, lengths=None, mask=None, batch_size=1000):
        """Mean loss over a data set in evaluation mode, computed in batches.

        Each batch's mean is weighted by how many sequences (or, with a mask, positions) it holds,
        so the result equals the loss of the whole set at once. The data are checked first
        (:func:`check_data`), each error naming its argument.
        """
        x, y, lengths, mask = check_data(self, x, y, lengths, mask)
        batch_size = check_int("batch_size", batch_size, 1)
        total, count = 0.0, 0.0
        for start in range(0, len(x), batch_size):
            sl = slice(start, start + batch_size)
            if mask is not None and not np.any(mask[sl]):
                continue                               # no position counts in this batch
            pred = self.predict(x[sl], None if lengths is None else lengths[sl])
            loss, _ = self.loss(pred, y[sl], None if mask is None else mask[sl])
            n = len(pred) if mask is None else float(np.sum(mask[sl]))
            total, count = total + loss * n, count + n
        return total / count


# --------------------------------------------------------------------------- checks
def own_layer_config(layer):
    """How a checkpoint names a layer of your own: {"class": "module.QualName", "config": layer.config}.

    Raises TypeError naming the layer if it has no ``config`` (a dict of its constructor's keyword
    arguments) or its class cannot be imported by name (defined in ``__main__`` or inside a function).
    """
    cls = type(layer)
    name = f"{cls.__module__}.{cls.__qualname__}"
    config = getattr(layer, "config", None)
    if not isinstance(config, dict):
        raise TypeError(f"a model with your own layer {name} can be saved only if the layer has a "
                        f"`config` property: a dict of its constructor's keyword arguments, so that "
                        f"{cls.__name__}(**config) rebuilds it; {cls.__name__} has none (or save "
                        f"model.params yourself)")
    if cls.__module__ == "__main__" or "<locals>" in cls.__qualname__:
        raise TypeError(f"a model with your own layer {name} cannot be saved: the class must live in "
                        f"a module that loading can import (not in __main__ or inside a function)")
    return {"class": name, "config": dict(config)}


def build_own_layer(spec):
    """The layer :func:`own_layer_config` described: import its module, check the class, build it.

    Loading imports the module named in the checkpoint (as ``import`` would): load checkpoints you
    trust. The named object must be a class with ``forward`` and ``backward`` before it is built.
    """
    name, config = spec.get("class"), spec.get("config")
    if not isinstance(name, str) or "." not in name or not isinstance(config, dict):
        raise ValueError(f"a layer of your own is saved as {{'class': 'module.Class', 'config': {{...}}}}, "
                         f"got {spec!r}")
    module_name, _, qualname = name.rpartition(".")
    while module_name:
        try:
            module = importlib.import_module(module_name)
            break
        except ImportError as err:
            if "." not in module_name:
                raise ImportError(f"cannot import the layer class {name}: {err} (is its module on the "
                                  f"Python path?)") from None
            module_name, _, outer = module_name.rpartition(".")
            qualname = f"{outer}.{qualname}"
    cls = module
    for part in qualname.split("."):
        cls = getattr(cls, part, None)
    if not inspect.isclass(cls) or not (callable(getattr(cls, "forward", None))
                                        and callable(getattr(cls, "backward", None))):
        raise TypeError(f"{name} is not a layer class (a class with forward and backward)")
    layer = cls(**config)
    require_protocol(layer, f"the layer {name} rebuilt from its config")
    return layer


def check_data(model, x, y, lengths=None, mask=None, names=("x", "y", "lengths", "mask")):
    """Check a data set against ``model`` before any step; return it as arrays.

    Each error names the argument by ``names`` (e.g. ``x_test``, ``test_lengths`` for the test set).
    """
    nx, ny, nl, nm = names
    if y is None:
        raise ValueError(f"{ny} is None: give the targets of {nx}")
    x, y = _as_array(nx, x), _as_array(ny, y)
    if x.ndim == 0 or len(x) == 0:
        raise ValueError(f"{nx} holds no sequences")
    if y.ndim == 0 or len(y) != len(x):
        raise ValueError(f"{nx} holds {len(x)} sequences but {ny} holds {len(y) if y.ndim else 0}")
    vocab = getattr(model, "vocab_size", None)
    if vocab is not None:
        if x.ndim != 2 or not np.issubdtype(x.dtype, np.integer):
            raise TypeError(f"{nx} must be integer tokens of shape (N, T) for a model with an embedding, "
                            f"got {x.dtype} of shape {x.shape}")
        if x.min() < 0 or x.max() >= vocab:
            raise ValueError(f"{nx} holds tokens outside 0..{vocab - 1}")
    else:
        D = model.input_size
        if x.ndim != 3 or x.shape[2] != D:
            raise ValueError(f"{nx} must have shape (N, T, {D}), got {x.shape}")
        _real(nx, x)
        if not np.issubdtype(x.dtype, np.floating):
            x = x.astype(model.dtype)
    N, T = x.shape[:2]
    if T == 0:
        raise ValueError(f"{nx} has sequences of length 0")
    lead = (N, T) if model.readout_mode == "all" else (N,)
    if model.loss_name == "ce":
        if not np.issubdtype(y.dtype, np.integer):
            raise TypeError(f"{ny} must hold integer labels for loss='ce', got {y.dtype}")
        if y.shape != lead:
            raise ValueError(f"{ny} has shape {y.shape}; expected {lead}")
        if y.min() < 0 or y.max() >= model.output_size:
            raise ValueError(f"{ny} holds labels outside 0..{model.output_size - 1}")
    else:
        expected = lead + (model.output_size,)
        _real(ny, y)
        if y.shape != expected:
            raise ValueError(f"{ny} has shape {y.shape}; expected {expected}")
    if lengths is not None:
        if model.readout_mode == "all":
            raise ValueError(f'{nl} apply to readout="last" or "mean"; use mask with readout="all"')
        lengths = _as_array(nl, lengths)
        if lengths.shape != (N,) or not np.issubdtype(lengths.dtype, np.integer):
            raise ValueError(f"{nl} has shape {lengths.shape} ({lengths.dtype}); expected ({N},) integers")
        if lengths.min() < 1 or lengths.max() > T:
            raise ValueError(f"{nl} must lie in 1..{T}, got {lengths.min()}..{lengths.max()}")
    if mask is not None:
        if model.readout_mode != "all":
            raise ValueError(f'{nm} applies to readout="all"; use lengths with readout="{model.readout_mode}"')
        mask = _as_array(nm, mask)
        if mask.shape != (N, T):
            raise ValueError(f"{nm} has shape {mask.shape}; expected ({N}, {T})")
        _real(nm, mask)
        if mask.min() < 0:
            raise ValueError(f"{nm} must be >= 0, got {mask.min()}")
        if not mask.any():
            raise ValueError(f"{nm} selects no position")
    return x, y, lengths, mask


def _as_array(name, value):
    if isinstance(value, np.ndarray):
        return value
    try:
        return np.asarray(value)
    except (ValueError, TypeError) as err:
        raise TypeError(f"{name} must be an array or array-like of one shape: {err}") from None


def _real(name, array):
    if not (np.issubdtype(array.dtype, np.floating) or np.issubdtype(array.dtype, np.integer)):
        raise TypeError(f"{name} must be real numbers, got {array.dtype}")
    if np.issubdtype(array.dtype, np.floating) and not np.all(np.isfinite(array)):
        raise ValueError(f"{name} contains NaN or inf")


def _masked_mse(pred, y, mask):
    r"""MSE over the positions with mask 1: :math:`\sum m (\hat y - y)^2 / (O \sum m)`."""
    m = np.asarray(mask, dtype=pred.dtype)
    if m.shape != pred.shape[:-1]:
        raise ValueError(f"mask has shape {m.shape}; expected {pred.shape[:-1]}")
    if not np.all(np.isfinite(m)) or np.any(m < 0):
        raise ValueError("mask must hold finite weights >= 0")
    count = m.sum() * pred.shape[-1]
    if count == 0:
        raise ValueError("mask selects no position")
    diff = (pred - y) * m[..., None]
    return float(np.sum(diff * diff) / count), (2.0 / count) * diff


__all__ = ["make_layer", "layer_options", "SequenceModel", "check_data", "own_layer_config", "build_own_layer",
           "CELLS", "READOUTS", "LOSSES"]
